"""Factories for Update JSON shaped exactly as the Bot API sends it.

Every factory returns a plain ``dict``; turn it into PTB objects with
``telegram.Update.de_json(d, app.bot)``.  ``update_id`` and ``message_id`` auto-increment
(module-wide counters), ``date`` defaults to "now" as a Unix timestamp.

Entity offsets/lengths are in UTF-16 code units, as Telegram counts them.
"""

from __future__ import annotations

import datetime as dtm
import itertools
import re
import threading
import time
from typing import Any

BOT_ID = 777000111
BOT_USERNAME = "unitbot_test_bot"
BOT_FIRST_NAME = "Unitbot Test"

_lock = threading.Lock()
_update_ids = itertools.count(100_001)
_message_ids = itertools.count(1)
_callback_ids = itertools.count(1)
_file_ids = itertools.count(1)

_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{5,32})?")
_MENTION_RE = re.compile(r"(?<![\w@/])@[A-Za-z0-9_]{5,32}\b")

JSONDict = dict[str, Any]


# --------------------------------------------------------------------------- counters / helpers


def next_update_id() -> int:
    with _lock:
        return next(_update_ids)


def next_message_id() -> int:
    with _lock:
        return next(_message_ids)


def _next_file_token(prefix: str) -> tuple[str, str]:
    with _lock:
        n = next(_file_ids)
    return f"{prefix}AgACAgIAAxkBAAI{n:06d}", f"AQAD{n:06d}"


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (Telegram's unit for entity offsets)."""
    return len(text.encode("utf-16-le")) // 2


def timestamp(date: dtm.datetime | int | float | None = None) -> int:
    """Unix timestamp for ``date`` (aware datetime, number, or None = now)."""
    if date is None:
        return int(time.time())
    if isinstance(date, dtm.datetime):
        if date.tzinfo is None:
            raise ValueError("use an aware datetime (tzinfo=UTC) for Telegram dates")
        return int(date.timestamp())
    return int(date)


def message_of(obj: JSONDict) -> JSONDict:
    """The Message dict inside an Update dict (or ``obj`` itself if it already is a Message)."""
    for key in ("message", "edited_message", "channel_post", "edited_channel_post"):
        if key in obj and "update_id" in obj:
            inner: JSONDict = obj[key]
            return inner
    if "callback_query" in obj and "message" in obj["callback_query"]:
        cq_msg: JSONDict = obj["callback_query"]["message"]
        return cq_msg
    return obj


# --------------------------------------------------------------------------- users / chats


def user(
    id: int,
    first_name: str = "Anna",
    username: str | None = None,
    language_code: str | None = "en",
    *,
    last_name: str | None = None,
    is_bot: bool = False,
    is_premium: bool | None = None,
) -> JSONDict:
    """A ``User`` object."""
    u: JSONDict = {"id": id, "is_bot": is_bot, "first_name": first_name}
    if last_name is not None:
        u["last_name"] = last_name
    if username is not None:
        u["username"] = username
    if language_code is not None:
        u["language_code"] = language_code
    if is_premium is not None:
        u["is_premium"] = is_premium
    return u


def bot_user(*, full: bool = False) -> JSONDict:
    """The test bot as it appears in updates (``full=True``: as returned by ``getMe``)."""
    u: JSONDict = {"id": BOT_ID, "is_bot": True, "first_name": BOT_FIRST_NAME, "username": BOT_USERNAME}
    if full:
        u.update(
            {
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
                "can_connect_to_business": False,
                "has_main_web_app": False,
            }
        )
    return u


def private_chat(u: JSONDict) -> JSONDict:
    """The private chat of user ``u`` with the bot (chat id == user id)."""
    c: JSONDict = {"id": u["id"], "type": "private", "first_name": u["first_name"]}
    for key in ("last_name", "username"):
        if key in u:
            c[key] = u[key]
    return c


def group_chat(
    id: int,
    title: str = "Test group",
    type: str = "supergroup",
    *,
    username: str | None = None,
    is_forum: bool | None = None,
) -> JSONDict:
    """A group/supergroup/channel ``Chat``. Ids must be negative (supergroups: -100...)."""
    if id >= 0:
        raise ValueError("group and channel chat ids are negative")
    c: JSONDict = {"id": id, "title": title, "type": type}
    if username is not None:
        c["username"] = username
    if is_forum is not None:
        c["is_forum"] = is_forum
    return c


def chat_member(u: JSONDict, status: str = "member", *, until_date: int = 0, **overrides: Any) -> JSONDict:
    """A fully shaped ``ChatMember`` of the given status.

    status: creator (owner) | administrator | member | restricted | left | kicked
    """
    m: JSONDict = {"status": status, "user": u}
    if status == "creator":
        m["is_anonymous"] = False
    elif status == "administrator":
        m.update(
            {
                "can_be_edited": False,
                "is_anonymous": False,
                "can_manage_chat": True,
                "can_delete_messages": True,
                "can_manage_video_chats": True,
                "can_restrict_members": True,
                "can_promote_members": False,
                "can_change_info": True,
                "can_invite_users": True,
                "can_post_stories": False,
                "can_edit_stories": False,
                "can_delete_stories": False,
                "can_pin_messages": True,
                "can_manage_topics": False,
            }
        )
    elif status == "restricted":
        m.update(
            {
                "is_member": True,
                "can_send_messages": False,
                "can_send_audios": False,
                "can_send_documents": False,
                "can_send_photos": False,
                "can_send_videos": False,
                "can_send_video_notes": False,
                "can_send_voice_notes": False,
                "can_send_polls": False,
                "can_send_other_messages": False,
                "can_add_web_page_previews": False,
                "can_react_to_messages": False,
                "can_edit_tag": False,
                "can_change_info": False,
                "can_invite_users": False,
                "can_pin_messages": False,
                "can_manage_topics": False,
                "until_date": until_date,
            }
        )
    elif status == "kicked":
        m["until_date"] = until_date
    elif status not in ("member", "left"):
        raise ValueError(f"unknown chat member status {status!r}")
    m.update(overrides)
    return m


def owner(u: JSONDict) -> JSONDict:
    return chat_member(u, "creator")


def administrator(u: JSONDict, **rights: Any) -> JSONDict:
    return chat_member(u, "administrator", **rights)


# --------------------------------------------------------------------------- entities


def detect_entities(text: str, bot_username: str = BOT_USERNAME) -> list[JSONDict]:
    """Entities Telegram would auto-create: a leading ``/command[@bot]`` and ``@username`` mentions."""
    entities: list[JSONDict] = []
    cmd_end = 0
    m = _COMMAND_RE.match(text)
    if m:
        entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(m.group(0))})
        cmd_end = m.end()
    for mm in _MENTION_RE.finditer(text, cmd_end):
        entities.append({"type": "mention", "offset": utf16_len(text[: mm.start()]), "length": utf16_len(mm.group(0))})
    return entities


