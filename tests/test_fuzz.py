"""A seeded, bounded fuzz of the whole bot (issue 9, "bad input"): a few thousand updates over every
registered command and callback prefix, with hostile arguments (ids past 64 bits, negative,
non-ASCII digits, empty parts, 64-byte data, unicode), in every kind of chat (private, the world's
groups, a group registered nowhere, a channel), with and without a sender, as new, edited and channel
messages, and buttons under inline messages (no chat). 0 unhandled exceptions: nothing is logged at
ERROR (the error handler logs every bug there) and every update is processed.

The commands and prefixes come from the registered handlers, and the words of the buttons from the
buttons the bot itself sent while the world was built: a new handler is fuzzed without editing this
file.
"""

from __future__ import annotations

import logging
import os
import random
import re
from typing import Any

import pytest
from telegram.ext import CallbackQueryHandler, CommandHandler

from tests.harness import Harness
from tests.security_world import CHAT8, HILL_HOUSE, HILL_STAFF, HILL_STREET, LOBBY, ROLES, build_world
from tests.support import updates

# CI: this seed and count (about 20 s); a longer local hunt: FUZZ_SEED=7 FUZZ_UPDATES=20000 pytest tests/test_fuzz.py
SEED = int(os.environ.get("FUZZ_SEED", "20261202"))
UPDATES = int(os.environ.get("FUZZ_UPDATES", "2500"))
CHANNEL = updates.group_chat(-1001000000888, "Announcements", type="channel")
HOSTILE = (
    "99999999999999999999",
    "9223372036854775807",
    "9223372036854775808",
    "-1",
    "-9223372036854775809",
    "0",
    "²",
    "١٢",
    "",
    " ",
    "#1",
    "1e5",
    "0x10",
    "٣",
    "🏠",
    "楼",
    "Ж",
    "\u202e1",
    "a" * 40,
    "9" * 60,
    "%s",
    "{id}",
    "'; DROP TABLE appeals; --",
)


def literal_prefix(pattern: str) -> str:
    """``^pt:ch:(points|top):...`` -> ``pt:ch:``; ``^f:`` -> ``f:``."""
    found = re.match(r"\^((?:[a-z_]+:)+)", pattern)
    assert found, f"a button pattern without a literal prefix: {pattern}"
    return found.group(1)


def registered(h: Harness) -> tuple[list[str], list[str]]:
    commands: set[str] = set()
    prefixes: set[str] = set()
    for handlers in h.app.handlers.values():
        for handler in handlers:
            if isinstance(handler, CommandHandler):
                commands |= set(handler.commands)
            elif isinstance(handler, CallbackQueryHandler) and handler.pattern is not None:
                pattern = handler.pattern.pattern if isinstance(handler.pattern, re.Pattern) else str(handler.pattern)
                prefixes.add(literal_prefix(pattern))
    return sorted(commands), sorted(prefixes)


def deep_link_prefixes(h: Harness) -> list[str]:
    """The ``/start`` payload kinds of the bot's own link buttons (``ap_``, ``act_reply_`` ...), and the
    two that come in images (the ID card's ``card_``, the perk code's ``rc_``)."""
    found = {"card_", "rc_"}
    for call in h.rt.telegram.calls:
        for _, url in call.buttons:
            payload = re.search(r"[?&]start(?:group)?=([A-Za-z0-9_-]+)", url)
            if payload:
                found.add(re.sub(r"[0-9]+$", "", payload.group(1)) or payload.group(1))
    return sorted(found)


def button_words(h: Harness) -> list[str]:
    """Every part of every callback data the bot has sent (ids, actions, categories)."""
    words: set[str] = set()
    for call in h.rt.telegram.calls:
        for _, data in call.buttons:
            if data:
                words |= set(data.split(":"))
    return sorted(words)


