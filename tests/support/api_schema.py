"""Check outgoing Bot API calls against the machine-readable reference.

The reference lives outside the project, at ``<repo_root>/../shared/telegram-bot-api/api.json``
(override with the ``UNITBOT_API_JSON`` environment variable). Structure::

    {"version": ..., "methods": {name: {"name", "fields": [{"name", "types", "required",
     "description"}], "returns", ...}}, "types": {name: {"fields": [...]}}}

Only :func:`assert_calls_valid` skips (and only when the file is absent);
:func:`validate_call` raises :class:`FileNotFoundError` without the file.
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
API_JSON_PATH = Path(os.environ.get("UNITBOT_API_JSON", REPO_ROOT.parent / "shared" / "telegram-bot-api" / "api.json"))

MAX_BUTTONS_PER_ROW = 8
MAX_BUTTONS_TOTAL = 100
MAX_COMMANDS = 100
# InlineKeyboardButton: exactly one optional field besides these must be used
_BUTTON_DECORATION = {"text", "icon_custom_emoji_id", "style"}
_PARSE_MODES = {"HTML", "Markdown", "MarkdownV2"}

_LIMIT_RE = re.compile(r"(\d+)-(\d+) (characters|bytes)")
_COND_NOT_SPECIFIED = re.compile(r"[Rr]equired if (\w+)(?: and (\w+))? (?:is not|are not|isn't|aren't) specified")
_COND_SPECIFIED = re.compile(r"[Rr]equired if (\w+) is specified")
_COND_BOOL = re.compile(r"[Rr]equired if (\w+) is (True|False)")
_COMMAND_NAME_RE = re.compile(r"^[a-z0-9_]{1,32}$")


def api_reference_available() -> bool:
    """True if the api.json reference file exists."""
    return API_JSON_PATH.is_file()


@functools.cache
def load_reference() -> dict[str, Any]:
    """The parsed api.json (cached). Raises FileNotFoundError if absent."""
    if not api_reference_available():
        raise FileNotFoundError(f"Bot API reference not found at {API_JSON_PATH}")
    data: dict[str, Any] = json.loads(API_JSON_PATH.read_text(encoding="utf-8"))
    return data


def api_version() -> str:
    return str(load_reference().get("version", "?"))


def method_names() -> frozenset[str]:
    return frozenset(load_reference()["methods"])


def method_fields(method: str) -> dict[str, dict[str, Any]] | None:
    """``{param_name: field_spec}`` for a method (case-sensitive), None if unknown."""
    spec = load_reference()["methods"].get(method)
    if spec is None:
        return None
    return {f["name"]: f for f in spec.get("fields", [])}


def type_fields(type_name: str) -> dict[str, dict[str, Any]] | None:
    spec = load_reference()["types"].get(type_name)
    if spec is None:
        return None
    return {f["name"]: f for f in spec.get("fields", [])}


def canonical_method(method: str) -> str | None:
    """The reference's spelling of ``method`` (the real server is case-insensitive), or None."""
    if method in method_names():
        return method
    lower = method.lower()
    for name in method_names():
        if name.lower() == lower:
            return name
    return None


@functools.cache
def string_params(method: str) -> frozenset[str]:
    """Parameters of ``method`` whose only type is String (used to decode form-encoded bodies)."""
    fields = method_fields(method) or {}
    return frozenset(name for name, f in fields.items() if f["types"] == ["String"])


# --------------------------------------------------------------------------- entity parsing (approx.)

_HTML_TAG_RE = re.compile(r"<[^>]*>")
_MDV2_LINK_RE = re.compile(r"(?<!\\)\[((?:\\.|[^\]\\])*)\]\((?:\\.|[^)\\])*\)")
_MDV2_MARK_RE = re.compile(r"(?<!\\)(?:\|\||[*_~`])")
_MDV2_ESCAPE_RE = re.compile(r"\\(.)")
_MD_LINK_RE = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def visible_text(text: str, parse_mode: str | None) -> str:
    """Approximate the text left after Telegram parses ``parse_mode`` markup."""
    if parse_mode == "HTML":
        return html.unescape(_HTML_TAG_RE.sub("", text))
    if parse_mode == "MarkdownV2":
        text = _MDV2_LINK_RE.sub(r"\1", text)
        text = _MDV2_MARK_RE.sub("", text)
        return _MDV2_ESCAPE_RE.sub(r"\1", text)
    if parse_mode == "Markdown":
        text = _MD_LINK_RE.sub(r"\1", text)
        return re.sub(r"[*_`]", "", text)
    return text


# --------------------------------------------------------------------------- validation

_SCALAR_CHECKS: dict[str, Any] = {
    "Integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "Float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "Boolean": lambda v: isinstance(v, bool),
    "String": lambda v: isinstance(v, str),
}


