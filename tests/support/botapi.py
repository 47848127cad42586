"""A fake Telegram Bot API: state + response building shared by the in-process transport
(:mod:`tests.support.transport`) and the HTTP server (:mod:`tests.support.fake_server`).

:class:`FakeTelegram` is thread-safe (one re-entrant lock). It records every call except
``getMe`` as a :class:`Call` with plain-python params (JSON-serialized values such as
``reply_markup`` are decoded into dicts/lists; uploads become ``"attach://<field>"`` with the
bytes in ``Call.files``). Calls answered with a scripted error (:meth:`FakeTelegram.fail_next`)
go to ``rejected`` instead of ``calls``.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from tests.support import api_schema
from tests.support.updates import BOT_ID, bot_user, chat_member, photo_sizes

_T = TypeVar("_T")


def _copy(value: _T) -> _T:
    """A deep copy of the JSON-like values the fake keeps (dicts, lists, scalars): what
    ``copy.deepcopy`` gives, some ten times cheaper (no memo; the values have no cycles or shared
    parts). Anything else falls back to ``copy.deepcopy``."""
    return cast(_T, _copied(value))


def _copied(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {k: _copied(v) for k, v in value.items()}
    if kind is list:
        return [_copied(v) for v in value]
    if kind in (str, int, float, bool) or value is None:
        return value
    if kind is tuple:
        return tuple(_copied(v) for v in value)
    return copy.deepcopy(value)


JSONDict = dict[str, Any]

LONG_POLL_CAP = 1.0  # seconds: getUpdates never blocks longer than this in the fakes

# Parameters carrying JSON-serialized objects/arrays (decoded when given as strings).
JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "reply_parameters",
        "link_preview_options",
        "commands",
        "scope",
        "media",
        "allowed_updates",
        "results",
        "permissions",
        "options",
        "menu_button",
        "rights",
        "reaction",
        "message_ids",
        "explanation_entities",
        "question_entities",
        "prices",
        "input_message_content",
    }
)
# Fallback for form decoding when api.json is absent: parameters that are always strings.
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "url",
        "title",
        "description",
        "short_description",
        "name",
        "query",
        "emoji",
        "language_code",
        "business_connection_id",
        "message_effect_id",
        "question",
        "explanation",
        "phone_number",
        "first_name",
        "last_name",
        "address",
        "custom_title",
        "invite_link",
        "secret_token",
        "file_id",
        "payload",
        "currency",
        "error_message",
        "switch_pm_text",
        "next_offset",
        "sticker_set_name",
        "action",
    }
)
_MESSAGE_CONTENT_KEYS = (
    "text",
    "entities",
    "caption",
    "caption_entities",
    "photo",
    "voice",
    "audio",
    "document",
    "video",
    "animation",
    "sticker",
    "video_note",
    "location",
    "contact",
    "dice",
    "poll",
)


# --------------------------------------------------------------------------- records


@dataclasses.dataclass
class Upload:
    """A file uploaded with multipart/form-data."""

    field: str
    filename: str | None
    mime_type: str | None
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


@dataclasses.dataclass
class Call:
    """One recorded Bot API request."""

    method: str
    params: dict[str, Any]
    files: dict[str, Upload] = dataclasses.field(default_factory=dict)
    error: JSONDict | None = None  # the error JSON sent back, for rejected calls
    at: float = dataclasses.field(default_factory=time.monotonic)

    @property
    def chat_id(self) -> int | str | None:
        return normalize_chat_id(self.params.get("chat_id"))

    @property
    def text(self) -> str | None:
        """``text`` or ``caption`` of the call, if any."""
        value = self.params.get("text", self.params.get("caption"))
        return value if isinstance(value, str) else None

    @property
    def reply_markup(self) -> JSONDict | None:
        markup = self.params.get("reply_markup")
        return markup if isinstance(markup, dict) else None

    @property
    def buttons(self) -> list[tuple[str, str]]:
        return buttons(self)

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.params.items() if k != "reply_markup"}
        extra = " +keyboard" if "reply_markup" in self.params else ""
        err = f" ERROR {self.error.get('error_code')}" if self.error else ""
        return f"Call({self.method}, {shown!r}{extra}{err})"


@dataclasses.dataclass
class ScriptedFailure:
    method: str  # "*" = any method
    chat_id: int | str | None
    status: int
    description: str
    parameters: JSONDict | None
    times: int | None  # None = until clear_failures()

    def matches(self, method: str, params: JSONDict) -> bool:
        if self.method not in ("*", method):
            return False
        return self.chat_id is None or normalize_chat_id(params.get("chat_id")) == self.chat_id

    def response(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = dict(self.parameters)
        return body


def error_body(status: int, description: str | None = None, **parameters: Any) -> JSONDict:
    """The JSON Telegram sends with an error (``parameters`` only when non-empty)."""
    body: JSONDict = {
        "ok": False,
        "error_code": status,
        "description": description or _default_description(status),
    }
    params = {k: v for k, v in parameters.items() if v is not None}
    if params:
        body["parameters"] = params
    return body


def _default_description(status: int, retry_after: int | None = None, migrated: bool = False) -> str:
    if status == 429:
        return f"Too Many Requests: retry after {retry_after if retry_after is not None else 3}"
    if migrated:
        return "Bad Request: group chat was upgraded to a supergroup chat"
    return {
        400: "Bad Request: chat not found",
        401: "Unauthorized",
        403: "Forbidden: bot was blocked by the user",
        404: "Not Found",
        409: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
        502: "Bad Gateway",
    }.get(status, f"Error {status}")


# --------------------------------------------------------------------------- param decoding


def normalize_chat_id(chat_id: Any) -> int | str | None:
    """Chat ids as ints when numeric (``"-100123"`` -> ``-100123``), ``@username`` kept."""
    if chat_id is None or isinstance(chat_id, bool):
        return None
    if isinstance(chat_id, int):
        return chat_id
    s = str(chat_id).strip()
    try:
        return int(s)
    except ValueError:
        return s


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value))


def decode_python_params(params: dict[str, Any]) -> dict[str, Any]:
    """PTB ``RequestData.parameters`` -> plain python (JSON strings of object params decoded)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        value = _plain(value)
        if key in JSON_PARAMS and isinstance(value, str) and value[:1] in ("{", "["):
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        out[key] = value
    return out


