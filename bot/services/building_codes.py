"""The short building code printed on the poster in each entrance ("K7M-4QX").

Six characters from an alphabet without look-alikes (no 0/O, 1/I/L, 5/S, 2/Z, 8/B), shown as two
groups of three. People type it in any case, with or without the dash, with spaces, or copied with
the full-width punctuation around it (。，、：), and it still matches.
"""

from __future__ import annotations

import secrets
import unicodedata

ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"
LENGTH = 6


def new_code() -> str:
    """A fresh code (stored without the dash)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def shown(code: str) -> str:
    """How a code is printed: ``K7M-4QX``."""
    return f"{code[:3]}-{code[3:]}" if len(code) == LENGTH else code


def normalize(typed: str) -> str | None:
    """What a person typed -> the stored code, or None if it cannot be one. Full-width letters and
    digits become ASCII (NFKC); spaces, dashes and punctuation of any script are dropped; case is
    ignored. Letters that are never used but look like used ones are read as those (O -> 0 is not
    used, so it stays a miss rather than a wrong building)."""
    text = unicodedata.normalize("NFKC", typed).upper()
    kept = "".join(ch for ch in text if ch.isalnum())
    if len(kept) != LENGTH or not kept.isascii():
        return None
    if any(ch not in ALPHABET for ch in kept):
        return None
    return kept


def looks_like_building_code(typed: str) -> bool:
    """A code attempt, mistyped or not (to tell it from a few words of description): one short
    token of Latin letters and digits, with a digit in it or exactly as long as a code."""
    text = unicodedata.normalize("NFKC", typed)
    kept = "".join(ch for ch in text if ch.isalnum())
    if not (4 <= len(kept) <= 9 and kept.isascii() and len(text.split()) <= 3 and len(text.strip()) <= 16):
        return False
    return any(ch.isdigit() for ch in kept) or normalize(typed) is not None
