"""The staff dashboard, a Telegram Mini App, on the bot's own HTTP server:

* ``GET /app/``: the page (a shell: the script, the styles, and the words "open it from the bot"
  shown when it is opened outside Telegram); ``/app/dashboard.js``, ``/app/dashboard.css``;
* ``GET /app/api/{overview,appeals,appeal,heads,elections,reports,report}``: the pages' HTML in the
  reader's language (``report``: a CSV file);
* ``POST /app/api/appeal/{id}/{reply,escalate,reassign}``: staff and heads act on an appeal.

Every ``/app/api/`` request carries ``Authorization: tma <initData>``: no valid, fresh signature,
401; a person without any post, 403; an id outside what they may see, 403. The scope is resolved
for every request; responses are ``Cache-Control: no-store`` and vary by ``Authorization``, so no
page is kept for another person. Nothing here imports the PTB wiring: the dashboard service, the
catalogs, the clock and the token are injected.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from importlib import resources

from aiohttp import web

from bot.clock import Clock
from bot.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied
from bot.i18n import Catalogs, Translator, normalize
from bot.models import UserInfo
from bot.services.dashboard import DashboardService, InitDataRejected, Viewer, parse_filter, verify_init_data
from bot.services.dashboard.scope import Reach
from bot.services.dashboard.views import bounded_id
from bot.services.stats.report import csv_bytes, xlsx_bytes
from bot.services.workflow import Outcome
from bot.web import dashboard_pages as pages
from bot.web.dashboard_timeline import timeline

log = logging.getLogger(__name__)

NO_STORE = {"Cache-Control": "no-store", "Vary": "Authorization, Accept-Language"}
# the page runs only its own script and Telegram's; every fragment is escaped HTML from this server
SHELL_HEADERS = {
    **NO_STORE,
    "Content-Security-Policy": "default-src 'self'; script-src 'self' https://telegram.org; style-src 'self'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
STATUS = ((NotFound, 404), (PermissionDenied, 403), (InvalidInput, 400), (Conflict, 409))
ACTIONS = ("reply", "escalate", "reassign")
REPORT_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "csv": "text/csv"}
REPORT_MONTHS = 6


class Refused(Exception):
    """An answer other than 200: its status and the message key shown."""

    def __init__(self, status: int, key: str, t: Translator, **params: object) -> None:
        self.status = status
        self.key = key
        self.t = t
        self.params = params


def static_text(name: str) -> str:
    return resources.files("bot.web").joinpath(f"static/{name}").read_text(encoding="utf-8")


class DashboardRoutes:
    def __init__(
        self,
        service: DashboardService,
        catalogs: Catalogs,
        bot_token: str,
        clock: Clock,
        queued: Callable[[], None] = lambda: None,
    ) -> None:
        """``queued``: called after an action committed messages to the outbox (the bot's outbox
        sender starts on them at once instead of at its next timer)."""
        self.service = service
        self.queued = queued
        self.catalogs = catalogs
        self._token = bot_token
        self.clock = clock
        self._shell = static_text("dashboard.html")
        self._script = static_text("dashboard.js")
        self._style = static_text("dashboard.css")

    def install(self, app: web.Application) -> None:
        app.router.add_get("/app", self.redirect)
        app.router.add_get("/app/", self.shell)
        app.router.add_get("/app/dashboard.js", self.script)
        app.router.add_get("/app/dashboard.css", self.style)
        app.router.add_get("/app/api/{page}", self.page)
        app.router.add_post("/app/api/appeal/{id}/{action}", self.act)

    # --- the shell and its files ----------------------------------------------------------------
    async def redirect(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/app/")

    def _browser_language(self, request: web.Request) -> Translator:
        for part in request.headers.get("Accept-Language", "").split(","):
            lang = normalize(part.split(";")[0].strip())
            if lang:
                return self.catalogs.translator(lang)
        return self.catalogs.translator(self.service.default_language)

    async def shell(self, request: web.Request) -> web.Response:
        t = self._browser_language(request)
        html = self._shell.format(
            lang=t.lang,
            title=pages.e(t("dash.title")),
            outside=pages.e(t("dash.outside_telegram")),
            loading=pages.e(t("dash.loading")),
        )
        return web.Response(text=html, content_type="text/html", headers=SHELL_HEADERS)

    async def script(self, request: web.Request) -> web.Response:
        return web.Response(
            text=self._script, content_type="application/javascript", headers={"X-Content-Type-Options": "nosniff"}
        )

    async def style(self, request: web.Request) -> web.Response:
        return web.Response(text=self._style, content_type="text/css")

    # --- who is asking --------------------------------------------------------------------------
    async def _viewer(self, request: web.Request) -> Viewer:
        t = self._browser_language(request)
        scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "tma" or not raw.strip():
            raise Refused(401, "dash.error.no_init_data", t)
        try:
            signed = verify_init_data(raw.strip(), self._token, self.clock.now())
        except InitDataRejected as exc:
            log.info("dashboard: sign-in refused (%s)", exc.reason)
            raise Refused(401, "dash.error.bad_init_data", t) from None
        user = UserInfo(signed.id, signed.first_name, signed.last_name, signed.username, signed.language_code)
        try:
            return await self.service.viewer(user)
        except PermissionDenied as exc:
            lang_t = self.catalogs.translator(await self.service.language_of(user))
            raise Refused(403, exc.key, lang_t, **exc.params) from None

    async def _answer(
        self, request: web.Request, build: Callable[[Viewer, Translator], Awaitable[web.Response | str]]
    ) -> web.Response:
        try:
            viewer = await self._viewer(request)
            t = self.catalogs.translator(viewer.lang)
            try:
                result = await build(viewer, t)
            except DomainError as exc:
                status = next((code for kind, code in STATUS if isinstance(exc, kind)), 400)
                raise Refused(status, exc.key, t, **exc.params) from None
        except Refused as refused:
            body = pages.message(refused.t, refused.key, refused.status, **refused.params)
            return web.Response(text=body, status=refused.status, content_type="text/html", headers=NO_STORE)
        except Exception:
            log.exception("dashboard: %s %s failed", request.method, request.path)
            t = self._browser_language(request)
            body = pages.message(t, "dash.error.internal", 500)
            return web.Response(text=body, status=500, content_type="text/html", headers=NO_STORE)
        if isinstance(result, web.Response):
            result.headers.update(NO_STORE)
            return result
        return web.Response(text=result, content_type="text/html", headers=NO_STORE)

    # --- pages ----------------------------------------------------------------------------------
    async def page(self, request: web.Request) -> web.Response:
        name = request.match_info["page"]
        query = {k: v for k, v in request.query.items()}
        builders: dict[str, Callable[[Viewer, Translator], Awaitable[web.Response | str]]] = {
            "overview": lambda v, t: self._overview(v, t, query.get("month")),
            "appeals": lambda v, t: self._appeals(v, t, query),
            "appeal": lambda v, t: self._appeal(v, t, query.get("id")),
            "heads": lambda v, t: self._heads(v, t, query.get("month")),
            "elections": self._elections,
            "reports": self._reports,
            "report": lambda v, t: self._report(v, t, query.get("month"), query.get("format", "xlsx")),
        }
        build = builders.get(name)
        if build is None:
            return web.Response(status=404, text="not found\n", headers=NO_STORE)
        return await self._answer(request, build)

    async def _overview(self, viewer: Viewer, t: Translator, month: str | None) -> str:
        period = self.service.month(viewer, month)
        figures, buildings, trend = await self.service.overview(viewer, period)
        open_lines = await self.service.open_by_building(viewer)
        care = await self.service.care_wishes(viewer, period)
        return pages.overview(t, viewer, figures, buildings, trend, open_lines, care)

    async def _appeals(self, viewer: Viewer, t: Translator, query: dict[str, str]) -> str:
        page = await self.service.appeals(viewer, parse_filter(query))
        return pages.appeal_list(t, viewer, page)

    async def _appeal(self, viewer: Viewer, t: Translator, appeal_id: str | None, flash: str = "") -> str:
        wanted = bounded_id(appeal_id)
        if wanted is None:
            raise InvalidInput("dash.error.bad_request")
        view = await self.service.timeline(viewer, wanted)
        return timeline(t, viewer, view, flash)

    async def _heads(self, viewer: Viewer, t: Translator, month: str | None) -> str:
        period = self.service.month(viewer, month)
        lines = await self.service.heads(viewer)
        figures = await self.service.head_figures(viewer, period)
        return pages.heads(t, viewer, lines, figures)

    async def _elections(self, viewer: Viewer, t: Translator) -> str:
        return pages.elections(t, viewer, await self.service.turnout(viewer))

    async def _reports(self, viewer: Viewer, t: Translator) -> str:
        if viewer.scope.reach < Reach.BUILDING:
            raise PermissionDenied("dash.error.reports_staff")
        current = self.service.month(viewer)
        return pages.reports(t, viewer, [current.previous(i) if i else current for i in range(REPORT_MONTHS)])

    async def _report(self, viewer: Viewer, t: Translator, month: str | None, fmt: str) -> web.Response:
        """The monthly report as /report makes it (the statistics service's XLSX or CSV), headings in
        the reader's language."""
        if viewer.scope.reach < Reach.BUILDING:
            raise PermissionDenied("dash.error.reports_staff")
        if fmt not in REPORT_TYPES or not month:
            raise InvalidInput("dash.error.bad_request")
        period = self.service.month(viewer, month)
        data = await self.service.report(viewer, period)
        content, content_type = (
            (xlsx_bytes(data, t), REPORT_TYPES["xlsx"]) if fmt == "xlsx" else (csv_bytes(data, t), REPORT_TYPES["csv"])
        )
        return web.Response(
            body=content,
            content_type=content_type,
            headers={"Content-Disposition": f'attachment; filename="report-{period.month}.{fmt}"'},
        )

    # --- actions --------------------------------------------------------------------------------
    async def act(self, request: web.Request) -> web.Response:
        action = request.match_info["action"]
        raw_id = request.match_info["id"]
        if action not in ACTIONS:
            return web.Response(status=404, text="not found\n", headers=NO_STORE)
        try:
            form = await request.post()
        except ValueError:
            form = None

        async def build(viewer: Viewer, t: Translator) -> str:
            appeal_id = bounded_id(raw_id)
            if appeal_id is None or form is None:
                raise InvalidInput("dash.error.bad_request")
            outcome: Outcome
            if action == "reply":
                outcome = await self.service.reply(
                    viewer, appeal_id, str(form.get("text", "")), str(form.get("key", ""))
                )
            elif action == "escalate":
                outcome = await self.service.escalate(viewer, appeal_id)
            else:
                outcome = await self.service.reassign(viewer, appeal_id, str(form.get("target", "")))
            self.queued()
            flash = pages.message(t, outcome.key, 200, **outcome.params)
            return await self._appeal(viewer, t, str(appeal_id), flash)

        return await self._answer(request, build)