def text_mention_entity(text: str, mention_text: str, mentioned: JSONDict, *, start: int = 0) -> JSONDict:
    """A ``text_mention`` entity for the first ``mention_text`` in ``text`` (at/after ``start``)."""
    pos = text.find(mention_text, start)
    if pos < 0:
        raise ValueError(f"{mention_text!r} not found in {text!r}")
    return {
        "type": "text_mention",
        "offset": utf16_len(text[:pos]),
        "length": utf16_len(mention_text),
        "user": mentioned,
    }


def _sorted_entities(entities: list[JSONDict]) -> list[JSONDict]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


# --------------------------------------------------------------------------- messages


def message_dict(
    from_user: JSONDict | None,
    chat: JSONDict,
    *,
    reply_to: JSONDict | None = None,
    date: dtm.datetime | int | None = None,
    message_id: int | None = None,
    message_thread_id: int | None = None,
    **content: Any,
) -> JSONDict:
    """A bare ``Message`` dict (no Update envelope); ``content`` is merged in (text, photo, ...)."""
    msg: JSONDict = {
        "message_id": message_id if message_id is not None else next_message_id(),
        "date": timestamp(date),
        "chat": chat,
    }
    if from_user is not None:
        msg["from"] = from_user
    if message_thread_id is not None:
        msg["message_thread_id"] = message_thread_id
        msg["is_topic_message"] = True
    if reply_to is not None:
        msg["reply_to_message"] = message_of(reply_to)
    msg.update({k: v for k, v in content.items() if v is not None})
    return msg


