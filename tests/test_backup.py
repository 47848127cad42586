"""``python -m bot backup`` / ``restore``: consistent copies of a database in use, checked restores."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from bot.__main__ import main
from storage.backup import inspect, online_backup
from tests.harness import Harness
from tests.support import updates

pytestmark = pytest.mark.sqlite_only  # backups are SQLite files (PostgreSQL: pg_dump, README)


def appeal_ids(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [int(r[0]) for r in conn.execute("SELECT id FROM appeals ORDER BY id")]


def incomplete_appeals(path: Path) -> list[int]:
    """Appeals whose filing is only partly in the file (each filing writes the appeal, its history,
    its deadlines and the receipt in one transaction)."""
    with sqlite3.connect(path) as conn:
        return [
            int(r[0])
            for r in conn.execute(
                "SELECT a.id FROM appeals a WHERE NOT EXISTS (SELECT 1 FROM appeal_events e WHERE e.appeal_id = a.id)"
                " OR NOT EXISTS (SELECT 1 FROM deadlines d WHERE d.appeal_id = a.id)"
                " OR NOT EXISTS (SELECT 1 FROM outbox o WHERE o.appeal_id = a.id)"
            )
        ]


async def test_a_backup_taken_under_load_restores_every_appeal(
    h: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await h.setup_community()
    database = Path(h.services.db.path)
    residents = [updates.user(3000 + i, f"Resident{i}", f"res{i}") for i in range(40)]
    filed: list[int] = []
    stop = threading.Event()
    snapshots: list[tuple[int, list[int], int]] = []  # appeals before, in the backup, after

    def back_up_repeatedly() -> None:
        n = 0
        while not stop.is_set() or n < 3:
            before = len(appeal_ids(database))
            target = tmp_path / f"backup-{n}.sqlite3"
            online_backup(database, target)
            snapshots.append((before, appeal_ids(target), len(appeal_ids(database))))
            n += 1

    async def file_all() -> None:
        for who in residents:
            filed.append(await h.file_appeal(who, text=f"problem of {who['first_name']}"))
            await asyncio.sleep(0)  # let the backup thread run between filings

    backups = asyncio.get_running_loop().run_in_executor(None, back_up_repeatedly)
    try:
        await file_all()
    finally:
        stop.set()
        await backups
    assert len(filed) == 40
    # writes went on while the backups were taken, and each backup is one consistent moment: the
    # appeals filed before it began, complete, and nothing half-written
    assert any(after > before for before, _, after in snapshots), snapshots
    for n, (before, ids, after) in enumerate(snapshots):
        assert ids == list(range(1, len(ids) + 1)), ids
        assert before <= len(ids) <= after
        assert not incomplete_appeals(tmp_path / f"backup-{n}.sqlite3")
        assert inspect(tmp_path / f"backup-{n}.sqlite3").integrity == "ok"

    # the command while the bot still has the database open, then a restore into a new file
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("UNITBOT_DATABASE", str(database))
    assert main(["backup", str(tmp_path / "final.sqlite3")]) == 0
    monkeypatch.setenv("UNITBOT_DATABASE", str(tmp_path / "restored.sqlite3"))
    assert main(["restore", str(tmp_path / "final.sqlite3")]) == 0
    assert appeal_ids(tmp_path / "restored.sqlite3") == sorted(filed)
    assert not incomplete_appeals(tmp_path / "restored.sqlite3")


@pytest.fixture
def backup_file(h: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no .env from elsewhere
    monkeypatch.setenv("UNITBOT_DATABASE", h.services.db.path)
    target = tmp_path / "b.sqlite3"
    assert main(["backup", str(target)]) == 0
    return target


async def test_restore_refuses_a_database_with_data_unless_forced(
    h: Harness, backup_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    await h.setup_community()
    appeal = await h.file_appeal()
    live = Path(h.services.db.path)
    assert main(["restore", str(backup_file)]) == 1  # the bot's database holds data
    err = capsys.readouterr().err
    assert "refusing to overwrite" in err and "--force" in err
    assert appeal_ids(live) == [appeal]  # untouched

    assert main(["restore", str(backup_file), "--force"]) == 0
    assert appeal_ids(live) == []  # the backup was taken before the appeal
    assert inspect(live).is_unitbot


@pytest.mark.parametrize("kind", ["not sqlite", "not unitbot", "newer schema", "missing"])
async def test_restore_refuses_what_is_not_a_known_unitbot_database(
    backup_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    source = tmp_path / "source.sqlite3"
    if kind == "not sqlite":
        source.write_bytes(b"PK\x03\x04 this is a zip file" * 100)
    elif kind == "not unitbot":
        with sqlite3.connect(source) as conn:
            conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    elif kind == "newer schema":
        shutil.copyfile(backup_file, source)
        with sqlite3.connect(source) as conn:
            conn.execute("INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future.sql')")
    monkeypatch.setenv("UNITBOT_DATABASE", str(tmp_path / "new.sqlite3"))
    assert main(["restore", str(source)]) == 1
    err = capsys.readouterr().err
    expected = {
        "not sqlite": "not an SQLite database",
        "not unitbot": "not a unitbot database",
        "newer schema": "newer unitbot",
        "missing": "no backup at",
    }[kind]
    assert expected in err, err
    assert not (tmp_path / "new.sqlite3").exists() or inspect(tmp_path / "new.sqlite3").empty


def test_postgres_databases_are_pointed_to_pg_dump(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("UNITBOT_DATABASE", "postgresql://unitbot@db/unitbot")
    assert main(["backup", str(tmp_path / "x")]) == 2
    assert "pg_dump" in capsys.readouterr().err
    assert main(["nonsense"]) == 2  # an unknown command is a usage error
