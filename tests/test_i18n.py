"""Tests for the translation catalogs (bot/locales) and the translator (bot.i18n).

The catalogs must stay complete and really translated; every key the code can produce must exist in them
(found by scanning the source of bot/ and handlers/, dynamic key families included); the translator must
never raise on a catalog text, whatever parameters it gets.
"""

from __future__ import annotations

import ast
import dataclasses
import gettext
import inspect
import io
import re
import string
import typing
import unicodedata
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from bot import errors
from bot.i18n import DOMAIN, FALLBACK, LANGUAGES, Catalogs, load_catalog, normalize
from bot.models import ActionKind, Button, Category, Level, Notice, Reply, Status
from handlers.menus import GROUP, PRIVATE

ROOT = Path(__file__).resolve().parents[1]
LOCALES = ROOT / "bot" / "locales"
SOURCES = (ROOT / "bot", ROOT / "handlers")
OTHERS = tuple(lang for lang in LANGUAGES if lang != FALLBACK)


# --- reading the catalogs ---------------------------------------------------------------------------
def _po_path(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def _catalog(lang: str) -> Catalog:
    catalog: Catalog = load_catalog(lang)  # unitbot.po and every feature's .po, merged as the bot merges them
    return catalog


@cache
def _messages(lang: str) -> dict[str, tuple[str, ...]]:
    """key -> its text (one form, or every plural form)."""
    out: dict[str, tuple[str, ...]] = {}
    for msg in _catalog(lang):
        if not msg.id:
            continue  # the header
        key = msg.id[0] if isinstance(msg.id, tuple | list) else msg.id
        forms = tuple(msg.string) if isinstance(msg.string, tuple | list) else (msg.string,)
        out[key] = tuple(f or "" for f in forms)
    return out


@cache
def _gnu(lang: str) -> gettext.GNUTranslations:
    """The catalog compiled the way bot.i18n.Catalogs compiles it."""
    buf = io.BytesIO()
    write_mo(buf, _catalog(lang))
    buf.seek(0)
    return gettext.GNUTranslations(buf)


@cache
def _header(lang: str, name: str) -> str:
    text = _po_path(lang).read_text(encoding="utf-8")
    match = re.search(rf'^"{re.escape(name)}: (.*)\\n"$', text, re.MULTILINE)
    assert match, f"{lang}: no {name} header"
    return match.group(1)


EN_KEYS = sorted(_messages(FALLBACK))


@pytest.fixture(scope="module")
def catalogs() -> Catalogs:
    return Catalogs()


def _fields(template: str) -> set[str]:
    """The placeholder names of a str.format template (raises ValueError on broken braces)."""
    names = set()
    for _, field, _, _ in string.Formatter().parse(template):
        if field is not None:
            names.add(re.split(r"[.\[]", field, maxsplit=1)[0])
    return names


# --- completeness -----------------------------------------------------------------------------------
def test_every_language_has_exactly_the_english_keys(catalogs: Catalogs) -> None:
    en = set(_messages(FALLBACK))
    assert len(en) > 100
    for lang in OTHERS:
        keys = set(_messages(lang))
        assert not en - keys, f"{lang} lacks {sorted(en - keys)}"
        assert not keys - en, f"{lang} has keys unknown in {FALLBACK}: {sorted(keys - en)}"
        # what the bot really loads: fuzzy entries would silently fall back to English
        assert catalogs.keys(lang) == catalogs.keys(FALLBACK), lang


def test_no_empty_or_fuzzy_translations() -> None:
    for lang in LANGUAGES:
        catalog = _catalog(lang)
        for msg in catalog:
            if not msg.id:
                continue
            assert not msg.fuzzy, f"{lang}: {msg.id} is marked fuzzy (not loaded)"
            forms = msg.string if isinstance(msg.string, tuple | list) else (msg.string,)
            assert all((f or "").strip() for f in forms), f"{lang}: {msg.id} has an empty translation"
            if isinstance(msg.id, tuple | list):
                assert len(forms) == catalog.num_plurals, f"{lang}: {msg.id[0]} needs {catalog.num_plurals} forms"


@pytest.mark.parametrize("key", EN_KEYS)
def test_placeholders_are_the_same_in_every_language(key: str) -> None:
    expected = _fields(_messages(FALLBACK)[key][0])
    assert all(name.isidentifier() for name in expected), f"{key}: positional or odd placeholder {expected}"
    for lang in LANGUAGES:
        for form in _messages(lang)[key]:
            assert _fields(form) == expected, f"{lang} {key}: {form!r}"


_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_COMMAND = re.compile(r"(?<![\w}/])/([a-z]+)\b")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_SCRIPT = {"zh": _CJK, "ru": _CYRILLIC}


def _has_words(text: str) -> bool:
    """Latin letters left once placeholders and /commands are taken out: English prose to translate."""
    return re.search(r"[A-Za-z]", _COMMAND.sub("", _PLACEHOLDER.sub("", text))) is not None


@pytest.mark.parametrize("key", EN_KEYS)
def test_catalogs_are_really_translated(key: str) -> None:
    english = _messages(FALLBACK)[key]
    if key.startswith("language."):
        # the language picker names each language in its own script, whatever the reader's language
        assert len({_messages(lang)[key] for lang in LANGUAGES}) == 1, key
        return
    if not any(_has_words(form) for form in english):
        return  # "{unit}", "{n} ⭐": nothing to translate
    for lang in OTHERS:
        for form in _messages(lang)[key]:
            assert form not in english, f"{lang} {key} is still English: {form!r}"
            assert _SCRIPT[lang].search(form), f"{lang} {key} has no {lang} text: {form!r}"


def _symbols(text: str) -> set[str]:
    return {ch for ch in text if unicodedata.category(ch) == "So"}


@pytest.mark.parametrize("key", EN_KEYS)
def test_emojis_lines_and_commands_are_kept(key: str) -> None:
    en = _messages(FALLBACK)[key][0]
    for lang in OTHERS:
        for form in _messages(lang)[key]:
            assert _symbols(form) == _symbols(en), f"{lang} {key}: emojis differ"
            assert form.count("\n") == en.count("\n"), f"{lang} {key}: line structure differs"
            assert set(_COMMAND.findall(form)) == set(_COMMAND.findall(en)), f"{lang} {key}: commands differ"


# --- the keys the code uses -------------------------------------------------------------------------
_KEY = re.compile(r"[a-z][a-z_]*(?:\.[a-z][a-z_]*)+")
_CALLS_KEY_FIRST = {"Reply", "Outcome", "Button", "_btn", "t"} | {
    name for name, obj in vars(errors).items() if inspect.isclass(obj) and issubclass(obj, errors.DomainError)
}
_CALLS_KEY_SECOND = {"Notice"}
_KEY_KEYWORDS = {"template", "label"}
# fields like Notice.dedupe_key end in "_key" but are not translation parameters
_NOT_KEY_KEYWORDS = {f.name for cls in (Notice, Reply, Button) for f in dataclasses.fields(cls)} - _KEY_KEYWORDS

_EVENT_KIND_ARG = 3  # AppealsRepo.add_event(appeal_id, now, actor_id, kind, level, detail)


@dataclasses.dataclass(frozen=True)
class _Module:
    path: Path
    tree: ast.Module
    parents: dict[ast.AST, ast.AST]


@cache
def _modules() -> tuple[_Module, ...]:
    out = []
    for base in SOURCES:
        for path in sorted(base.rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
            out.append(_Module(path, tree, parents))
    return tuple(out)


def _where(module: _Module, node: ast.AST) -> str:
    return f"{module.path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _function_of(module: _Module, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    cur: ast.AST | None = module.parents.get(node)
    while cur is not None and not isinstance(cur, ast.FunctionDef | ast.AsyncFunctionDef):
        cur = module.parents.get(cur)
    return cur


def _calls() -> Iterator[tuple[_Module, ast.Call]]:
    for module in _modules():
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Call):
                yield module, node


def _constants(module: _Module, expr: ast.AST, depth: int = 0) -> set[str] | None:
    """Every string ``expr`` can evaluate to, following local assignments and call sites; None if unknown."""
    if depth > 5:
        return None
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return {expr.value}
    if isinstance(expr, ast.IfExp):
        body, orelse = _constants(module, expr.body, depth + 1), _constants(module, expr.orelse, depth + 1)
        return None if body is None or orelse is None else body | orelse
    if not isinstance(expr, ast.Name):
        return None
    func = _function_of(module, expr)
    if func is None:
        return None
    name = expr.id
    values: set[str] = set()
    assigned = False
    for node in ast.walk(func):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            found = _constants(module, node.value, depth + 1)
            if found is None:
                return None
            values |= found
            assigned = True
    if assigned:
        return values
    return _parameter_values(func, name, depth)


def _parameter_values(func: ast.FunctionDef | ast.AsyncFunctionDef, name: str, depth: int) -> set[str] | None:
    args = func.args
    positional = [a.arg for a in (*args.posonlyargs, *args.args)]
    if name not in positional and name not in [a.arg for a in args.kwonlyargs]:
        return None
    values: set[str] = set()
    seen_call = False
    for module, call in _calls():
        if _callee(call) != func.name:
            continue
        bound: ast.AST | None = next((kw.value for kw in call.keywords if kw.arg == name), None)
        if bound is None and name in positional:
            index = positional.index(name)
            if positional and positional[0] in ("self", "cls") and isinstance(call.func, ast.Attribute):
                index -= 1
            if 0 <= index < len(call.args) and not any(isinstance(a, ast.Starred) for a in call.args[: index + 1]):
                bound = call.args[index]
        if bound is None:
            continue
        found = _constants(module, bound, depth + 1)
        if found is None:
            return None
        values |= found
        seen_call = True
    return values if seen_call else None


@cache
def _event_kinds() -> frozenset[str]:
    """Every ``kind`` written by ``add_event(...)`` in bot/services."""
    kinds: set[str] = set()
    for module, call in _calls():
        if _callee(call) != "add_event" or "services" not in module.path.parts:
            continue
        arg = next((kw.value for kw in call.keywords if kw.arg == "kind"), None)
        if arg is None and len(call.args) > _EVENT_KIND_ARG:
            arg = call.args[_EVENT_KIND_ARG]
        assert arg is not None, f"{_where(module, call)}: add_event without a kind"
        found = _constants(module, arg)
        assert found is not None, f"{_where(module, call)}: cannot tell which event kind this writes"
        kinds |= found
    return frozenset(kinds)


def _returned_strings(module_name: str, function: str) -> set[str]:
    """The string constants ``function`` returns (first item when it returns a tuple)."""
    module = next(
        m for m in _modules() if m.path.relative_to(ROOT).with_suffix("").parts == tuple(module_name.split("."))
    )
    func = next(
        n for n in ast.walk(module.tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == function
    )
    values: set[str] = set()
    for node in ast.walk(func):
        if isinstance(node, ast.Return) and node.value is not None:
            expr = node.value.elts[0] if isinstance(node.value, ast.Tuple) else node.value
            found = _constants(module, expr)
            assert found is not None, f"{_where(module, node)}: cannot tell what {function} returns"
            values |= found
    return values


def _families() -> dict[str, set[str]]:
    """Dynamic key families whose variable part is not a plain name the scanner can follow.

    The values come from the code's own enums and tables, so a new member without a translation fails.
    """
    from bot.services.care.households import EVERY_DAYS, NEEDS
    from bot.services.care.visits import OUTCOMES
    from bot.services.elections import ElectionSettings
    from bot.services.point_rules import EDITABLE_RULES
    from bot.services.proposal_rules import DEFAULT_OPTIONS, MODES
    from bot.services.wishes.rules import WHEN_DAYS

    return {
        "category.": {c.value for c in Category},
        "status.": {s.value for s in Status},
        "level.": {level.name.lower() for level in Level},
        "prompt.": {k.value for k in ActionKind},
        "event.": set(_event_kinds()),
        "language.": set(LANGUAGES),
        "cmd.": set(PRIVATE) | set(GROUP),
        "proposal.option.": set(DEFAULT_OPTIONS),
        "proposal.mode.": set(MODES),
        "proposal.verdict.": _returned_strings("bot.services.proposal_rules", "verdict"),
        "title.rule.": set(typing.get_args(ElectionSettings.model_fields["yearly_rule"].annotation)),
        "points.rule.": set(EDITABLE_RULES),
        # issue 12: micro-wishes and the care list
        "wish.when.": {str(d) for d in WHEN_DAYS},
        "care.need.": set(NEEDS),
        "care.every.": {str(d) for d in EVERY_DAYS},
        "care.need_text.": set(NEEDS),
        "care.every_text.": {str(d) for d in EVERY_DAYS},
        "care.outcome.": set(OUTCOMES.values()),
    }


def _in_key_position(module: _Module, node: ast.AST) -> bool:
    parent = module.parents.get(node)
    if isinstance(parent, ast.keyword):
        arg = parent.arg
        return arg is not None and (arg in _KEY_KEYWORDS or (arg.endswith("_key") and arg not in _NOT_KEY_KEYWORDS))
    if isinstance(parent, ast.Dict):
        index = next((i for i, v in enumerate(parent.values) if v is node), None)
        if index is None:
            return False
        dict_key = parent.keys[index]
        return isinstance(dict_key, ast.Constant) and str(dict_key.value).endswith("_key")
    if isinstance(parent, ast.Call) and node in parent.args:
        name, position = _callee(parent), parent.args.index(node)
        return (name in _CALLS_KEY_FIRST and position == 0) or (name in _CALLS_KEY_SECOND and position == 1)
    return False


def _is_enum_value(module: _Module, node: ast.AST) -> bool:
    """A member value of an Enum class (a stored code such as points' ``appeal.first_reply``, not a key)."""
    assign = module.parents.get(node)
    owner = module.parents.get(assign) if isinstance(assign, ast.Assign) else None
    return isinstance(owner, ast.ClassDef) and any(ast.unparse(base).endswith("Enum") for base in owner.bases)


@dataclasses.dataclass(frozen=True)
class _Scan:
    keys: dict[str, str]  # key -> where it is used
    unresolved: list[str]


@cache
def _scan() -> _Scan:
    namespaces = {key.split(".", 1)[0] for key in _messages(FALLBACK)}
    families = _families()
    keys: dict[str, str] = {}
    unresolved: list[str] = []
    for module in _modules():
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if isinstance(module.parents.get(node), ast.JoinedStr) or _is_enum_value(module, node):
                    continue
                text = node.value
                looks_like_key = _KEY.fullmatch(text) is not None and text.split(".", 1)[0] in namespaces
                if looks_like_key or _in_key_position(module, node):
                    keys.setdefault(text, _where(module, node))
            elif isinstance(node, ast.JoinedStr):
                parts = node.values
                if not parts or not isinstance(parts[0], ast.Constant):
                    continue
                prefix = str(parts[0].value)
                family = re.fullmatch(r"([a-z][a-z_]*)(?:\.[a-z_]*)+", prefix)
                is_key = (family is not None and family.group(1) in namespaces) or _in_key_position(module, node)
                if not is_key:
                    continue
                where = _where(module, node)
                values: set[str] | None = None
                if len(parts) == 2 and isinstance(parts[1], ast.FormattedValue):
                    values = _constants(module, parts[1].value)
                    if values is None:
                        values = families.get(prefix)
                if values is None:
                    unresolved.append(f"{where}: {ast.unparse(node)}")
                    continue
                for value in values:
                    keys.setdefault(prefix + value, where)
    return _Scan(keys, unresolved)


def test_the_scanner_sees_static_and_dynamic_keys() -> None:
    scan = _scan()
    assert len(scan.keys) > 100
    # plain literals, raised errors, f-strings over enums, names followed to their call sites
    for key in ("appeal.assigned", "error.top_level", "status.waiting", "level.street", "prompt.resolve"):
        assert key in scan.keys, key
    for key in ("reason.by_hand", "reason.deadline", "resident.reply", "done.answer", "appeal.resident_added"):
        assert key in scan.keys, key
    assert {"filed", "escalated", "resident_unreachable", "auto_closed"} <= _event_kinds()


def test_every_dynamic_key_family_is_known() -> None:
    assert not _scan().unresolved, (
        "keys built from values the test cannot enumerate; add the family to _families(): "
        + "; ".join(_scan().unresolved)
    )


def test_every_key_used_by_the_code_is_in_every_catalog(catalogs: Catalogs) -> None:
    for lang in (FALLBACK, *OTHERS):  # English first: it is the source of truth
        known = catalogs.keys(lang)
        missing = {key: where for key, where in _scan().keys.items() if key not in known}
        assert not missing, f"{lang} lacks keys used by the code: {missing}"


def test_every_family_member_has_a_translation(catalogs: Catalogs) -> None:
    for prefix, values in _families().items():
        assert values, prefix
        for lang in (FALLBACK, *OTHERS):
            missing = {prefix + v for v in values} - catalogs.keys(lang)
            assert not missing, f"{lang} lacks {sorted(missing)}"


# --- the translator ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("zh-hans", "zh"),
        ("zh-Hant-TW", "zh"),
        ("zh_CN", "zh"),
        ("ru-RU", "ru"),
        ("ru", "ru"),
        ("en-GB", "en"),
        ("EN", "en"),
        ("fr", None),
        ("uk", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize(code: str | None, expected: str | None) -> None:
    assert normalize(code) == expected


def test_unknown_languages_fall_back_to_english(catalogs: Catalogs) -> None:
    assert catalogs.translator("fr").lang == FALLBACK
    assert catalogs.translator(None).lang == FALLBACK
    assert catalogs.translator("ru-RU").lang == "ru"
    assert catalogs.translator("fr")("cmd.help") == "Help"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_key_params_are_translated(catalogs: Catalogs, lang: str) -> None:
    t = catalogs.translator(lang)
    level = catalogs.gettext(lang, "level.street")
    reason = catalogs.gettext(lang, "reason.deadline")
    text = t("appeal.passed_up", id=7, level_key="level.street", reason_key="reason.deadline")
    assert text == _messages(lang)["appeal.passed_up"][0].format(id=7, level=level, reason=reason)
    assert "level.street" not in text
    if lang != FALLBACK:
        assert level != catalogs.gettext(FALLBACK, "level.street")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_missing_params_stay_visible_instead_of_raising(catalogs: Catalogs, lang: str) -> None:
    text = catalogs.translator(lang)("appeal.view", id=3)
    assert "#3" in text
    assert "{category}" in text
    assert "{history}" in text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_user_text_in_params_is_not_formatted_again(catalogs: Catalogs, lang: str) -> None:
    text = catalogs.translator(lang)("general.welcome", name="{id} {0} {")
    assert "{id} {0} {" in text


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("key", EN_KEYS)
def test_every_message_renders_with_its_params(catalogs: Catalogs, lang: str, key: str) -> None:
    params = {name: f"<{name}>" for name in _fields(_messages(FALLBACK)[key][0])}
    t = catalogs.translator(lang)
    text = t(key, **params)
    assert text.strip()
    for name, value in params.items():
        assert value in text, f"{lang} {key}: {{{name}}} not filled"
        assert "{" + name + "}" not in text, f"{lang} {key}: {{{name}}} left over"


# --- plural rules -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("lang", "nplurals", "cases"),
    [
        ("ru", 3, {1: 0, 21: 0, 101: 0, 2: 1, 3: 1, 4: 1, 22: 1, 5: 2, 11: 2, 12: 2, 14: 2, 0: 2, 111: 2, 25: 2}),
        ("en", 2, {1: 0, 0: 1, 2: 1, 5: 1, 21: 1}),
        ("zh", 1, {1: 0, 0: 0, 2: 0, 5: 0, 21: 0}),
    ],
)
def test_plural_forms_header(lang: str, nplurals: int, cases: dict[int, int]) -> None:
    assert _header(lang, "Language") == lang
    assert re.match(rf"nplurals={nplurals};", _header(lang, "Plural-Forms"))
    plural = _gnu(lang).plural  # type: ignore[attr-defined]  # gettext's function parsed from the compiled header
    assert {n: plural(n) for n in cases} == cases


def test_rows_render_one_line_each_in_the_readers_language() -> None:
    from bot.i18n import rows

    catalogs = Catalogs()
    lines = rows("election.result_line", [{"rank": 1, "name": "Uma", "unit": "1", "building": "B7", "votes": 3}])
    en = catalogs.translator("en")("title.announce", year=2026, count=1, rule="wins", winners=lines)
    zh = catalogs.translator("zh")("title.announce", year=2026, count=1, rule="wins", winners=lines)
    assert "1. Uma (unit 1, B7) — votes: 3" in en and "1. Uma（1单元，B7）— 3 票" in zh
    empty = catalogs.translator("ru")("title.announce", year=2026, count=0, rule="wins", winners=rows("x", []))
    assert "\n-\n" in empty  # no rows: a dash, never a blank or a Python repr