def wrap(kind: str, payload: JSONDict) -> JSONDict:
    """Wrap ``payload`` in an Update envelope: ``{"update_id": n, kind: payload}``."""
    return {"update_id": next_update_id(), kind: payload}


def message(
    from_user: JSONDict,
    chat: JSONDict,
    text: str,
    *,
    reply_to: JSONDict | None = None,
    entities: list[JSONDict] | None = None,
    auto_entities: bool = True,
    date: dtm.datetime | int | None = None,
    message_id: int | None = None,
    message_thread_id: int | None = None,
    edited: bool = False,
) -> JSONDict:
    """A text message Update. Leading ``/cmd`` / ``/cmd@bot`` and ``@username`` get entities
    automatically; extra ``entities`` (e.g. :func:`text_mention_entity`) are merged in."""
    ents = detect_entities(text) if auto_entities else []
    ents += entities or []
    msg = message_dict(
        from_user,
        chat,
        reply_to=reply_to,
        date=date,
        message_id=message_id,
        message_thread_id=message_thread_id,
        text=text,
    )
    if ents:
        msg["entities"] = _sorted_entities(ents)
    if edited:
        msg["edit_date"] = msg["date"]
        return wrap("edited_message", msg)
    return wrap("message", msg)


def command(
    from_user: JSONDict,
    chat: JSONDict,
    name: str,
    args: str = "",
    *,
    addressed: bool = False,
    bot_username: str = BOT_USERNAME,
    mention: JSONDict | None = None,
    mention_text: str | None = None,
    reply_to: JSONDict | None = None,
    date: dtm.datetime | int | None = None,
    message_thread_id: int | None = None,
) -> JSONDict:
    """``/name[@bot] [args] [mention]`` as a message Update.

    ``addressed=True`` appends ``@bot_username`` (as in groups). ``mention=user_dict`` appends
    ``mention_text`` (default: the user's first name) with a ``text_mention`` entity — how a
    user without a username is addressed.
    """
    text = f"/{name.lstrip('/')}"
    if addressed:
        text += f"@{bot_username}"
    if args:
        text += f" {args}"
    extra: list[JSONDict] = []
    if mention is not None:
        label = mention_text or mention["first_name"]
        start = len(text) + 1
        text += f" {label}"
        extra.append(text_mention_entity(text, label, mention, start=start))
    return message(
        from_user,
        chat,
        text,
        reply_to=reply_to,
        entities=extra,
        date=date,
        message_thread_id=message_thread_id,
    )


def voice_message(
    from_user: JSONDict,
    chat: JSONDict,
    *,
    duration: int = 3,
    mime_type: str = "audio/ogg",
    file_size: int = 12_345,
    file_id: str | None = None,
    caption: str | None = None,
    reply_to: JSONDict | None = None,
    date: dtm.datetime | int | None = None,
) -> JSONDict:
    """A voice message Update."""
    fid, fuid = _next_file_token("AwACAgIAAxkBAAI")
    voice = {
        "duration": duration,
        "mime_type": mime_type,
        "file_id": file_id or fid,
        "file_unique_id": fuid,
        "file_size": file_size,
    }
    msg = message_dict(from_user, chat, reply_to=reply_to, date=date, voice=voice, caption=caption)
    return wrap("message", msg)