def _type_ok(value: Any, types: list[str]) -> bool:
    for t in types:
        check = _SCALAR_CHECKS.get(t)
        if check is not None:
            if check(value):
                return True
        elif t == "InputFile":
            return True  # uploads are recorded as "attach://<field>" strings
        elif t.startswith("Array of"):
            if isinstance(value, list):
                return True
        elif isinstance(value, dict):  # object types (JSON-serialized)
            return True
    return False


def _present(params: Mapping[str, Any], name: str) -> bool:
    return params.get(name) is not None


def _check_length(where: str, value: str, lo: int, hi: int, unit: str, parse_mode: str | None) -> list[str]:
    n = len(value.encode("utf-8")) if unit == "bytes" else len(visible_text(value, parse_mode))
    if not lo <= n <= hi:
        return [f"{where}: length {n} {unit} outside {lo}-{hi}"]
    return []


def _check_inline_keyboard(where: str, markup: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    rows = markup.get("inline_keyboard")
    if not isinstance(rows, list):
        return [f"{where}.inline_keyboard: must be an array of button rows"]
    button_spec = type_fields("InlineKeyboardButton") or {}
    actions = set(button_spec) - _BUTTON_DECORATION
    total = 0
    for r, row in enumerate(rows):
        if not isinstance(row, list):
            problems.append(f"{where}.inline_keyboard[{r}]: row must be an array")
            continue
        if len(row) > MAX_BUTTONS_PER_ROW:
            problems.append(f"{where}.inline_keyboard[{r}]: {len(row)} buttons in a row (max {MAX_BUTTONS_PER_ROW})")
        if not row:
            problems.append(f"{where}.inline_keyboard[{r}]: empty row")
        for c, button in enumerate(row):
            total += 1
            bw = f"{where}.inline_keyboard[{r}][{c}]"
            if not isinstance(button, dict):
                problems.append(f"{bw}: button must be an object")
                continue
            text = button.get("text")
            if not isinstance(text, str) or not text.strip():
                problems.append(f"{bw}: button text is required and must be non-empty")
            if button_spec:
                unknown = sorted(set(button) - set(button_spec))
                if unknown:
                    problems.append(f"{bw}: unknown button field(s) {unknown}")
            used = sorted(k for k in button if k in actions and button[k] is not None)
            if len(used) != 1:
                problems.append(f"{bw}: exactly one action field required, got {used or 'none'}")
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str):
                    problems.append(f"{bw}.callback_data: must be a string, got {type(data).__name__}")
                else:
                    n = len(data.encode("utf-8"))
                    if not 1 <= n <= 64:
                        problems.append(f"{bw}.callback_data: {n} bytes UTF-8 (allowed 1-64): {data!r}")
            if "url" in button:
                url = button["url"]
                if not isinstance(url, str) or not re.match(r"^(https?|tg)://\S+$", url):
                    problems.append(f"{bw}.url: must be an http(s):// or tg:// URL without spaces, got {url!r}")
    if total > MAX_BUTTONS_TOTAL:
        problems.append(f"{where}: {total} buttons (max {MAX_BUTTONS_TOTAL})")
    return problems


def _check_reply_markup(markup: Any) -> list[str]:
    if not isinstance(markup, dict):
        return [f"reply_markup: must be a JSON object, got {type(markup).__name__}"]
    if "inline_keyboard" in markup:
        return _check_inline_keyboard("reply_markup", markup)
    problems: list[str] = []
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            return ["reply_markup.keyboard: must be an array of button rows"]
        for r, row in enumerate(rows):
            for c, b in enumerate(row):
                text = b.get("text") if isinstance(b, dict) else b
                if not isinstance(text, str) or not text:
                    problems.append(f"reply_markup.keyboard[{r}][{c}]: button text is required")
        placeholder = markup.get("input_field_placeholder")
        if placeholder is not None and not 1 <= len(placeholder) <= 64:
            problems.append("reply_markup.input_field_placeholder: 1-64 characters")
    elif not ({"remove_keyboard", "force_reply"} & set(markup)):
        problems.append(f"reply_markup: not a known keyboard markup: {sorted(markup)}")
    return problems


def _check_commands(commands: Any) -> list[str]:
    if not isinstance(commands, list):
        return ["commands: must be an array of BotCommand"]
    problems: list[str] = []
    if len(commands) > MAX_COMMANDS:
        problems.append(f"commands: {len(commands)} commands (max {MAX_COMMANDS})")
    for i, cmd in enumerate(commands):
        if not isinstance(cmd, dict):
            problems.append(f"commands[{i}]: must be an object")
            continue
        name, desc = cmd.get("command"), cmd.get("description")
        if not isinstance(name, str) or not _COMMAND_NAME_RE.match(name):
            problems.append(f"commands[{i}].command: 1-32 chars of [a-z0-9_], got {name!r}")
        if not isinstance(desc, str) or not 1 <= len(desc) <= 256:
            problems.append(f"commands[{i}].description: 1-256 characters, got {desc!r}")
    return problems


