"""End to end, the staff dashboard in a real headless browser (Debian's chromium driven by
Playwright for Python) against ``python -m bot`` and the fake Bot API: a staff member's page opened
with a correctly signed initData shows the community's figures and an appeal's timeline, a
reassignment made on the page reaches the new assignee through the fake Bot API, and a forged
signature gets nothing. Screenshots of the pages in light and dark theme go to docs/images/.

Telegram's telegram-web-app.js cannot be fetched here (no internet): the light run injects a small
stand-in for it (initData, themeParams, BackButton, ready); the dark run blocks it, so the page reads
the launch parameters from the URL fragment, as it must when the script is absent."""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from bot.services.dashboard.auth import sign_init_data
from tests.conftest import E2E_START
from tests.e2e_support import E2E, REPO_ROOT, TOKEN, wait_until
from tests.support import updates

CHROMIUM = Path(os.environ.get("UNITBOT_CHROMIUM", "/usr/bin/chromium"))
playwright_sync = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists() and os.environ.get("CI") != "true", reason="no chromium (apt-get install chromium)"
    ),
]
IMAGES = REPO_ROOT / "docs" / "images"
LIGHT = {
    "bg_color": "#ffffff",
    "text_color": "#000000",
    "hint_color": "#707579",
    "link_color": "#2481cc",
    "button_color": "#2481cc",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#f0f0f3",
}
DARK = {
    "bg_color": "#17212b",
    "text_color": "#f5f5f5",
    "hint_color": "#708499",
    "link_color": "#6ab3f3",
    "button_color": "#5288c1",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#232e3c",
    "destructive_text_color": "#ec3942",
}
STUB = """
window.Telegram = {WebApp: {
  initData: %(init)s, themeParams: %(theme)s, viewportStableHeight: 740, colorScheme: "light",
  ready: function () { window.__tgReady = true; }, expand: function () {},
  onEvent: function () {}, BackButton: {show: function () { window.__back = true; }, hide: function () {},
  onClick: function () {}}
}};
"""


def signed_for(person: dict[str, Any], *, token: str = TOKEN, language: str = "en") -> str:
    user = {
        "id": person["id"],
        "first_name": person["first_name"],
        "username": person.get("username"),
        "language_code": language,
    }
    fields = {"query_id": "AAQ-e2e", "user": json.dumps(user), "auth_date": str(int(E2E_START.timestamp()))}
    return sign_init_data(fields, token)


