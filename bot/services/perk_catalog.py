"""The perks catalog's plain rules: one-time codes, the input a perk must satisfy, the catalog file
(CSV) parser, the domain errors of redemption and checking, and the views the service returns.

One-time codes: 10 characters from a 32-character alphabet without 0/O/1/I (read aloud, typed, or
scanned as a QR), drawn with :mod:`secrets`: 50 bits, so guessing one of even a thousand live codes
takes about 10^12 tries. Only the code's SHA-256 is stored: a copy of the database (a backup, a
support dump) does not hand out live codes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from bot.models import Community
from storage.perks import Perk

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 10
CODE_BITS = CODE_LENGTH * math.log2(len(CODE_ALPHABET))  # 50.0
CATALOG_MAX_ROWS = 1000
PERK_FIELDS = (
    "category",
    "merchant",
    "merchant_name",
    "title",
    "description",
    "address",
    "cost",
    "valid_until",
    "stock",
    "per_person_limit",
)


# --- codes ------------------------------------------------------------------------------------------
def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def format_code(code: str) -> str:
    """'ABCDE-FGHJK': two groups of five, easy to read aloud."""
    return f"{code[:5]}-{code[5:]}"


def normalize_code(text: str) -> str | None:
    """What a merchant typed (any case, spaces or dashes) -> the code; None if it cannot be one."""
    code = re.sub(r"[\s\-]", "", text).upper()
    if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
        return None
    return code


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


# --- errors -----------------------------------------------------------------------------------------
class PerkUnavailable(Conflict):
    key = "error.perk_unavailable"  # retired, or past its validity


class StatusPerk(Conflict):
    key = "error.perk_status_only"  # cost 0: the ID card is all it takes


class LimitReached(Conflict):
    key = "error.perk_limit"


class NotEnoughPoints(Conflict):
    key = "error.not_enough_points"


class OutOfStock(Conflict):
    key = "error.out_of_stock"


class CodeUnknown(NotFound):
    key = "error.code_unknown"


class CodeUsed(Conflict):
    key = "error.code_used"


class CodeExpired(Conflict):
    key = "error.code_expired"


class CodeOtherMerchant(PermissionDenied):
    key = "error.code_other_merchant"


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    problem: str  # 'required' | 'not_a_number' | 'out_of_range' | 'bad_date' | 'too_long' | 'unknown_column'
    #               | 'merchant_unknown' | 'perk_unknown' | 'invalid'


class CatalogRejected(InvalidInput):
    """The import was refused as a whole; ``errors`` says what is wrong on which line."""

    key = "error.catalog_rejected"

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(count=len(errors), lines=", ".join(sorted({str(e.line) for e in errors}, key=int)))
        self.errors = errors


# --- input ------------------------------------------------------------------------------------------
class PerkInput(BaseModel):
    """A perk as staff type it (a command or a catalog row); text in, checked values out."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    category: str = Field(min_length=1, max_length=40)
    merchant: str = Field(min_length=1, max_length=80)  # Telegram user id, @username, or a merchant's name
    merchant_name: str | None = Field(None, max_length=80)
    title: str = Field(min_length=1, max_length=80)
    description: str = Field("", max_length=500)
    address: str = Field("", max_length=200)
    cost: int = Field(ge=0, le=1_000_000)
    valid_until: date | None = None  # the last day it is valid
    stock: int | None = Field(None, ge=0, le=1_000_000)  # empty: unlimited
    per_person_limit: int | None = Field(None, ge=1, le=1000)  # empty: no limit

    @field_validator("merchant_name", "valid_until", "stock", "per_person_limit", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


_PROBLEMS = {
    "missing": "required",
    "string_too_short": "required",
    "string_too_long": "too_long",
    "int_parsing": "not_a_number",
    "int_from_float": "not_a_number",
    "int_type": "not_a_number",
    "greater_than_equal": "out_of_range",
    "less_than_equal": "out_of_range",
    "date_from_datetime_parsing": "bad_date",
    "date_parsing": "bad_date",
    "date_from_datetime_inexact": "bad_date",
    "date_type": "bad_date",
    "extra_forbidden": "unknown_column",
}


def row_errors(line: int, exc: ValidationError) -> list[RowError]:
    return [
        RowError(line, str(err["loc"][0]) if err["loc"] else "?", _PROBLEMS.get(err["type"], "invalid"))
        for err in exc.errors()
    ]


def parse_catalog_csv(text: str) -> list[dict[str, str]]:
    """A catalog file (UTF-8 CSV with a header row; columns as in :data:`PERK_FIELDS`, plus ``id`` to
    change an existing perk) -> rows for :meth:`PerksService.import_catalog`. Blank lines are skipped;
    a line with more values than the header has gets an ``extra`` column (reported as an error)."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header: list[str] | None = None
    rows: list[dict[str, str]] = []
    for values in reader:
        if not any(v.strip() for v in values):
            if header is not None:
                rows.append({})  # keeps line numbers right; reported as an empty row
            continue
        if header is None:
            header = [h.strip().lower() for h in values]
            continue
        row = {name: value for name, value in zip(header, values, strict=False)}
        if len(values) > len(header):
            row["extra"] = ",".join(values[len(header) :])
        rows.append(row)
    while rows and not rows[-1]:
        rows.pop()
    return rows


# --- views ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PerkView:
    perk: Perk
    last_day: date | None  # the last day it is valid (community time), None: no end
    status_only: bool  # cost 0: shown with the ID card, nothing to redeem
    on_offer: bool  # not retired, still valid, stock left
    mine: int  # redemptions by the viewer that count towards the per-person limit


@dataclass(frozen=True)
class RedemptionReceipt:
    redemption_id: int
    code: str  # 'ABCDE-FGHJK': shown once, never stored
    perk: PerkView
    cost: int
    balance: int  # after the redemption
    expires_at: datetime


@dataclass(frozen=True)
class CodeCheck:
    """What the merchant hands over."""

    redemption_id: int
    perk_id: int
    title: str
    description: str
    holder: str
    holder_id: int
    cost: int
    redeemed_at: datetime


@dataclass(frozen=True)
class ImportReport:
    added: list[int]
    changed: list[int]


def end_of_day(day: date | None, community: Community) -> datetime | None:
    """The last valid day -> the first moment after it (midnight, community time)."""
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZoneInfo(community.timezone))


def last_day_of(moment: datetime | None, community: Community) -> date | None:
    if moment is None:
        return None
    return (moment - timedelta(seconds=1)).astimezone(ZoneInfo(community.timezone)).date()


def as_input(perk: Perk, community: Community) -> dict[str, Any]:
    last = last_day_of(perk.valid_until, community)
    return {
        "category": perk.category,
        "merchant": str(perk.merchant_user_id),
        "title": perk.title,
        "description": perk.description,
        "address": perk.address,
        "cost": str(perk.cost),
        "valid_until": last.isoformat() if last else "",
        "stock": "" if perk.stock is None else str(perk.stock),
        "per_person_limit": "" if perk.per_person_limit is None else str(perk.per_person_limit),
    }
