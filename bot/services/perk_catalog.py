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
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from bot.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from bot.models import Community
from storage.perks import Perk, PerkCategory

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 10
CODE_BITS = CODE_LENGTH * math.log2(len(CODE_ALPHABET))  # 50.0
CATALOG_MAX_ROWS = 1000
T = TypeVar("T")
ID_MAX_DIGITS = 18  # any id the database can hold (below 2^63), in plain ASCII digits
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


_TYPED_CODE = re.compile(r"\s*[A-Za-z0-9]{5}[\s\-]?[A-Za-z0-9]{5}\s*")


def looks_like_code(text: str) -> bool:
    """The whole text is one code as a merchant types it ('K7MPX-3QHZT', 'k7mpx 3qhzt', 'K7MPX3QHZT');
    ordinary words ('thanks guys') are not."""
    return _TYPED_CODE.fullmatch(text) is not None and normalize_code(text) is not None


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


# --- ids and times ----------------------------------------------------------------------------------
def parse_id(text: str) -> int | None:
    """A perk or category id as typed or sent back by a button ('12', '#12'); None for anything else
    (other digits such as '²' or '١٢', signs, or more digits than any id has)."""
    match = re.fullmatch(rf"#?([0-9]{{1,{ID_MAX_DIGITS}}})", text.strip())
    return int(match.group(1)) if match else None


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


class ButtonUsed(Conflict):
    key = "error.redeem_button_used"  # a second press of the same "Yes": the code was sent above


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    problem: str  # a key of PROBLEM_KEYS


# a catalog problem -> its text
PROBLEM_KEYS = {
    "required": "perks.problem.required",
    "not_a_number": "perks.problem.not_a_number",
    "out_of_range": "perks.problem.out_of_range",
    "bad_date": "perks.problem.bad_date",
    "in_the_past": "perks.problem.in_the_past",
    "too_long": "perks.problem.too_long",
    "control_chars": "perks.problem.control_chars",
    "unknown_column": "perks.problem.unknown_column",
    "duplicate_column": "perks.problem.duplicate_column",
    "duplicate_row": "perks.problem.duplicate_row",
    "merchant_unknown": "perks.problem.merchant_unknown",
    "perk_unknown": "perks.problem.perk_unknown",
    "invalid": "perks.problem.invalid",
}


def problem_key(problem: str) -> str:
    return PROBLEM_KEYS.get(problem, PROBLEM_KEYS["invalid"])


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

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        """NUL and other control characters (a broken export, a pasted binary) are refused; line
        breaks and tabs are kept where a text may have them."""
        if isinstance(value, str):
            value = value.replace("\r\n", "\n")
            if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in value):
                raise PydanticCustomError("control_chars", "control characters")
        return value


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
    "control_chars": "control_chars",
}


def value_error(exc: ValidationError) -> InvalidInput:
    """A perk's field refused: its name and the problem in the reader's language."""
    problem = row_errors(0, exc)[0]
    return InvalidInput("error.perk_value", field=problem.field, problem_key=problem_key(problem.problem))


def in_the_past(columns: Mapping[str, Any], existing: Perk | None, now: datetime) -> bool:
    """A new end date that has already passed (an unchanged one of an expired perk is left alone)."""
    until = columns["valid_until"]
    return until is not None and until <= now and (existing is None or existing.valid_until != until)


def past_error() -> InvalidInput:
    return InvalidInput("error.perk_value", field="valid_until", problem_key=problem_key("in_the_past"))


def row_errors(line: int, exc: ValidationError) -> list[RowError]:
    return [
        RowError(line, str(err["loc"][0]) if err["loc"] else "?", _PROBLEMS.get(err["type"], "invalid"))
        for err in exc.errors()
    ]


@dataclass(frozen=True)
class CatalogFile:
    """A catalog file read: its rows, the file line each row starts on, and what is wrong with the
    file itself (a repeated column, a line the CSV reader cannot read)."""

    rows: list[dict[str, str]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    problems: list[RowError] = field(default_factory=list)


def _delimiter(text: str) -> str:
    """',' — or ';' / tab when the header line uses those (Excel's CSV in Russian and other locales)."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > counts[","] else ","


def read_catalog_csv(text: str) -> CatalogFile:
    """A catalog file (UTF-8 CSV with a header row; columns as in :data:`PERK_FIELDS`, plus ``id`` to
    change an existing perk; separated by ``,``, ``;`` or tabs) -> rows for
    :meth:`PerkAdminService.import_file`. Blank lines are skipped; a line with more values than the header
    has gets an ``extra`` column (reported as an error)."""
    text = text.lstrip("\ufeff")
    out = CatalogFile()
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text))
    header: list[str] | None = None
    line = 1  # the line the next record starts on
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # a cell over the reader's limit (128 KiB), a broken quote...
            problem = "too_long" if "larger than field limit" in str(exc) else "invalid"
            out.problems.append(RowError(line, "?", problem))
            break
        start, line = line, reader.line_num + 1
        if not any(v.strip() for v in values):
            continue
        if header is None:
            header = [h.strip().lower() for h in values]
            for name in sorted({h for h in header if h and header.count(h) > 1}):
                out.problems.append(RowError(start, name, "duplicate_column"))
            continue
        row = {name: value for name, value in zip(header, values, strict=False)}
        if len(values) > len(header):
            row["extra"] = ",".join(values[len(header) :])
        out.rows.append(row)
        out.lines.append(start)
    return out


def parse_catalog_csv(text: str) -> list[dict[str, str]]:
    """The rows of a catalog file (see :func:`read_catalog_csv`); a file that cannot be read as a
    whole is refused with :class:`CatalogRejected`."""
    parsed = read_catalog_csv(text)
    if parsed.problems:
        raise CatalogRejected(parsed.problems)
    return parsed.rows


# --- views ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PerkView:
    perk: Perk
    last_day: date | None  # the last day it is valid (community time), None: no end
    status_only: bool  # cost 0: shown with the ID card, nothing to redeem
    on_offer: bool  # not retired, still valid, stock left
    mine: int  # redemptions by the viewer that count towards the per-person limit


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: ``page`` counts from 0, ``pages`` is at least 1."""

    items: list[T]
    page: int
    pages: int


def page_of(items: list[T], page: int, per_page: int) -> Page[T]:
    pages = max(1, math.ceil(len(items) / per_page))
    page = min(max(page, 0), pages - 1)
    return Page(items[page * per_page : (page + 1) * per_page], page, pages)


@dataclass(frozen=True)
class CategoryPage:
    category: PerkCategory
    perks: Page[PerkView]


@dataclass(frozen=True)
class RedemptionReceipt:
    redemption_id: int
    code: str  # 'ABCDE-FGHJK': shown once, never stored
    perk: PerkView
    cost: int
    balance: int  # after the redemption
    expires_at: datetime
    timezone: str  # the perk's community's: times are shown in it


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
    timezone: str  # the perk's community's


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
