"""The unit head's electronic ID card: a signed token for a community where the person heads a unit
or a building, and the check of a scanned card. The token is signed with a random key of this
installation (created on first use, kept in ``secrets``); a check is genuine (the signature) and
current (the holder's posts *now*, from the live registry). The image is drawn by :mod:`bot.cards`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.errors import InvalidInput, NotFound, PermissionDenied
from bot.models import Community, UserInfo
from bot.services.base import ServiceBase
from bot.services.point_rules import PointsSettings
from storage.db import Tx
from storage.ledger import HeadRole, RolesRepo, SecretsRepo
from storage.registry import RegistryRepo


@dataclass(frozen=True)
class Card:
    """An ID card: what the image shows, and whether it is valid *now* (live registry)."""

    token: str  # signed; [A-Za-z0-9_-], CARD_TOKEN_LENGTH characters
    user_id: int
    holder: str
    community_id: int
    community: str
    roles: tuple[HeadRole, ...]  # current posts in that community
    issued: date
    valid_until: date  # last day it shows as valid
    valid: bool
    why_not: str | None = None  # 'no_role' | 'expired' | 'inactive' when not valid
    timezone: str = "UTC"  # the community's, for the dates shown
    checked_at: datetime | None = None  # when a scanned card was verified (the check answer says it)

    @property
    def number(self) -> str:
        """The card number printed on the card and repeated by the check ('4821 0937'): derived from
        the signed token, so the checker can compare the two and nothing needs storing."""
        return card_number(self.token)


def card_number(token: str) -> str:
    """Eight digits in two groups, the same for the same card (holder, community, issue day)."""
    value = int.from_bytes(hashlib.sha256(b"unitbot-card-number:" + token.encode("ascii")).digest()[:8], "big")
    digits = f"{value % 10**8:08d}"
    return f"{digits[:4]} {digits[4:]}"


# --- ID card tokens ---------------------------------------------------------------------------------
# version (1) | user id (8, signed) | community id (4) | issue day since 2020-01-01 (2) | HMAC-SHA256[:15]
# = 30 bytes = 40 base64url characters: fits a Telegram deep link (<= 64 of [A-Za-z0-9_-]) with a prefix.
_CARD = struct.Struct(">BqIH")
_CARD_VERSION = 1
_CARD_MAC = 15
_CARD_EPOCH = date(2020, 1, 1)
CARD_TOKEN_LENGTH = 40
_CARD_KEY_NAME = "card_hmac_v1"


def encode_card(key: bytes, user_id: int, community_id: int, issued: date) -> str:
    body = _CARD.pack(_CARD_VERSION, user_id, community_id, (issued - _CARD_EPOCH).days)
    mac = hmac.new(key, b"unitbot-card:" + body, hashlib.sha256).digest()[:_CARD_MAC]
    return base64.urlsafe_b64encode(body + mac).decode("ascii")


def decode_card(key: bytes, token: str) -> tuple[int, int, date] | None:
    """(user id, community id, issue day) of a genuine token; None for anything else."""
    if len(token) != CARD_TOKEN_LENGTH:
        return None
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return None
    if len(raw) != _CARD.size + _CARD_MAC or base64.urlsafe_b64encode(raw).decode("ascii") != token:
        return None
    body, mac = raw[: _CARD.size], raw[_CARD.size :]
    expected = hmac.new(key, b"unitbot-card:" + body, hashlib.sha256).digest()[:_CARD_MAC]
    if not hmac.compare_digest(mac, expected):
        return None
    version, user_id, community_id, day = _CARD.unpack(body)
    if version != _CARD_VERSION:
        return None
    return user_id, community_id, _CARD_EPOCH + timedelta(days=day)


class CardInvalid(InvalidInput):
    """Not a card this installation issued (forged, altered or garbled)."""

    key = "error.card_invalid"


# --- the service ------------------------------------------------------------------------------------
class CardService(ServiceBase):
    _card_key: bytes | None = None

    async def card_token(self, user: UserInfo, community_id: int | None = None) -> Card:
        """Issue the person's ID card (today, in the community's time zone) for a community where they
        head a unit or a building; the first such community (by id) when none is given."""
        key = await self._key()
        async with self.db.read() as tx:
            roles_repo = RolesRepo(tx)
            if community_id is None:
                mine = await roles_repo.head_communities(user.id)
                if not mine:
                    raise PermissionDenied("error.heads_only")
                community_id = mine[0]
            community = await self._community(tx, community_id)
            roles = await roles_repo.head_roles(user.id, community.id)
            if not roles:
                raise PermissionDenied("error.heads_only")
            known = await RegistryRepo(tx).get_user(user.id)
        rules = PointsSettings.from_settings(community.settings)
        issued = self.local_now(community).date()
        return Card(
            token=encode_card(key, user.id, community.id, issued),
            user_id=user.id,
            holder=(known or user).display,
            community_id=community.id,
            community=community.name,
            roles=tuple(roles),
            issued=issued,
            valid_until=issued + timedelta(days=rules.card_days - 1),
            valid=community.active,
            why_not=None if community.active else "inactive",
            timezone=community.timezone,
        )

    async def verify_card(self, token: str) -> Card:
        """Check a scanned card: genuine (signature) and current (the holder's posts *now*, from the
        live registry). Raises :class:`CardInvalid` for anything this installation did not issue."""
        decoded = decode_card(await self._key(), token.strip())
        if decoded is None:
            raise CardInvalid()
        user_id, community_id, issued = decoded
        async with self.db.read() as tx:
            community = await RegistryRepo(tx).get_community(community_id)
            if community is None:
                raise CardInvalid()
            roles = await RolesRepo(tx).head_roles(user_id, community.id)
            known = await RegistryRepo(tx).get_user(user_id)
        rules = PointsSettings.from_settings(community.settings)
        valid_until = issued + timedelta(days=rules.card_days - 1)
        why_not = None
        if not community.active:
            why_not = "inactive"
        elif not roles:
            why_not = "no_role"
        elif self.local_now(community).date() > valid_until:
            why_not = "expired"
        checked_at = self.clock.now()
        return Card(
            token=token.strip(),
            user_id=user_id,
            holder=known.display if known else str(user_id),
            community_id=community.id,
            community=community.name,
            roles=tuple(roles),
            issued=issued,
            valid_until=valid_until,
            valid=why_not is None,
            why_not=why_not,
            timezone=community.timezone,
            checked_at=checked_at,
        )

    async def _key(self) -> bytes:
        """The installation's card-signing key: random, created on first use, kept in ``secrets``."""
        if self._card_key is None:
            async with self.db.read() as tx:
                stored = await SecretsRepo(tx).get(_CARD_KEY_NAME)
            if stored is None:
                async with self.db.write() as tx:
                    stored = await SecretsRepo(tx).get_or_create(
                        _CARD_KEY_NAME, secrets.token_hex(32), self.clock.now()
                    )
            self._card_key = bytes.fromhex(stored)
        return self._card_key

    async def _community(self, tx: Tx, community_id: int) -> Community:
        community = await RegistryRepo(tx).get_community(community_id)
        if community is None:
            raise NotFound("error.community_unknown")
        return community
