from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.app import open_storage
from tests.e2e_support import E2E, Chat, ClockFile
from tests.harness import Harness, local, make_harness
from tests.support import FakeBotApiServer
from tests.support.engines import CURRENT, ENGINES, PostgresServer, storage_url

E2E_START = local(2026, 11, 23, 10, 0)  # Monday, a working day in Shanghai

# --- engines: every test that touches storage runs on SQLite and on PostgreSQL --------------------
# (tests/support/engines.py). A test touches storage when it uses the ``h`` or ``e2e`` fixture, or
# takes ``tmp_path`` in a module that opens a database itself.
_STORAGE_WORDS = ("make_settings", "make_harness", "open_storage", "open_database", "Database(", "UNITBOT_DATABASE")
_module_touches_storage: dict[str, bool] = {}


def _touches_storage(metafunc: pytest.Metafunc) -> bool:
    names = metafunc.fixturenames
    if "h" in names or "e2e" in names:
        return True
    if "tmp_path" not in names:
        return False
    path = str(metafunc.module.__file__)
    if path not in _module_touches_storage:
        text = Path(path).read_text(encoding="utf-8")
        _module_touches_storage[path] = any(word in text for word in _STORAGE_WORDS)
    return _module_touches_storage[path]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if not _touches_storage(metafunc):
        return
    for mark in metafunc.definition.iter_markers("parametrize"):
        if "engine" in str(mark.args[0]):
            return  # the test names its engines itself
    sqlite_only = metafunc.definition.get_closest_marker("sqlite_only") is not None
    metafunc.parametrize("engine", ENGINES[:1] if sqlite_only else ENGINES, indirect=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(autouse=True)
def engine(request: pytest.FixtureRequest, postgres_server: PostgresServer) -> Iterator[str]:
    """The test's database engine: ``sqlite`` (the default) or ``postgres`` (parametrized above).
    PostgreSQL unreachable: the test is skipped, or fails under CI=true (CI must run both)."""
    name = str(getattr(request, "param", "sqlite"))
    if name == "postgres" and not postgres_server.available():
        message = f"PostgreSQL for tests unreachable ({postgres_server.error}); set UNITBOT_TEST_POSTGRES"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    CURRENT.begin(name, postgres_server if name == "postgres" else None)
    try:
        yield name
    finally:
        CURRENT.end()


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    """The bot on a Monday morning in Shanghai (2026-11-23 10:00, a working day)."""
    harness, app = await make_harness(tmp_path, local(2026, 11, 23, 10, 0))
    async with app:
        await open_storage(app)
        try:
            yield harness
        finally:
            await app.bot_data.outbox().wait_idle()
            await app.bot_data.services.db.close()


@pytest.fixture
def e2e(tmp_path: Path) -> Iterator[E2E]:
    """The fake Bot API HTTP server on 127.0.0.1 and a clock file at Monday 2026-11-23 10:00 (Shanghai);
    ``e2e.spawn(name).start()`` runs ``python -m bot`` against them; processes are killed afterwards."""
    server = FakeBotApiServer().start()
    file = tmp_path / "bot.sqlite3"
    database: Path | str = file if CURRENT.engine == "sqlite" else storage_url(file)  # a PostgreSQL URL
    env = E2E(tmp_path, server, ClockFile(tmp_path / "clock.txt", E2E_START), Chat(server), database)
    try:
        yield env
    finally:
        for proc in env.procs:
            proc.kill()
        server.stop()
