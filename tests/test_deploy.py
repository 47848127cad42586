"""deploy/ checked offline (Docker does not run here): compose.yaml and the proxy configs say what
deploy/README.md says, the Dockerfile's files exist and the lock file matches pyproject.toml."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bot.metrics import Metrics
from bot.web import HealthRoutes, WebServer

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
BOTS = ("bot-1", "bot-2")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def interpolated(value: str) -> str:
    """A compose value with its ${VAR...} substitutions filled as compose would (with examples)."""
    return re.sub(r"\$\{(\w+)[^}]*\}", lambda m: {"UNITBOT_PUBLIC_HOST": "bot.example.org"}.get(m[1], "x"), value)


def lock() -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==([^\s\\]+)", (ROOT / "requirements.lock").read_text(), re.MULTILINE)
    return {canonicalize_name(name): version for name, version in pins}


def test_compose_runs_postgres_two_webhook_bots_and_a_proxy(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"db", "proxy", *BOTS}
    assert services["db"]["image"].startswith("postgres:")
    assert "healthcheck" in services["db"]
    names = set()
    for name in BOTS:
        bot = services[name]
        env = {k: interpolated(str(v)) for k, v in bot["environment"].items()}
        assert env["UNITBOT_DATABASE"].startswith("postgresql://") and "@db:" in env["UNITBOT_DATABASE"]
        assert urlsplit(env["UNITBOT_WEBHOOK_URL"]).scheme == "https"
        assert env["UNITBOT_HTTP_LISTEN"] == "0.0.0.0:8080"
        names.add(env["UNITBOT_INSTANCE_NAME"])
        assert bot["build"]["dockerfile"] == "deploy/Dockerfile"
        assert (DEPLOY / bot["build"]["context"] / bot["build"]["dockerfile"]).resolve().is_file()
        assert bot["depends_on"]["db"]["condition"] == "service_healthy"
        assert "ports" not in bot  # nothing of a bot is public
        for env_file in bot["env_file"]:
            assert (DEPLOY / (env_file + ".example")).is_file()
    assert names == set(BOTS)  # each instance its own name in logs and metrics
    assert "ports" not in services["db"]
    assert {p.split(":")[-1] for p in services["proxy"]["ports"]} == {"80", "443"}
    mounted = [v.split(":")[0] for v in services["proxy"]["volumes"] if v.startswith("./")]
    assert all((DEPLOY / m).is_file() for m in mounted) and "./Caddyfile" in mounted


def test_the_proxies_expose_only_the_webhook_path_and_split_it_over_both_bots(compose: dict[str, Any]) -> None:
    path = urlsplit(interpolated(compose["services"]["bot-1"]["environment"]["UNITBOT_WEBHOOK_URL"])).path
    assert path == "/webhook"
    caddy = (DEPLOY / "Caddyfile").read_text(encoding="utf-8")
    handles = re.findall(r"^\s*handle(?: (\S+))? \{", caddy, re.MULTILINE)
    assert handles == [path, "/app/*", ""]  # the webhook path, the staff dashboard, and a catch-all
    assert re.search(r"reverse_proxy bot-1:8080 bot-2:8080 \{", caddy)
    assert "respond 404" in caddy  # /healthz, /readyz, /metrics are not routed: internal only
    nginx = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    assert f"location = {path} {{" in nginx and "location /app/ {" in nginx and "return 404;" in nginx
    assert all(f"server {b}:8080" in nginx for b in BOTS)


def test_dockerfile_installs_the_lock_before_the_code_and_checks_health() -> None:
    lines = [ln.strip() for ln in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines()]
    steps = [ln for ln in lines if ln and not ln.startswith("#")]
    copies = [ln.split()[1] for ln in steps if ln.startswith("COPY ")]
    for source in copies:
        assert (ROOT / source).exists(), source
    install = next(i for i, ln in enumerate(steps) if "pip install" in ln and "requirements.lock" in ln)
    code = next(i for i, ln in enumerate(steps) if ln.startswith("COPY bot"))
    assert install < code and "--require-hashes" in steps[install]
    assert any("fonts-wqy-microhei" in ln for ln in steps)  # CJK glyphs on ID cards and charts
    assert any(ln.startswith("HEALTHCHECK") for ln in steps)
    assert "/healthz" in (DEPLOY / "healthcheck.py").read_text(encoding="utf-8")


def test_the_lock_pins_every_dependency_within_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = lock()
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (spec, pins[name])
    holidays = next(Requirement(s) for s in project["dependencies"] if s.startswith("holidays"))
    assert str(holidays.specifier).startswith("=="), "holidays is pinned on purpose: its data moves deadlines"
    # every pinned package has hashes (pip install --require-hashes)
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    assert text.count("==") == len(pins) and text.count("--hash=sha256:") >= len(pins)


def test_the_grafana_dashboard_shows_metrics_the_bot_exports() -> None:
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text(encoding="utf-8"))
    exported = set(re.findall(r"^# TYPE (\w+)", Metrics("x").render().decode(), re.MULTILINE))
    exported |= {f"{n}_total" for n in exported} | {f"{n}_bucket" for n in exported}
    used = {m for panel in dashboard["panels"] for t in panel["targets"] for m in re.findall(r"unitbot_\w+", t["expr"])}
    assert used and used <= exported, used - exported


async def test_the_image_healthcheck_script_probes_healthz(tmp_path: Path) -> None:
    async def ready() -> list[str]:
        return []

    async def metrics() -> tuple[bytes, str]:
        return b"", "text/plain"

    server = WebServer("127.0.0.1", 0, [HealthRoutes(ready, metrics, "x")])
    await server.start()
    script = str(DEPLOY / "healthcheck.py")
    try:
        env = {"UNITBOT_HTTP_LISTEN": f"0.0.0.0:{server.port}", "PATH": "/usr/bin:/bin"}
        ok = await asyncio.to_thread(subprocess.run, [sys.executable, script], env=env, capture_output=True, timeout=20)
        assert ok.returncode == 0, ok.stderr
    finally:
        await server.stop()
    down = await asyncio.to_thread(subprocess.run, [sys.executable, script], env=env, capture_output=True, timeout=20)
    assert down.returncode == 1
