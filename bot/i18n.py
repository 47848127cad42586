"""Translation catalogs (gettext ``.po`` files read with Babel) and a per-user translator.

Messages are identified by stable keys (``appeal.assigned``); every catalog (zh, en, ru) carries every
key, which a test enforces. ``str.format`` placeholders; a parameter named ``x_key`` is itself a
message key, translated and passed as ``x``; a parameter given as :func:`rows` (a list of
lines, each rendered from one message key) becomes those lines, or "-" when there are none; one
given as :func:`plural` becomes that key's plural form for its number.
Plurals use gettext's ``ngettext`` with each language's plural rule from its catalog header.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.dates import is_moment, render_moment, say_month

LANGUAGES = ("zh", "en", "ru")
FALLBACK = "en"
DOMAIN = "unitbot"


def normalize(code: str | None) -> str | None:
    """Telegram's ``language_code`` (``zh-hans``, ``ru``, ``en-GB``...) -> one of LANGUAGES."""
    if not code:
        return None
    base = code.lower().replace("_", "-").split("-")[0]
    return base if base in LANGUAGES else None


def catalog_files(lang: str) -> list[Any]:
    """``unitbot.po`` first, then one ``.po`` file per feature (``votes.po``, ``points.po``...)."""
    folder = resources.files("bot").joinpath(f"locales/{lang}/LC_MESSAGES")
    extra = sorted(
        (f for f in folder.iterdir() if f.name.endswith(".po") and f.name != f"{DOMAIN}.po"), key=lambda f: f.name
    )
    return [folder.joinpath(f"{DOMAIN}.po"), *extra]


def load_catalog(lang: str) -> Any:
    """One Babel catalog of a language: the main file's header and the messages of every file.
    A key defined in two files is an error (features must not overwrite each other's texts)."""
    files = catalog_files(lang)
    with files[0].open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    for extra in files[1:]:
        with extra.open("rb") as fh:
            part = read_po(fh, locale=lang)
        for message in part:
            if not message.id:
                continue
            if message.id in catalog:
                raise ValueError(f"{lang}: {message.id!r} is defined twice ({extra.name})")
            catalog[message.id] = message
    return catalog


class Catalogs:
    """All languages, loaded once at start-up."""

    def __init__(self) -> None:
        self._translations: dict[str, gettext.GNUTranslations] = {}
        for lang in LANGUAGES:
            catalog = load_catalog(lang)
            buf = io.BytesIO()
            write_mo(buf, catalog)
            buf.seek(0)
            self._translations[lang] = gettext.GNUTranslations(buf)
        fallback = self._translations[FALLBACK]
        for lang, trans in self._translations.items():
            if lang != FALLBACK:
                trans.add_fallback(fallback)

    def keys(self, lang: str) -> set[str]:
        return {k if isinstance(k, str) else k[0] for k in self._translations[lang]._catalog if k}  # type: ignore[attr-defined]

    def translator(self, lang: str | None) -> Translator:
        return Translator(normalize(lang) or FALLBACK, self)

    def gettext(self, lang: str, key: str) -> str:
        return self._translations[lang].gettext(key)

    def ngettext(self, lang: str, key: str, plural: str, n: int) -> str:
        return self._translations[lang].ngettext(key, plural, n)


def rows(row_key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """A parameter that renders as one line per item, each ``row_key`` with that item's parameters, in
    the reader's language (plain JSON, so the outbox can store it and render it at send time)."""
    return {"row_key": row_key, "rows": items}


def plural(key: str, n: int) -> dict[str, Any]:
    """A parameter that renders as ``key``'s plural form for ``n`` in the reader's language ("1 minute",
    "5 minutes", "5 минут"); plain JSON like :func:`rows`, so errors and outbox rows can carry it."""
    return {"plural_key": key, "n": n}


def _is_plural(value: object) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("plural_key"), str) and isinstance(value.get("n"), int)


def _is_rows(value: object) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("row_key"), str) and isinstance(value.get("rows"), list)


#: Parameters that carry a month key (``2026-11``): said as the month in the reader's language.
MONTH_PARAMS = frozenset({"period", "month"})


class _SafeDict(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass(frozen=True)
class Translator:
    lang: str
    catalogs: Catalogs

    def __call__(self, key: str, /, **params: Any) -> str:
        return self._format(self.catalogs.gettext(self.lang, key), params)

    def plural(self, key: str, n: int, /, **params: Any) -> str:
        """``key`` has msgid_plural ``key.plural`` in the catalogs."""
        return self._format(self.catalogs.ngettext(self.lang, key, key + ".plural", n), {"n": n, **params})

    def _format(self, template: str, params: Mapping[str, Any]) -> str:
        values: dict[str, Any] = {}
        for name, value in params.items():
            if _is_plural(value):
                value = self.plural(value["plural_key"], value["n"])
            elif _is_rows(value):
                lines = [self(value["row_key"], **item) for item in value["rows"] if isinstance(item, Mapping)]
                value = "\n".join(lines) or "-"
            elif is_moment(value):  # bot.dates.moment(): a date as the reader's language says it
                value = render_moment(value, self.lang)
            elif name in MONTH_PARAMS and isinstance(value, str):  # '2026-11' -> 'November 2026'
                value = say_month(value, self.lang)
            if name.endswith("_key") and isinstance(value, str):
                values[name[: -len("_key")]] = self.catalogs.gettext(self.lang, value)
            values[name] = value
        return template.format_map(_SafeDict(values))