def _string_params_for(method: str) -> frozenset[str]:
    if api_schema.api_reference_available():
        canonical = api_schema.canonical_method(method)
        if canonical:
            return api_schema.string_params(canonical) | _STRING_PARAMS
    return _STRING_PARAMS


def decode_form_params(method: str, fields: dict[str, str]) -> dict[str, Any]:
    """Form fields (every value a string, non-strings JSON-encoded as PTB does) -> python."""
    strings = _string_params_for(method)
    out: dict[str, Any] = {}
    for key, raw in fields.items():
        if key in strings:
            out[key] = raw
            continue
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


def attach_uploads(params: dict[str, Any], files: dict[str, Upload]) -> None:
    """Files uploaded directly under a parameter name become ``params[name] = "attach://name"``;
    files referenced via ``attach://`` inside another parameter (media groups) stay only in files."""
    blob = json.dumps(params)
    for name in files:
        if name not in params and f"attach://{name}" not in blob:
            params[name] = f"attach://{name}"


def buttons(call: Call | JSONDict) -> list[tuple[str, str]]:
    """``[(text, callback_data | url | other action value)]`` of an inline keyboard, row-major.

    Accepts a :class:`Call`, a reply_markup dict or a Message dict with ``reply_markup``."""
    if isinstance(call, Call):
        markup: Any = call.params.get("reply_markup")
    else:
        markup = call.get("reply_markup", call)
    if not isinstance(markup, dict):
        return []
    out: list[tuple[str, str]] = []
    for row in markup.get("inline_keyboard", []):
        for b in row:
            action = next(
                (b[k] for k in ("callback_data", "url") if k in b),
                next((v for k, v in b.items() if k != "text"), ""),
            )
            out.append((b.get("text", ""), action if isinstance(action, str) else json.dumps(action)))
    return out


# --------------------------------------------------------------------------- the fake