def _check_media(media: Any) -> list[str]:
    if not isinstance(media, list):
        media = [media]
    problems: list[str] = []
    for i, item in enumerate(media):
        if isinstance(item, dict) and isinstance(item.get("caption"), str):
            problems += _check_length(
                f"media[{i}].caption", item["caption"], 0, 1024, "characters", item.get("parse_mode")
            )
    return problems


def validate_call(method: str, params: Mapping[str, Any]) -> list[str]:
    """Problems with one Bot API call (empty list = valid). Needs the reference file."""
    fields = method_fields(method)
    if fields is None:
        hint = canonical_method(method)
        extra = f" (did you mean {hint!r}? names are case-sensitive)" if hint else ""
        return [f"unknown method {method!r}{extra}"]

    problems: list[str] = []
    present = {k for k, v in params.items() if v is not None}

    for name, spec in fields.items():
        if spec["required"] and name not in present:
            problems.append(f"missing required parameter {name!r}")
            continue
        if name in present:
            continue
        desc = spec["description"]
        m = _COND_NOT_SPECIFIED.search(desc)
        if m and not any(_present(params, other) for other in m.groups() if other):
            others = " and ".join(o for o in m.groups() if o)
            problems.append(f"missing parameter {name!r} (required if {others} not specified)")
        m2 = _COND_SPECIFIED.search(desc)
        if m2 and _present(params, m2.group(1)):
            problems.append(f"missing parameter {name!r} (required if {m2.group(1)} is specified)")
        m3 = _COND_BOOL.search(desc)
        if m3 and params.get(m3.group(1)) is (m3.group(2) == "True"):
            problems.append(f"missing parameter {name!r} (required if {m3.group(1)} is {m3.group(2)})")

    for name in sorted(present - set(fields)):
        problems.append(f"unknown parameter {name!r}")

    parse_mode = params.get("parse_mode")
    if parse_mode is not None and parse_mode not in _PARSE_MODES:
        problems.append(f"parse_mode: {parse_mode!r} is not one of {sorted(_PARSE_MODES)}")

    for name in sorted(present & set(fields)):
        spec, value = fields[name], params[name]
        if not _type_ok(value, spec["types"]):
            problems.append(f"{name}: expected {' or '.join(spec['types'])}, got {type(value).__name__} {value!r:.80}")
            continue
        if isinstance(value, str):
            for lo, hi, unit in _LIMIT_RE.findall(spec["description"]):
                pm = parse_mode if "entit" in spec["description"] else None
                problems += _check_length(name, value, int(lo), int(hi), unit, pm)

    text = params.get("text")
    is_text_method = method in ("sendMessage", "editMessageText")
    if is_text_method and isinstance(text, str) and text and not visible_text(text, parse_mode).strip():
        problems.append("text: empty after entity parsing / whitespace trimming")
    if "reply_markup" in present:
        problems += _check_reply_markup(params["reply_markup"])
    if method in ("setMyCommands",) and "commands" in present:
        problems += _check_commands(params["commands"])
    if "media" in present and isinstance(params["media"], list | dict):
        problems += _check_media(params["media"])
    return problems


def _as_method_params(call: Any) -> tuple[str, Mapping[str, Any]]:
    if isinstance(call, tuple):
        return call[0], call[1]
    return call.method, call.params


def collect_problems(calls: Iterable[Any]) -> list[str]:
    """All problems of ``calls`` (Call objects or ``(method, params)`` tuples), one line each."""
    lines: list[str] = []
    for i, call in enumerate(calls):
        method, params = _as_method_params(call)
        for problem in validate_call(method, params):
            lines.append(f"#{i} {method}: {problem}")
    return lines


def assert_calls_valid(calls: Iterable[Any]) -> None:
    """Assert every call conforms to the reference; ``pytest.skip`` only if api.json is absent."""
    if not api_reference_available():
        import pytest

        pytest.skip(f"Bot API reference not available at {API_JSON_PATH}")
    calls = list(calls)
    problems = collect_problems(calls)
    if problems:
        raise AssertionError(
            f"{len(problems)} Bot API problem(s) in {len(calls)} call(s) ({api_version()}):\n" + "\n".join(problems)
        )


def assert_call_valid(method: str, params: Mapping[str, Any]) -> None:
    assert_calls_valid([(method, params)])