def photo_sizes(sizes: tuple[tuple[int, int], ...] = ((90, 67), (320, 240), (1280, 960))) -> list[JSONDict]:
    """An array of ``PhotoSize`` (one photo in several resolutions, smallest first)."""
    out = []
    for w, h in sizes:
        fid, fuid = _next_file_token("AgACAgIAAxkBAAI")
        out.append({"file_id": fid, "file_unique_id": fuid, "file_size": w * h // 10, "width": w, "height": h})
    return out


def photo_message(
    from_user: JSONDict,
    chat: JSONDict,
    *,
    caption: str | None = None,
    caption_entities: list[JSONDict] | None = None,
    sizes: tuple[tuple[int, int], ...] = ((90, 67), (320, 240), (1280, 960)),
    reply_to: JSONDict | None = None,
    date: dtm.datetime | int | None = None,
) -> JSONDict:
    """A photo message Update, optionally captioned (caption commands get a bot_command entity)."""
    msg = message_dict(from_user, chat, reply_to=reply_to, date=date, photo=photo_sizes(sizes))
    if caption is not None:
        msg["caption"] = caption
        ents = detect_entities(caption) + (caption_entities or [])
        if ents:
            msg["caption_entities"] = _sorted_entities(ents)
    return wrap("message", msg)


def callback_query(
    from_user: JSONDict,
    message: JSONDict,
    data: str,
    *,
    chat_instance: str | None = None,
    query_id: str | None = None,
) -> JSONDict:
    """A callback_query Update for a button under ``message`` (a Message dict, an Update dict,
    or a Message JSON returned by the fake Bot API)."""
    msg = message_of(message)
    with _lock:
        n = next(_callback_ids)
    cq: JSONDict = {
        "id": query_id or f"{4_400_000_000_000_000_000 + n}",
        "from": from_user,
        "message": msg,
        "chat_instance": chat_instance or f"-{abs(msg['chat']['id']) * 7 + 13}",
        "data": data,
    }
    return wrap("callback_query", cq)


def my_chat_member(
    chat: JSONDict,
    from_user: JSONDict,
    old_status: str,
    new_status: str,
    *,
    date: dtm.datetime | int | None = None,
    member: JSONDict | None = None,
) -> JSONDict:
    """The bot's own membership changed (added to / removed from a group, promoted, or — in a
    private chat — blocked ("kicked") / unblocked ("member") by the user)."""
    who = member or bot_user()
    payload = {
        "chat": chat,
        "from": from_user,
        "date": timestamp(date),
        "old_chat_member": chat_member(who, old_status),
        "new_chat_member": chat_member(who, new_status),
    }
    return wrap("my_chat_member", payload)


def bot_added(chat: JSONDict, by: JSONDict, *, as_admin: bool = False) -> JSONDict:
    return my_chat_member(chat, by, "left", "administrator" if as_admin else "member")


def bot_removed(chat: JSONDict, by: JSONDict) -> JSONDict:
    return my_chat_member(chat, by, "member", "left")


def chat_member_updated(
    chat: JSONDict, from_user: JSONDict, member: JSONDict, old_status: str, new_status: str
) -> JSONDict:
    """A ``chat_member`` Update (only delivered if requested in allowed_updates and bot is admin)."""
    payload = {
        "chat": chat,
        "from": from_user,
        "date": timestamp(),
        "old_chat_member": chat_member(member, old_status),
        "new_chat_member": chat_member(member, new_status),
    }
    return wrap("chat_member", payload)


def migrate_to_chat_id(old_chat: JSONDict, from_user: JSONDict, new_id: int) -> JSONDict:
    """Service message in the old group: it was upgraded to supergroup ``new_id``."""
    return wrap("message", message_dict(from_user, old_chat, migrate_to_chat_id=new_id))


def migrate_from_chat_id(new_chat: JSONDict, from_user: JSONDict, old_id: int) -> JSONDict:
    """Service message in the new supergroup (Telegram sends it after migrate_to_chat_id)."""
    return wrap("message", message_dict(from_user, new_chat, migrate_from_chat_id=old_id))


def new_chat_members(chat: JSONDict, from_user: JSONDict, members: list[JSONDict] | None = None) -> JSONDict:
    """Service message: ``members`` (default: the sender) joined/were added."""
    joined = members if members is not None else [from_user]
    msg = message_dict(from_user, chat, new_chat_members=joined)
    if joined:
        msg["new_chat_participant"] = joined[0]
        msg["new_chat_member"] = joined[0]
    return wrap("message", msg)


def left_chat_member(chat: JSONDict, from_user: JSONDict, member: JSONDict | None = None) -> JSONDict:
    """Service message: ``member`` (default: the sender) left/was removed."""
    gone = member or from_user
    return wrap("message", message_dict(from_user, chat, left_chat_member=gone, left_chat_participant=gone))
