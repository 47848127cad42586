"""The domain exception tree.

Every rule violation a user can cause is a :class:`DomainError`; each carries a translation key and
parameters. ``handlers.errors`` maps them to a polite message in the user's language in one place.
Anything that is *not* a DomainError is a bug: it is logged with the update and the user is told
that something went wrong and that what they sent is kept.

    DomainError
    ├── NotFound             (unknown appeal, building, unit, invite, user)
    ├── PermissionDenied     (wrong role for this building / community)
    ├── WrongChat            (command used in the wrong kind of chat)
    ├── InvalidInput         (bad arguments)
    ├── Conflict             (state does not allow it: stale button, already registered, ...)
    ├── RateLimited          (anti-spam)
    └── NotConfigured        (chat not registered yet, no units, ...)
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    key: str = "error.generic"

    def __init__(self, key: str | None = None, **params: Any) -> None:
        self.key = key or type(self).key
        self.params = params
        super().__init__(self.key)


class NotFound(DomainError):
    key = "error.not_found"


class PermissionDenied(DomainError):
    key = "error.permission"


class WrongChat(DomainError):
    key = "error.wrong_chat"


class InvalidInput(DomainError):
    key = "error.invalid"


class Conflict(DomainError):
    key = "error.conflict"


class RateLimited(DomainError):
    key = "error.rate_limited"


class NotConfigured(DomainError):
    key = "error.not_configured"