class FakeTelegram:
    """State of one fake bot account on a fake Bot API server."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._updates_cond = threading.Condition(self.lock)
        self.bot: JSONDict = bot_user(full=True)
        self.calls: list[Call] = []
        self.rejected: list[Call] = []
        # chat_id -> [ChatMember JSON or plain User JSON (treated as administrator)]
        self.admins: dict[int | str, list[JSONDict]] = {}
        # chat_id -> user_id -> ChatMember JSON (overrides admins; e.g. "left", "kicked", "restricted")
        self.members: dict[int | str, dict[int, JSONDict]] = {}
        # chat_id -> Chat JSON overriding the one derived from the id
        self.chats: dict[int | str, JSONDict] = {}
        # file_id -> bytes served by getFile + download
        self.files: dict[str, bytes] = {}
        self.commands: dict[str, list[JSONDict]] = {}
        self.messages: dict[tuple[Any, Any], JSONDict] = {}  # (chat_id, message_id) -> Message
        # setWebhook's url, secret_token and allowed_updates (empty: no webhook, getUpdates works)
        self.webhook: JSONDict = {}
        self.strict_edits = True  # "message is not modified" like the real server
        self.closed = False
        self._failures: list[ScriptedFailure] = []
        self._updates: list[JSONDict] = []
        self._next_message_id: dict[int | str, int] = {}
        self._counter = 0

    # ------------------------------------------------------------------ scripting

    def fail_next(
        self,
        method: str,
        chat_id: int | str | None = None,
        *,
        status: int = 429,
        retry_after: int = 3,
        description: str | None = None,
        migrate_to_chat_id: int | None = None,
        times: int | None = 1,
    ) -> None:
        """Answer the next ``times`` matching calls (``None`` = all until :meth:`clear_failures`)
        with a Telegram error. ``method="*"`` matches any method; ``chat_id`` narrows to one chat.

        status=429 -> ``parameters.retry_after`` (PTB: RetryAfter);
        migrate_to_chat_id=... (status 400) -> ``parameters.migrate_to_chat_id`` (ChatMigrated);
        status=403 -> Forbidden ("bot was blocked by the user" unless ``description``);
        other 400s -> BadRequest.
        """
        parameters: JSONDict | None = None
        if migrate_to_chat_id is not None:
            parameters = {"migrate_to_chat_id": migrate_to_chat_id}
        elif status == 429:
            parameters = {"retry_after": retry_after}
        desc = description or _default_description(status, retry_after, migrate_to_chat_id is not None)
        with self.lock:
            self._failures.append(ScriptedFailure(method, normalize_chat_id(chat_id), status, desc, parameters, times))

    def clear_failures(self) -> None:
        with self.lock:
            self._failures.clear()

    def _take_failure(self, method: str, params: JSONDict, *, exact: bool = False) -> ScriptedFailure | None:
        """The next scripted failure for this call (``exact``: scripted for this method by name, not "*")."""
        for failure in self._failures:
            if failure.matches(method, params) and (not exact or failure.method == method):
                if failure.times is not None:
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                return failure
        return None

    # ------------------------------------------------------------------ updates queue

    def push_update(self, update: JSONDict) -> None:
        """Queue an Update dict for getUpdates (needs ``update_id``, as the factories make)."""
        if "update_id" not in update:
            raise ValueError("update needs an update_id (use tests.support.updates factories)")
        with self._updates_cond:
            self._updates.append(_copy(update))
            self._updates.sort(key=lambda u: u["update_id"])
            self._updates_cond.notify_all()

    @property
    def pending_updates(self) -> list[JSONDict]:
        with self.lock:
            return list(self._updates)

    def take_updates(self, offset: int | None = None, limit: int | None = None) -> list[JSONDict]:
        """Non-blocking getUpdates semantics: ``offset`` confirms (drops) updates with smaller ids;
        a negative offset returns the last ``-offset`` updates."""
        with self.lock:
            if offset is not None and offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            pending = self._updates
            if offset is not None and offset < 0:
                pending = pending[offset:]
            n = limit if limit and 0 < limit <= 100 else 100
            return _copy(pending[:n])

    def has_updates(self, offset: int | None = None) -> bool:
        with self.lock:
            if offset is None or offset <= 0:
                return bool(self._updates)
            return any(u["update_id"] >= offset for u in self._updates)

    def wait_for_updates(self, offset: int | None, timeout: float) -> bool:
        """Blocking (threads): wait up to ``min(timeout, LONG_POLL_CAP)`` for updates at/after
        ``offset``; returns whether there are some. Does not consume them."""
        deadline = time.monotonic() + max(0.0, min(timeout, LONG_POLL_CAP))
        with self._updates_cond:
            while True:
                if self.has_updates(offset):
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.closed:
                    return False
                self._updates_cond.wait(remaining)

    def close(self) -> None:
        with self._updates_cond:
            self.closed = True
            self._updates_cond.notify_all()

    # ------------------------------------------------------------------ entry point

    def handle(self, method: str, params: JSONDict, files: dict[str, Upload] | None = None) -> tuple[int, JSONDict]:
        """Process one API call; returns ``(http_status, response_json)``. ``getUpdates`` here is
        non-blocking (the transports implement the long-poll wait)."""
        files = files or {}
        if api_schema.api_reference_available():
            canonical = api_schema.canonical_method(method)
            if canonical is None:  # like the real server; recorded as rejected
                body = error_body(404, "Not Found")
                with self.lock:
                    self.rejected.append(Call(method, params, files, error=body))
                return 404, body
            method_key = canonical
        else:
            method_key = method
        with self.lock:
            if method_key == "getMe":
                # only a failure scripted for getMe itself (e.g. a revoked token: status=401)
                failure = self._take_failure(method_key, params, exact=True)
                if failure is not None:
                    self.rejected.append(Call(method, params, files, error=failure.response()))
                    return failure.status, failure.response()
                return 200, {"ok": True, "result": dict(self.bot)}
            call = Call(method, params, files)
            failure = self._take_failure(method_key, params)
            if failure is not None:
                call.error = failure.response()
                self.rejected.append(call)
                return failure.status, call.error
            try:
                result = self._result(method_key, params, files)
            except _ApiError as exc:
                call.error = exc.body
                self.rejected.append(call)
                return exc.status, exc.body
            self.calls.append(call)
            return 200, {"ok": True, "result": result}

    # ------------------------------------------------------------------ chats and messages

    def chat_for(self, chat_id: Any) -> JSONDict:
        cid = normalize_chat_id(chat_id)
        if cid is None:
            raise _ApiError(400, "Bad Request: chat_id is empty")
        if cid in self.chats:
            return dict(self.chats[cid])
        if isinstance(cid, str):
            username = cid.lstrip("@")
            return {
                "id": -1_001_000_000_000 - (sum(map(ord, username)) % 10**6),
                "type": "channel",
                "title": username,
                "username": username,
            }
        if cid > 0:
            return {"id": cid, "type": "private", "first_name": f"User{cid}"}
        if str(cid).startswith("-100"):
            return {"id": cid, "type": "supergroup", "title": f"Supergroup {cid}"}
        return {"id": cid, "type": "group", "title": f"Group {cid}"}

    def _file_ids(self, prefix: str) -> tuple[str, str]:
        self._counter += 1
        return f"{prefix}AAxkBAAIB{self._counter:06d}", f"AgADf{self._counter:06d}"

    def _new_message(self, params: JSONDict, **content: Any) -> JSONDict:
        chat = self.chat_for(params.get("chat_id"))
        key = chat["id"]
        mid = self._next_message_id.get(key, 50_000_001)  # far from user message ids
        self._next_message_id[key] = mid + 1
        msg: JSONDict = {
            "message_id": mid,
            "from": bot_user(),
            "chat": chat,
            "date": int(time.time()),
        }
        if params.get("message_thread_id") is not None:
            msg["message_thread_id"] = params["message_thread_id"]
        reply = params.get("reply_parameters")
        if isinstance(reply, dict) and "message_id" in reply:
            original = self.messages.get((key, reply["message_id"]))
            msg["reply_to_message"] = (
                _copy(original) if original else {"message_id": reply["message_id"], "date": msg["date"], "chat": chat}
            )
        msg.update({k: v for k, v in content.items() if v is not None})
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            msg["reply_markup"] = _copy(markup)
        self.messages[(key, mid)] = msg
        return _copy(msg)

    def _upload_size(self, files: dict[str, Upload], name: str, default: int) -> int:
        return files[name].size if name in files else default

    def _media_message(self, method: str, params: JSONDict, files: dict[str, Upload]) -> JSONDict:
        caption = {"caption": params.get("caption"), "caption_entities": params.get("caption_entities")}
        if method == "sendPhoto":
            return self._new_message(params, photo=photo_sizes(), **caption)
        fid, fuid = self._file_ids(method[4:6])
        base = {"file_id": fid, "file_unique_id": fuid}
        field = {
            "sendVoice": "voice",
            "sendAudio": "audio",
            "sendDocument": "document",
            "sendVideo": "video",
            "sendAnimation": "animation",
            "sendSticker": "sticker",
            "sendVideoNote": "video_note",
        }[method]
        obj = dict(base, file_size=self._upload_size(files, field, 4096))
        if field in ("voice", "audio", "video", "animation", "video_note"):
            obj["duration"] = int(params.get("duration") or 1)
        if field == "voice":
            obj["mime_type"] = "audio/ogg"
        if field in ("video", "animation"):
            obj.update(width=params.get("width") or 640, height=params.get("height") or 480)
        if field == "video_note":
            obj["length"] = params.get("length") or 240
        if field == "sticker":
            obj.update(type="regular", width=512, height=512, is_animated=False, is_video=False)
            return self._new_message(params, sticker=obj)
        if field == "document":
            upload = files.get("document")
            obj.update(
                file_name=(upload.filename if upload else None) or "file.bin",
                mime_type=(upload.mime_type if upload else None) or "application/octet-stream",
            )
        return self._new_message(params, **{field: obj}, **caption)

    def _poll(self, params: JSONDict, closed: bool = False) -> JSONDict:
        options = []
        for i, opt in enumerate(params.get("options") or []):
            text = opt.get("text") if isinstance(opt, dict) else str(opt)
            options.append({"persistent_id": str(i), "text": text, "voter_count": 0})
        self._counter += 1
        return {
            "id": str(5_000_000_000_000_000_000 + self._counter),
            "question": params.get("question", ""),
            "options": options,
            "total_voter_count": 0,
            "is_closed": closed,
            "is_anonymous": params.get("is_anonymous", True),
            "type": params.get("type", "regular"),
            "allows_multiple_answers": params.get("allows_multiple_answers", False),
            "allows_revoting": True,
            "members_only": False,
        }

    def _edit(self, params: JSONDict, changes: JSONDict, keep_markup: bool = False) -> JSONDict | bool:
        if params.get("inline_message_id") is not None:
            return True
        chat = self.chat_for(params.get("chat_id"))
        key = (chat["id"], params.get("message_id"))
        old = self.messages.get(key)
        msg: JSONDict = (
            _copy(old)
            if old
            else {
                "message_id": params.get("message_id"),
                "from": bot_user(),
                "chat": chat,
                "date": int(time.time()),
            }
        )
        before = {k: msg.get(k) for k in (*changes, "reply_markup")}
        for k, v in changes.items():
            if v is None:
                msg.pop(k, None)
            else:
                msg[k] = v
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            msg["reply_markup"] = _copy(markup)
        elif not keep_markup:
            msg.pop("reply_markup", None)
        after = {k: msg.get(k) for k in before}
        if old is not None and self.strict_edits and before == after:
            raise _ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message",
            )
        msg["edit_date"] = int(time.time())
        self.messages[key] = msg
        return _copy(msg)

    # ------------------------------------------------------------------ membership

    def _as_member(self, entry: JSONDict) -> JSONDict:
        return _copy(entry) if "status" in entry else chat_member(entry, "administrator")

    def administrators(self, chat_id: Any) -> list[JSONDict]:
        cid = normalize_chat_id(chat_id)
        return [self._as_member(e) for e in self.admins.get(cid if cid is not None else 0, [])]

    def member(self, chat_id: Any, user_id: int) -> JSONDict:
        cid = normalize_chat_id(chat_id)
        if cid is None:
            raise _ApiError(400, "Bad Request: chat_id is empty")
        override = self.members.get(cid, {}).get(int(user_id))
        if override is not None:
            return self._as_member(override)
        for m in self.administrators(cid):
            if m["user"]["id"] == int(user_id):
                return m
        if int(user_id) == BOT_ID:
            return chat_member(bot_user(), "member")
        return chat_member({"id": int(user_id), "is_bot": False, "first_name": f"User{user_id}"}, "member")

    # ------------------------------------------------------------------ results

    def _result(self, method: str, params: JSONDict, files: dict[str, Upload]) -> Any:
        p = params
        if method == "getUpdates":
            if self.webhook.get("url"):  # as the real server
                raise _ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
            return self.take_updates(p.get("offset"), p.get("limit"))
        if method == "setWebhook":
            self.webhook = {k: p[k] for k in ("url", "secret_token", "allowed_updates") if p.get(k) is not None}
            if p.get("drop_pending_updates"):
                self._updates.clear()
            return True
        if method == "deleteWebhook":
            self.webhook = {}
            return True
        if method == "sendMessage":
            return self._new_message(p, text=p.get("text"), entities=p.get("entities"))
        if method in (
            "sendPhoto",
            "sendVoice",
            "sendAudio",
            "sendDocument",
            "sendVideo",
            "sendAnimation",
            "sendSticker",
            "sendVideoNote",
        ):
            return self._media_message(method, p, files)
        if method == "sendLocation":
            return self._new_message(p, location={"latitude": p.get("latitude"), "longitude": p.get("longitude")})
        if method == "sendContact":
            return self._new_message(
                p, contact={"phone_number": p.get("phone_number"), "first_name": p.get("first_name")}
            )
        if method == "sendDice":
            return self._new_message(p, dice={"emoji": p.get("emoji", "🎲"), "value": 4})
        if method == "sendPoll":
            return self._new_message(p, poll=self._poll(p))
        if method == "stopPoll":
            key = (self.chat_for(p.get("chat_id"))["id"], p.get("message_id"))
            stored = self.messages.get(key, {}).get("poll")
            poll = _copy(stored) if stored else self._poll({})
            poll["is_closed"] = True
            return poll
        if method == "sendMediaGroup":
            out = []
            for item in p.get("media") or []:
                kind = item.get("type", "photo") if isinstance(item, dict) else "photo"
                content: JSONDict = {"caption": item.get("caption") if isinstance(item, dict) else None}
                if kind == "photo":
                    content["photo"] = photo_sizes()
                else:
                    fid, fuid = self._file_ids(kind[:2])
                    content[kind] = {"file_id": fid, "file_unique_id": fuid}
                out.append(self._new_message(p, media_group_id="13" + str(self._counter), **content))
            return out
        if method == "forwardMessage":
            src = self.messages.get((self.chat_for(p.get("from_chat_id"))["id"], p.get("message_id")), {})
            content = {k: _copy(src[k]) for k in _MESSAGE_CONTENT_KEYS if k in src}
            origin = {
                "type": "chat",
                "sender_chat": self.chat_for(p.get("from_chat_id")),
                "date": int(time.time()),
            }
            return self._new_message(p, forward_origin=origin, **content)
        if method == "copyMessage":
            src = self.messages.get((self.chat_for(p.get("from_chat_id"))["id"], p.get("message_id")), {})
            content = {k: _copy(src[k]) for k in _MESSAGE_CONTENT_KEYS if k in src}
            if p.get("caption") is not None:
                content["caption"] = p["caption"]
            return {"message_id": self._new_message(p, **content)["message_id"]}
        if method in ("copyMessages", "forwardMessages"):
            return [{"message_id": self._new_message(p)["message_id"]} for _ in p.get("message_ids") or []]
        if method == "editMessageText":
            return self._edit(p, {"text": p.get("text"), "entities": p.get("entities")})
        if method == "editMessageCaption":
            return self._edit(p, {"caption": p.get("caption"), "caption_entities": p.get("caption_entities")})
        if method == "editMessageReplyMarkup":
            return self._edit(p, {})
        if method in ("editMessageMedia", "editMessageLiveLocation", "stopMessageLiveLocation"):
            return self._edit_loose(p)
        if method == "getChat":
            chat = self.chat_for(p.get("chat_id"))
            chat.update(
                accent_color_id=0,
                max_reaction_count=11,
                accepted_gift_types={
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            )
            return chat
        if method == "getChatAdministrators":
            return self.administrators(p.get("chat_id"))
        if method == "getChatMember":
            return self.member(p.get("chat_id"), p.get("user_id", 0))
        if method == "getChatMemberCount":
            return max(2, len(self.administrators(p.get("chat_id"))))
        if method == "getFile":
            file_id = str(p.get("file_id"))
            return {
                "file_id": file_id,
                "file_unique_id": "U" + file_id[-12:],
                "file_size": len(self.files.get(file_id, b"fake file content")),
                "file_path": f"files/{file_id}",
            }
        if method == "getWebhookInfo":  # like Telegram: never the secret
            info: JSONDict = {
                "url": self.webhook.get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
            if self.webhook.get("allowed_updates") is not None:
                info["allowed_updates"] = list(self.webhook["allowed_updates"])
            return info
        if method == "setMyCommands":
            self.commands[self._commands_key(p)] = list(p.get("commands") or [])
            return True
        if method == "deleteMyCommands":
            self.commands.pop(self._commands_key(p), None)
            return True
        if method == "getMyCommands":
            return list(self.commands.get(self._commands_key(p), []))
        if method == "deleteMessage":
            self.messages.pop((self.chat_for(p.get("chat_id"))["id"], p.get("message_id")), None)
            return True
        if method == "exportChatInviteLink":
            return "https://t.me/+AAAAAFakeInviteLink"
        if method in ("getMyName",):
            return {"name": self.bot["first_name"]}
        if method in ("getMyDescription",):
            return {"description": ""}
        if method in ("getMyShortDescription",):
            return {"short_description": ""}
        # answerCallbackQuery, setMyCommands, deleteMessages, sendChatAction, pin/unpin, ban/unban,
        # restrict/promote, leaveChat, setWebhook, deleteWebhook, setMessageReaction, ...
        return True

    def _edit_loose(self, p: JSONDict) -> JSONDict | bool:
        saved, self.strict_edits = self.strict_edits, False
        try:
            return self._edit(p, {}, keep_markup=True)
        finally:
            self.strict_edits = saved

    @staticmethod
    def _commands_key(p: JSONDict) -> str:
        return json.dumps([p.get("scope") or {"type": "default"}, p.get("language_code") or ""], sort_keys=True)

    def download(self, file_path: str) -> bytes:
        """Content served for ``<base_file_url>/<file_path>`` (see ``files``)."""
        file_id = file_path.rsplit("/", 1)[-1]
        return self.files.get(file_id, b"fake file content")


class _ApiError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.body = error_body(status, description)


# --------------------------------------------------------------------------- shared helper API


class RecordingHelpers:
    """Query helpers shared by RecordingRequest and FakeBotApiServer (need ``self.telegram``)."""

    telegram: FakeTelegram

    @property
    def calls(self) -> list[Call]:
        """Snapshot of accepted calls (everything except getMe and scripted failures)."""
        with self.telegram.lock:
            return list(self.telegram.calls)

    @property
    def rejected(self) -> list[Call]:
        """Snapshot of calls answered with an error (``Call.error`` holds the JSON)."""
        with self.telegram.lock:
            return list(self.telegram.rejected)

    @property
    def admins(self) -> dict[int | str, list[JSONDict]]:
        """Live map ``chat_id -> [ChatMember JSON | User JSON (-> administrator)]``."""
        return self.telegram.admins

    @property
    def members(self) -> dict[int | str, dict[int, JSONDict]]:
        """Live map ``chat_id -> {user_id: ChatMember JSON}`` (wins over ``admins``)."""
        return self.telegram.members

    @property
    def chats(self) -> dict[int | str, JSONDict]:
        return self.telegram.chats

    @property
    def files(self) -> dict[str, bytes]:
        """Live map ``file_id -> bytes`` served by getFile + File.download_*."""
        return self.telegram.files

    def fail_next(
        self,
        method: str,
        chat_id: int | str | None = None,
        *,
        status: int = 429,
        retry_after: int = 3,
        description: str | None = None,
        migrate_to_chat_id: int | None = None,
        times: int | None = 1,
    ) -> None:
        self.telegram.fail_next(
            method,
            chat_id,
            status=status,
            retry_after=retry_after,
            description=description,
            migrate_to_chat_id=migrate_to_chat_id,
            times=times,
        )

    fail_next.__doc__ = FakeTelegram.fail_next.__doc__

    def clear_failures(self) -> None:
        self.telegram.clear_failures()

    def push_update(self, update: JSONDict) -> None:
        self.telegram.push_update(update)

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]

    def sent_to(self, chat_id: int | str) -> list[Call]:
        """Accepted calls of any method whose ``chat_id`` is ``chat_id``."""
        cid = normalize_chat_id(chat_id)
        return [c for c in self.calls if c.chat_id == cid]

    def texts(self, chat_id: int | str) -> list[str]:
        """Texts/captions sent to or edited in ``chat_id`` (sendMessage, editMessageText, captions)."""
        return [c.text for c in self.sent_to(chat_id) if c.text is not None]

    def last(self, method: str | None = None) -> Call:
        """The last accepted call (of ``method``); AssertionError listing the calls if none."""
        for call in reversed(self.calls):
            if method is None or call.method == method:
                return call
        raise AssertionError(f"no {method or 'API'} call recorded; recorded: {self.methods()}")

    def clear(self) -> None:
        """Forget recorded calls (accepted and rejected); scripted failures stay."""
        with self.telegram.lock:
            self.telegram.calls.clear()
            self.telegram.rejected.clear()

    @staticmethod
    def buttons(call: Call | JSONDict) -> list[tuple[str, str]]:
        return buttons(call)

    def find(self, predicate: Callable[[Call], bool] | str) -> list[Call]:
        pred = as_predicate(predicate)
        return [c for c in self.calls if pred(c)]

    def _match(self, pred: Callable[[Call], bool], since: int) -> Call | None:
        return next((c for c in self.calls[since:] if pred(c)), None)

    def _timeout_error(self, what: str, timeout: float) -> TimeoutError:
        return TimeoutError(
            f"no call matching {what} within {timeout}s; recorded:\n{describe(self.calls)}"
            f"\nrejected:\n{describe(self.rejected)}"
        )

    def wait_for(self, predicate: Callable[[Call], bool] | str, timeout: float = 5.0, *, since: int = 0) -> Call:
        """Block (polling every 10 ms, at most ``timeout`` s) until an accepted call among
        ``calls[since:]`` matches ``predicate`` (a callable or a method name); return it, else
        raise TimeoutError listing what was recorded. Blocks the thread: from a coroutine whose
        event loop also runs the bot, use :meth:`wait_for_async`."""
        pred = as_predicate(predicate)
        deadline = time.monotonic() + timeout
        while True:
            found = self._match(pred, since)
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise self._timeout_error(repr(predicate), timeout)
            time.sleep(0.01)

    async def wait_for_async(
        self,
        predicate: Callable[[Call], bool] | str,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline is the point of this helper
        *,
        since: int = 0,
    ) -> Call:
        """Like :meth:`wait_for` but yields to the event loop while waiting."""
        import asyncio

        pred = as_predicate(predicate)
        deadline = time.monotonic() + timeout
        while True:
            found = self._match(pred, since)
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise self._timeout_error(repr(predicate), timeout)
            await asyncio.sleep(0.01)


def as_predicate(predicate: Callable[[Call], bool] | str) -> Callable[[Call], bool]:
    """A method name ``"sendMessage"`` becomes ``lambda c: c.method == "sendMessage"``."""
    if isinstance(predicate, str):
        name = predicate
        return lambda c: c.method == name
    return predicate


def describe(calls: Iterable[Call]) -> str:
    return "\n".join(f"  {c!r}" for c in calls) or "  (nothing)"
