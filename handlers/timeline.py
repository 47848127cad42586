"""An appeal as its reader follows it: the list of their appeals as buttons, and one appeal as a
timeline (who did what, when, what happens next), worded from the reader's side: the resident
reads "waiting for your answer", the head "waiting for the resident's answer"."""

from __future__ import annotations

from bot.dates import say_moment
from bot.i18n import Translator
from bot.models import Appeal, Button, Status
from bot.services.queries import AppealLine, AppealView

# the resident's own words for where their appeal stands
RESIDENT_STATUS = {
    Status.NEW: "status_you.new",
    Status.IN_PROGRESS: "status_you.in_progress",
    Status.WAITING: "status_you.waiting",
    Status.RESOLVED: "status_you.resolved",
    Status.CLOSED: "status_you.closed",
}
# what happens next, for the resident and for whoever handles the appeal
NEXT_FOR_RESIDENT = {
    Status.NEW: "next_you.new",
    Status.IN_PROGRESS: "next_you.in_progress",
    Status.WAITING: "next_you.waiting",
    Status.RESOLVED: "next_you.resolved",
    Status.CLOSED: "next_you.closed",
}
NEXT_FOR_HANDLER = {
    Status.NEW: "next_handler.new",
    Status.IN_PROGRESS: "next_handler.in_progress",
    Status.WAITING: "next_handler.waiting",
    Status.RESOLVED: "next_handler.resolved",
    Status.CLOSED: "next_handler.closed",
}
HANDLER_STATUS = {
    Status.NEW: "status.new",
    Status.IN_PROGRESS: "status.in_progress",
    Status.WAITING: "status.waiting",
    Status.RESOLVED: "status.resolved",
    Status.CLOSED: "status.closed",
}
SNIPPET = 28


def status_key(appeal: Appeal, *, resident: bool) -> str:
    return (RESIDENT_STATUS if resident else HANDLER_STATUS)[appeal.status]


def snippet(text: str, limit: int = SNIPPET) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def list_buttons(t: Translator, lines: list[AppealLine], *, resident: bool) -> tuple[tuple[Button, ...], ...]:
    """One button per appeal (opens its timeline): "#12 🔧 The lift is broken · being worked on"."""
    rows = []
    for line in lines:
        appeal = line.appeal
        icon = t(f"category.{appeal.category.value}").split(" ", 1)[0]
        label_params = {
            "id": appeal.id,
            "icon": icon,
            "text": snippet(appeal.body) if appeal.body else t("list.media_only"),
            "status": t(status_key(appeal, resident=resident)) + (" ⚠️" if line.overdue else ""),
        }
        rows.append((Button("btn.appeal_line", data=f"a:show:{appeal.id}", params=label_params),))
    return tuple(rows)


def timeline_text(t: Translator, view: AppealView, reader_id: int) -> str:
    """The appeal's card, its history in people's words, and what happens next."""
    appeal = view.appeal
    resident_reads = view.is_resident

    def who(user_id: int | None) -> str:
        if user_id is None:
            return t("timeline.bot")
        if user_id == reader_id:
            return t("timeline.you")
        if user_id == appeal.resident_id and user_id not in view.names:
            return t("appeal.anonymous_resident")
        return view.names.get(user_id, t("timeline.someone"))

    history = "\n".join(
        t(
            "timeline.line",
            at=say_moment(e.at, view.timezone, t.lang),
            event_key=f"event.{e.kind}",
            who=who(e.actor_id),
        )
        for e in view.history[-15:]
    )
    holder = view.holder or t(f"level.{appeal.level.name.lower()}")
    if appeal.assignee_user_id == reader_id:
        holder = t("timeline.you")
    level = t(f"level.{appeal.level.name.lower()}")
    next_key = (NEXT_FOR_RESIDENT if resident_reads else NEXT_FOR_HANDLER)[appeal.status]
    due = say_moment(appeal.due_at, view.timezone, t.lang) if appeal.due_at else "-"
    return t(
        "timeline.view",
        id=appeal.id,
        category_key=f"category.{appeal.category.value}",
        place=t("filing.place_unit", building=view.params.get("building", "?"), unit=view.params.get("unit"))
        if appeal.unit_id
        else t("filing.place", building=view.params.get("building", "?")),
        body=appeal.body or "-",
        status=t(status_key(appeal, resident=resident_reads)),
        holder=holder,
        level=level,
        due=due,
        history=history or "-",
        next=t(next_key, holder=holder, due=due),
    )