def api_status(base: str, path: str, init_data: str) -> tuple[int, str]:
    request = urllib.request.Request(base + path, headers={"Authorization": f"tma {init_data}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_staff_dashboard_in_a_real_browser(e2e: E2E) -> None:
    chat = e2e.chat
    p = chat.p
    bot = e2e.spawn("dash", UNITBOT_PUBLIC_URL="https://dash.example.org").start()
    chat.setup_community()
    chat.file_appeal("The lift is broken")
    # /dashboard in private: the web_app button and the chat's menu button
    since = chat.push(updates.command(p.staff, updates.private_chat(p.staff), "dashboard"))
    prompt = chat.wait_text(p.staff, "dashboard", since)
    assert prompt.params["reply_markup"]["inline_keyboard"][0][0]["web_app"]["url"] == "https://dash.example.org/app/"
    chat.wait(lambda c: c.method == "setChatMenuButton" and c.params.get("chat_id") == p.staff["id"], since)

    base = bot.http_url
    staff_init = signed_for(p.staff)
    forged = signed_for(p.staff, token="7203945561:AAE2eSomeOtherBotsToken_x0123456")
    assert api_status(base, "/app/api/overview", forged)[0] == 401
    assert api_status(base, "/app/api/appeal?id=1", forged)[0] == 401

    IMAGES.mkdir(parents=True, exist_ok=True)
    with playwright_sync.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            # light theme, with a stand-in for telegram-web-app.js
            page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
            stub = STUB % {"init": json.dumps(staff_init), "theme": json.dumps(LIGHT)}
            page.route(
                "https://telegram.org/**", lambda route: route.fulfill(body=stub, content_type="text/javascript")
            )
            page.goto(f"{base}/app/")
            page.wait_for_selector(".cards .rate")
            text = page.inner_text("#app")
            assert "Response rate" in text and "Resolution rate" in text and "Satisfaction rate" in text
            assert "Building 7" in text and "Filed this month: 1" in text
            assert page.evaluate("window.__tgReady") is True
            assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"
            page.screenshot(path=str(IMAGES / "dashboard-overview-light.png"), full_page=True)
            page.click("nav a[data-page=heads]")
            page.wait_for_selector("li[data-head='1003']")  # Uma, the unit head, with her open appeal
            assert "Boris" in page.inner_text("#app")
            page.screenshot(path=str(IMAGES / "dashboard-heads-light.png"), full_page=True)
            page.click("nav a[data-page=appeals]")
            page.wait_for_selector("li[data-appeal='1']")
            page.screenshot(path=str(IMAGES / "dashboard-appeals-light.png"), full_page=True)
            page.click("li[data-appeal='1'] a")
            page.wait_for_selector("ol.events li[data-event='filed']")
            assert "The lift is broken" in page.inner_text("#app") and "Deadlines" in page.inner_text("#app")
            assert page.evaluate("window.__back") is True  # the back button is shown below the start page
            page.screenshot(path=str(IMAGES / "dashboard-timeline-light.png"), full_page=True)
            # reassign on the page: the building head gets the appeal through the fake Bot API
            since = len(e2e.server.calls)
            page.select_option("form[data-action=reassign] select", "building")
            page.click("form[data-action=reassign] button")
            page.wait_for_selector("ol.events li[data-event='reassigned']")
            assert "now goes to Boris" in page.inner_text("#app")
            card = chat.wait_text(
                p.bhead, "Appeal #1 was passed to you (building head): reassigned by the community staff", since
            )
            assert card.params.get("reply_markup")  # with the appeal's buttons
            chat.wait_text(p.resident, "Your appeal #1 was passed to the building head by the community staff", since)
            # a reply typed on the page reaches the resident (the same relay as a reply in Telegram)
            since = len(e2e.server.calls)
            page.fill("form[data-action=reply] textarea", "A technician comes at 3 pm today")
            page.click("form[data-action=reply] button")
            page.wait_for_selector("ol.events li[data-event='reply']")
            chat.wait_text(p.resident, "A technician comes at 3 pm today", since)
            page.close()

            # dark theme, telegram-web-app.js absent: the launch parameters come from the URL fragment
            page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, color_scheme="dark")
            page.route("https://telegram.org/**", lambda route: route.abort())
            fragment = f"tgWebAppData={quote(staff_init, safe='')}&tgWebAppThemeParams={quote(json.dumps(DARK))}"
            page.goto(f"{base}/app/#{fragment}")
            page.wait_for_selector(".cards .rate")
            assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(23, 33, 43)"
            page.screenshot(path=str(IMAGES / "dashboard-overview-dark.png"), full_page=True)
            page.click("nav a[data-page=appeals]")
            page.click("li[data-appeal='1'] a")
            page.wait_for_selector("ol.events li[data-event='reassigned']")
            page.screenshot(path=str(IMAGES / "dashboard-timeline-dark.png"), full_page=True)
            # pass it up from the page: asked first (the browser's own dialog without Telegram's)
            since = len(e2e.server.calls)
            page.once("dialog", lambda dialog: dialog.accept())
            page.click("form[data-action=escalate] button")
            page.wait_for_selector("ol.events li[data-event='escalated']")
            chat.wait_text(p.staff_chat, "Appeal #1 was passed to you", since)
            page.close()

            # a building head whose Telegram speaks Chinese: their building only, in Chinese
            page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
            page.route("https://telegram.org/**", lambda route: route.abort())
            head_init = signed_for(p.bhead, language="zh")
            page.goto(f"{base}/app/#tgWebAppData={quote(head_init, safe='')}")
            page.wait_for_selector(".cards .rate")
            shown = page.inner_text("#app")
            assert "响应率" in shown and "办结率" in shown and "满意率" in shown and "Building 7" in shown
            page.screenshot(path=str(IMAGES / "dashboard-overview-zh.png"), full_page=True)
            page.close()

            # a forged signature: the page shows no data at all
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.route("https://telegram.org/**", lambda route: route.abort())
            page.goto(f"{base}/app/#tgWebAppData={quote(forged, safe='')}")
            page.wait_for_selector(".msg.error")
            shown = page.inner_text("body")
            assert "could not be confirmed" in shown and "Building 7" not in shown and "lift" not in shown
            page.close()

            # outside Telegram (no initData at all): it says to open it from the bot
            page = browser.new_page()
            page.route("https://telegram.org/**", lambda route: route.abort())
            page.goto(f"{base}/app/")
            wait_until(lambda: page.is_visible("#outside"), "the 'open it from the bot' note")
            assert "Open it from the bot" in page.inner_text("body")
            page.close()
        finally:
            browser.close()
    e2e.finish()


def test_chromium_is_there_in_ci() -> None:
    """CI installs chromium (.ci/run): the browser test above must not skip there."""
    if os.environ.get("CI") == "true":
        assert CHROMIUM.exists() or shutil.which("chromium"), "chromium is missing: .ci/run should install it"
