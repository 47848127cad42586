"""One appeal on the dashboard: its card, its history (every event, with the words of replies and
questions), its deadlines and how each ended, the pauses, and the actions the reader may take."""

from __future__ import annotations

from datetime import datetime

from bot.dates import say_moment
from bot.i18n import Translator
from bot.models import Level
from bot.services.dashboard.views import Timeline, Viewer
from bot.web.dashboard_pages import e, nav

# how each deadline kind and each way a deadline ended is said (a kind or an outcome not listed: "passed")
DEADLINE_KEYS = {
    "first_reply": "dash.deadline.first_reply",
    "resolve": "dash.deadline.resolve",
    "remind": "dash.deadline.remind",
    "reping": "dash.deadline.reping",
    "autoclose": "dash.deadline.autoclose",
    "rate_again": "dash.deadline.rate_again",
    "revisit": "dash.deadline.revisit",
}
OUTCOME_KEYS = {
    "answered": "dash.outcome.answered",
    "confirmed": "dash.outcome.confirmed",
    "escalated": "dash.outcome.escalated",
    "paused": "dash.outcome.paused",
    "reassigned": "dash.outcome.reassigned",
    "reopened": "dash.outcome.reopened",
    "resolved": "dash.outcome.resolved",
    "cancelled": "dash.outcome.cancelled",
}
SHOWN_DETAIL = ("text", "note")  # the words of a reply, a question, a resolution note


# --- one appeal --------------------------------------------------------------------------------------
def timeline(t: Translator, viewer: Viewer, view: Timeline, flash: str = "") -> str:
    a = view.row.appeal
    tz = view.row.timezone

    def when(moment: object) -> str:
        return say_moment(moment, tz, t.lang) if isinstance(moment, datetime) else "-"

    def who(user_id: int | None) -> str:
        if user_id is None:
            return t("timeline.bot")
        if user_id == viewer.user.id:
            return t("timeline.you")
        if user_id == a.resident_id and user_id not in view.names:
            return t("appeal.anonymous_resident")
        return view.names.get(user_id, t("timeline.someone"))

    events = []
    for ev in view.events:
        extra = ""
        for key in SHOWN_DETAIL:
            words = ev.detail.get(key)
            if isinstance(words, str) and words.strip():
                extra = f'<div class="words">{e(words)}</div>'
        if ev.kind == "reassigned":
            to = ev.detail.get("to_user")
            extra = (
                f'<div class="words">→ {e(t(f"level.{ev.level.name.lower()}"))}'
                + (f" · {e(who(to))}" if isinstance(to, int) else "")
                + "</div>"
            )
        elif ev.kind == "escalated":
            extra = f'<div class="words">→ {e(t(f"level.{ev.level.name.lower()}"))}</div>'
        events.append(
            f'<li data-event="{e(ev.kind)}"><span class="at">{e(when(ev.at))}</span> '
            f"{e(t(f'event.{ev.kind}'))} · {e(who(ev.actor_id))}{extra}</li>"
        )
    deadlines = "".join(
        f"<tr><td>{e(t(DEADLINE_KEYS.get(d.kind, 'dash.deadline.resolve')))}</td><td>{e(when(d.due_at))}</td><td>"
        + (
            e(t(OUTCOME_KEYS.get(d.outcome or "", "dash.outcome.done"))) + " · " + e(when(d.done_at))
            if d.done_at
            else e(t("dash.outcome.pending"))
        )
        + "</td></tr>"
        for d in view.deadlines
    )
    pauses = "".join(
        f"<li>{e(when(p.start))} → {e(when(p.end) if p.end else t('dash.pause.still'))}</li>" for p in view.pauses
    )
    place = (
        t("filing.place_unit", building=view.row.building, unit=view.row.unit) if view.row.unit else view.row.building
    )
    holder = view.holder or t(f"level.{a.level.name.lower()}")
    head = (
        f"<h1>#{a.id} {e(t(f'category.{a.category.value}'))}</h1>"
        f'<p class="place">{e(place)}</p><p class="body">{e(a.body or "-")}</p>'
        f'<p class="small">{e(t(f"status.{a.status.value}"))} · {e(t(f"level.{a.level.name.lower()}"))} · '
        f"{e(t('dash.holder', holder=holder))}"
        + (f" · {e(t('dash.due', due=when(a.due_at)))}" if a.due_at and a.status.is_open else "")
        + "</p>"
    )
    parts = [
        nav(t, viewer, "appeals"),
        '<a href="#appeals" data-page="appeals" class="back">',
        e(t("dash.back")),
        "</a>",
        flash,
        f'<section class="appeal" data-id="{a.id}">{head}',
    ]
    parts.append(actions(t, view))
    parts.append(f'<h2>{e(t("dash.timeline.events"))}</h2><ol class="events">{"".join(events)}</ol>')
    parts.append(f"<h2>{e(t('dash.timeline.deadlines'))}</h2>")
    parts.append(f"<table><tbody>{deadlines}</tbody></table>" if deadlines else e(t("dash.timeline.no_deadlines")))
    parts.append(f"<h2>{e(t('dash.timeline.pauses'))}</h2>")
    parts.append(f"<ul>{pauses}</ul>" if pauses else e(t("dash.timeline.no_pauses")))
    parts.append("</section>")
    return "".join(parts)


def actions(t: Translator, view: Timeline) -> str:
    a = view.row.appeal
    out = []
    if view.may_act:
        out.append(
            f'<form class="act" data-action="reply" data-id="{a.id}"><label>{e(t("dash.act.reply_label"))}'
            f'<textarea name="text" rows="3" maxlength="2000" required></textarea></label>'
            f'<button type="submit">{e(t("dash.act.reply"))}</button></form>'
        )
    if view.may_escalate:
        out.append(
            f'<form class="act" data-action="escalate" data-id="{a.id}" '
            f'data-confirm="{e(t("dash.act.escalate_confirm", id=a.id))}">'
            f'<button type="submit">{e(t("dash.act.escalate"))}</button></form>'
        )
    if view.holders:
        options = "".join(
            f'<option value="{e(h.target)}">{e(holder_label(t, h.level, h.name, h.unit))}</option>'
            for h in view.holders
        )
        out.append(
            f'<form class="act" data-action="reassign" data-id="{a.id}"><label>{e(t("dash.act.reassign_label"))}'
            f'<select name="target">{options}</select></label>'
            f'<button type="submit">{e(t("dash.act.reassign"))}</button></form>'
        )
    return f'<div class="actions">{"".join(out)}</div>' if out else ""


def holder_label(t: Translator, level: Level, name: str, unit: str) -> str:
    level_text = t(f"level.{level.name.lower()}")
    if level == Level.UNIT:
        return f"{level_text} {unit}: {name}"
    if level == Level.BUILDING:
        return f"{level_text}: {name}"
    return level_text
