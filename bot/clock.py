"""Injectable time source. Services never call ``datetime.now`` themselves."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current moment, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that moves only when told to (tests, benchmarks, simulations)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("FakeClock needs timezone-aware moments")
        self._now = moment.astimezone(UTC)


class ClockFileError(RuntimeError):
    """The clock file is missing or does not hold an ISO-8601 timestamp with a UTC offset."""


class FileClock:
    """Reads the current moment from a file holding one ISO-8601 timestamp with an offset, e.g.
    ``2026-11-23T10:00:00+08:00``. For drills and end-to-end tests: a whole process (or several)
    follows a clock that the test moves by rewriting the file. The parsed value is cached by the
    file's inode, ``mtime_ns`` and size, so ``now()`` costs one ``stat`` while the file is unchanged."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._key: tuple[int, int, int] | None = None
        self._now: datetime | None = None

    def now(self) -> datetime:
        try:
            st = os.stat(self.path)
        except OSError as exc:
            raise ClockFileError(f"clock file {self.path} cannot be read: {exc.strerror or exc}") from exc
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if key != self._key or self._now is None:
            self._now = self._read()
            self._key = key
        return self._now

    def _read(self) -> datetime:
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ClockFileError(f"clock file {self.path} cannot be read: {exc}") from exc
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ClockFileError(
                f"clock file {self.path} must hold an ISO-8601 timestamp with an offset "
                f"(like 2026-11-23T10:00:00+08:00), found {text[:40]!r}"
            ) from exc
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ClockFileError(f"clock file {self.path}: timestamp {text[:40]!r} has no UTC offset")
        return moment.astimezone(UTC)

    @staticmethod
    def write(path: Path | str, moment: datetime) -> None:
        """Set the clock in ``path`` to ``moment`` (atomically: readers never see a half-written file)."""
        if moment.tzinfo is None:
            raise ValueError("FileClock needs timezone-aware moments")
        target = Path(path)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(moment.isoformat(), encoding="utf-8")
        os.replace(tmp, target)


def to_ts(moment: datetime) -> int:
    """Datetime -> integer epoch seconds (how storage keeps moments: portable and index-friendly)."""
    return int(moment.timestamp())


def from_ts(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def from_ts_opt(ts: int | None) -> datetime | None:
    """``from_ts`` for nullable columns."""
    return None if ts is None else from_ts(ts)