class Fuzzer:
    def __init__(self, h: Harness, rng: random.Random, words: list[str]) -> None:
        self.h = h
        self.rng = rng
        self.words = words
        people = [r.who for r in ROLES] + [h.p.staff, h.p.bhead, h.p.uhead, h.p.resident, h.p.street]
        self.people = people
        self.groups = [
            h.p.staff_chat,
            h.p.building_chat,
            h.p.street_chat,
            CHAT8,
            HILL_STAFF,
            HILL_HOUSE,
            HILL_STREET,
            LOBBY,
        ]

    def value(self) -> str:
        pick = self.rng.random()
        if pick < 0.45:
            return self.rng.choice(HOSTILE)
        if pick < 0.9:
            return self.rng.choice(self.words)
        return str(self.rng.randint(-(2**70), 2**70))

    def chat(self, who: dict[str, Any]) -> dict[str, Any]:
        pick = self.rng.random()
        if pick < 0.4:
            return updates.private_chat(who)
        if pick < 0.93:
            return self.rng.choice(self.groups)
        return CHANNEL

    def data(self, prefixes: list[str]) -> str:
        parts = [self.value() for _ in range(self.rng.randint(0, 4))]
        text = self.rng.choice(prefixes) + ":".join(parts)
        while len(text.encode()) > 64:  # Telegram's limit for callback data
            text = text[:-1]
        return text or "x"

    def args(self) -> str:
        return " ".join(self.value() for _ in range(self.rng.randint(0, 4)))

    def command(self, name: str) -> dict[str, Any]:
        who = self.rng.choice(self.people)
        chat = self.chat(who)
        raw = updates.command(who, chat, name, self.args(), addressed=self.rng.random() < 0.1)
        if chat["type"] == "channel":
            message = raw.pop("message")
            message.pop("from", None)
            raw["channel_post"] = message
        elif self.rng.random() < 0.08:  # sent as a channel / anonymously: no sender
            raw["message"].pop("from", None)
            raw["message"]["sender_chat"] = CHANNEL
        elif self.rng.random() < 0.08:
            raw["edited_message"] = raw.pop("message")
            raw["edited_message"]["edit_date"] = raw["edited_message"]["date"]
        return raw

    def button(self, prefixes: list[str]) -> dict[str, Any]:
        who = self.rng.choice(self.people)
        chat = self.chat(who)
        under = updates.message_dict(updates.bot_user(), chat, text="…")
        raw = updates.callback_query(who, under, self.data(prefixes))
        if self.rng.random() < 0.05:  # a button under an inline message: no chat at all
            del raw["callback_query"]["message"]
            raw["callback_query"]["inline_message_id"] = "AAAAAQ"
        return raw

    def deep_link(self, prefixes: list[str]) -> dict[str, Any]:
        who = self.rng.choice(self.people)
        chat = updates.private_chat(who) if self.rng.random() < 0.8 else self.rng.choice(self.groups)
        return updates.command(who, chat, "start", self.rng.choice(prefixes) + self.value())

    def reply_or_media(self) -> dict[str, Any]:
        """A text reply to a message of the bot, or a photo, voice, document or sticker."""
        who = self.rng.choice(self.people)
        chat = self.chat(who) if self.rng.random() < 0.5 else updates.private_chat(who)
        if chat["type"] == "channel":
            chat = updates.private_chat(who)
        pick = self.rng.random()
        if pick < 0.4:
            sent = [key for key in self.h.rt.telegram.messages if key[0] == chat["id"]]
            replied = self.h.rt.telegram.messages[self.rng.choice(sent)] if sent else None
            return updates.message(who, chat, self.value() or "?", reply_to=replied)
        if pick < 0.6:
            return updates.photo_message(who, chat, caption=self.value() or None)
        if pick < 0.75:
            return updates.voice_message(who, chat)
        kind = self.rng.choice(("document", "sticker", "location", "contact"))
        body = {
            "document": {"file_id": "BQACAgIAAxkBAAI", "file_unique_id": "AgAD", "file_name": "x.csv"},
            "sticker": {
                "file_id": "CAACAgIAAxkBAAI",
                "file_unique_id": "AgADs",
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
            },
            "location": {"latitude": 31.2, "longitude": 121.5},
            "contact": {"phone_number": "+8613800000000", "first_name": "X"},
        }[kind]
        content: dict[str, Any] = {kind: body}
        return updates.wrap("message", updates.message_dict(who, chat, **content))

    def membership(self) -> dict[str, Any]:
        """The bot or a person added to or removed from a group (the bot's own chats included)."""
        who = self.rng.choice(self.people)
        chat = self.rng.choice(self.groups)
        pick = self.rng.random()
        if pick < 0.3:
            return updates.bot_removed(chat, who)
        if pick < 0.6:
            return updates.bot_added(chat, who, as_admin=self.rng.random() < 0.5)
        if pick < 0.9:
            return updates.new_chat_members(chat, who, [self.rng.choice(self.people)])
        return updates.left_chat_member(chat, who)

    def private_text(self) -> dict[str, Any]:
        who = self.rng.choice(self.people)
        text = " ".join(self.value() for _ in range(self.rng.randint(1, 5))) or "?"
        return updates.message(who, updates.private_chat(who), text)


async def test_fuzz_every_command_and_button(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    await build_world(h)
    await h.cmd(h.p.resident, h.p.building_chat, "appeal")  # the filing link button (ap_)
    commands, prefixes = registered(h)
    assert len(commands) >= 30 and {
        "f:",
        "a:",
        "uh:",
        "mu:",
        "lang:",
        "pt:h:",
        "pk:",
        "ev:",
        "ep:",
        "pv:",
        "wi:",
        "cr:",
    } <= set(prefixes)
    words, links = button_words(h), deep_link_prefixes(h)
    assert len(words) > 20 and {"ap_", "card_", "rc_"} <= set(links)
    fuzz = Fuzzer(h, random.Random(SEED), words)
    caplog.clear()
    caplog.set_level(logging.WARNING)
    kinds = {"command": 0, "button": 0, "deep link": 0, "text": 0, "reply or media": 0, "membership": 0}
    for i in range(UPDATES):
        pick = fuzz.rng.random()
        if pick < 0.4:
            name = commands[i % len(commands)] if i < 4 * len(commands) else fuzz.rng.choice(commands)
            raw, kind = fuzz.command(name), "command"
        elif pick < 0.8:
            raw, kind = fuzz.button(prefixes), "button"
        elif pick < 0.86:
            raw, kind = fuzz.deep_link(links), "deep link"
        elif pick < 0.91:
            raw, kind = fuzz.private_text(), "text"
        elif pick < 0.98:
            raw, kind = fuzz.reply_or_media(), "reply or media"
        else:
            raw, kind = fuzz.membership(), "membership"
        kinds[kind] += 1
        await h.send(raw, drain=i % 50 == 0)
    await h.app.bot_data.outbox().drain()
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not failures, f"{len(failures)} unhandled errors in {UPDATES} updates: {failures[:5]}"
    assert min(kinds.values()) > 20, kinds
