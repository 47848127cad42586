"""Short codes that people read aloud, type or copy: invite and street codes (and the residents'
building codes). A leaf module (standard library only) shared by every workstream that hands out or
reads such a code.

* The alphabet has no look-alikes: no 0/O, 1/I/L, and no U (Crockford's choice), 30 symbols; 8 of
  them give about 39 bits, plenty for one-time codes that expire.
* A code is shown grouped by 4 (``K7MP-X3QH``) on a line of its own.
* Reading is forgiving: any case, full-width letters and digits (NFKC), spaces, hyphens and
  full-width punctuation around or inside (``。，、：``), or the whole message the code was copied
  from ("Building invite code: K7MP-X3QH Add the bot ...").
"""

from __future__ import annotations

import re
import secrets
import unicodedata

__all__ = ["ALPHABET", "CODE_LENGTH", "canonical", "find_codes", "new_code", "show"]

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8  # invite and street codes
_SYMBOL = "[" + ALPHABET + "]"
# what people put between the groups of a code when they type or copy it
_JOINERS = r"[\s\-‐‑‒–—_.·・]{0,3}"
_NOT_ALNUM = r"[^0-9A-Z]"


def new_code(length: int = CODE_LENGTH) -> str:
    """A random code in canonical form (``length`` symbols, no separators)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def show(code: str, group: int = 4) -> str:
    """A canonical code as people read it: ``K7MPX3QH`` -> ``K7MP-X3QH``."""
    return "-".join(code[i : i + group] for i in range(0, len(code), group))


def _fold(text: str) -> str:
    """Full-width and compatibility forms to plain ASCII where they have one, upper case."""
    return unicodedata.normalize("NFKC", text).upper()


def canonical(text: str) -> str | None:
    """``text`` as a canonical code if, apart from separators and punctuation, it is nothing but a
    code's symbols (``" k7mp x3qh。"`` -> ``K7MPX3QH``); None otherwise."""
    folded = re.sub(_NOT_ALNUM, "", _fold(text))
    if folded and all(ch in ALPHABET for ch in folded):
        return folded
    return None


def find_codes(text: str, length: int = CODE_LENGTH, group: int = 4) -> list[str]:
    """Every code of ``length`` symbols that ``text`` may carry, canonical, most likely first: the
    whole text as one code, then codes standing on their own among other words (grouped by
    ``group`` or not), as when a whole message is copied. Callers try them in order."""
    found: list[str] = []
    whole = canonical(text)
    if whole is not None and len(whole) == length:
        found.append(whole)
    folded = _fold(text)
    groups = [_SYMBOL + "{" + str(group) + "}"] * (length // group)
    if length % group:
        groups.append(_SYMBOL + "{" + str(length % group) + "}")
    grouped = _JOINERS.join(f"({g})" for g in groups)
    for pattern in (grouped, f"({_SYMBOL}{{{length}}})"):
        for match in re.finditer(f"(?<![0-9A-Z]){pattern}(?![0-9A-Z])", folded):
            code = "".join(match.groups())
            if code not in found:
                found.append(code)
    return found
