"""Reading a district registry file (issue 11 "Bringing a whole district in").

A sheet (XLSX or CSV, UTF-8; ``,`` ``;`` or tab separated) has a header row and one row per unit:

=================  ===============================================================================
column             meaning
=================  ===============================================================================
building           the building's name, as its chat will be registered (``/register CODE NAME``)
unit               the unit's name; ``1-6`` or ``A B C`` lists several units (then no unit head)
unit_head          the unit head's name (optional)
unit_head_username his or her Telegram @username, where known (optional)
building_head      the building head's name (optional; on any row of the building, the same each time)
building_head_username  the building head's @username, where known (optional)
=================  ===============================================================================

Headers are read in English, Chinese or Russian (:data:`HEADERS`), in any case, with spaces or
underscores. Everything is checked before anything is stored: :func:`parse_registry` returns the
buildings or raises :class:`RegistryRejected` with every problem and the line it is on.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field

from bot.errors import InvalidInput

MAX_BYTES = 2_000_000
MAX_ROWS = 20_000
MAX_UNITS = 60  # as bot.services.registry.MAX_UNITS
UNIT_NAME_MAX = 24
NAME_MAX = 60
BUILDING_NAME_MAX = 60
_USERNAME = re.compile(r"@?([A-Za-z][A-Za-z0-9_]{3,31})")

#: column -> the header words that name it (compared without case, spaces, underscores, dashes)
HEADERS: dict[str, tuple[str, ...]] = {
    "building": ("building", "楼栋", "楼", "楼号", "楼栋名称", "дом", "здание"),
    "unit": ("unit", "units", "单元", "单元号", "подъезд", "подъезды"),
    "unit_head": ("unit head", "unit_head", "单元长", "单元长姓名", "старший по подъезду", "старший подъезда"),
    "unit_head_username": (
        "unit head username",
        "unit_head_username",
        "单元长用户名",
        "单元长telegram",
        "telegram старшего по подъезду",
        "ник старшего по подъезду",
    ),
    "building_head": ("building head", "building_head", "楼栋长", "楼长", "楼栋长姓名", "старший по дому"),
    "building_head_username": (
        "building head username",
        "building_head_username",
        "楼栋长用户名",
        "楼栋长telegram",
        "telegram старшего по дому",
        "ник старшего по дому",
    ),
}
REQUIRED = ("building", "unit")


def _fold(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", unicodedata.normalize("NFKC", text).casefold())


_HEADER_OF = {_fold(word): column for column, words in HEADERS.items() for word in words}


def name_key(name: str) -> str:
    """How two spellings of one building's name are matched ("3号楼" = "３号楼" = " 3 号楼")."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name).casefold())


@dataclass(frozen=True)
class Problem:
    line: int
    column: str  # a column of HEADERS, or "file"
    problem: str  # a key of PROBLEMS


#: problem -> the key that says it (district.po)
PROBLEMS = {
    "unreadable": "district.problem.unreadable",
    "no_header": "district.problem.no_header",
    "missing_column": "district.problem.missing_column",
    "duplicate_column": "district.problem.duplicate_column",
    "required": "district.problem.required",
    "too_long": "district.problem.too_long",
    "bad_username": "district.problem.bad_username",
    "bad_units": "district.problem.bad_units",
    "head_for_many_units": "district.problem.head_for_many_units",
    "other_building_head": "district.problem.other_building_head",
    "unit_twice": "district.problem.unit_twice",
    "too_many_units": "district.problem.too_many_units",
    "too_many_rows": "district.problem.too_many_rows",
    "username_without_name": "district.problem.username_without_name",
}


class RegistryRejected(InvalidInput):
    """The file is refused as a whole; ``problems`` says every reason, by line."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("district.import_rejected")
        self.problems = problems


@dataclass(frozen=True)
class Person:
    name: str
    username: str | None  # without "@"


@dataclass
class SheetBuilding:
    name: str
    line: int  # where it first appears
    units: list[str] = field(default_factory=list)
    unit_heads: dict[str, Person] = field(default_factory=dict)
    head: Person | None = None
    head_line: int = 0


@dataclass(frozen=True)
class SheetRows:
    """Rows of a file as text cells, each with the line (row number) it is on."""

    rows: list[tuple[int, list[str]]]


def read_file(raw: bytes, filename: str) -> SheetRows:
    """XLSX (by its content, whatever its name) or CSV; a file that is neither is refused."""
    if len(raw) > MAX_BYTES:
        raise InvalidInput("district.too_big", max=MAX_BYTES // 1_000_000)
    if raw[:4] == b"PK\x03\x04":
        return read_xlsx(raw)
    if filename.lower().endswith((".xls", ".xlsx", ".ods")):
        raise InvalidInput("district.not_a_sheet")
    return read_csv(raw)


def read_csv(raw: bytes) -> SheetRows:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("gb18030")  # Excel's "CSV" on a Chinese Windows
        except UnicodeDecodeError as exc:
            raise InvalidInput("district.not_a_sheet") from exc
    header = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    delimiter = max(counts, key=lambda d: counts[d])
    reader = csv.reader(io.StringIO(text), delimiter=delimiter if counts[delimiter] else ",")
    rows: list[tuple[int, list[str]]] = []
    line = 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise RegistryRejected([Problem(line, "file", "unreadable")]) from exc
        rows.append((line, values))
        line = reader.line_num + 1
    return SheetRows(rows)


def read_xlsx(raw: bytes) -> SheetRows:
    """The first sheet of a workbook, its cells as text (numbers without ".0")."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise InvalidInput("district.not_a_sheet") from exc
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            raise InvalidInput("district.not_a_sheet")
        rows: list[tuple[int, list[str]]] = []
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            if number > MAX_ROWS + 1:
                raise RegistryRejected([Problem(number, "file", "too_many_rows")])
            rows.append((number, [_cell(v) for v in values]))
        return SheetRows(rows)
    finally:
        book.close()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _clean(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


def unit_names(spec: str) -> list[str] | None:
    """``"3"`` -> [3]; ``"1-4"`` -> 1..4; ``"A B C"`` / ``"1, 2, 5"`` / ``"1、2"`` -> as listed; None if unreadable."""
    names: list[str] = []
    for token in re.split(r"[\s,，、;；]+", spec):
        if not token:
            continue
        if re.fullmatch(r"\d+-\d+", token):
            lo, hi = (int(p) for p in token.split("-", 1))
            if lo > hi or hi - lo >= MAX_UNITS:
                return None
            names.extend(str(n) for n in range(lo, hi + 1))
        elif len(token) > UNIT_NAME_MAX:
            return None
        else:
            names.append(token)
    return list(dict.fromkeys(names)) or None


def _person(line: int, column: str, name: str, username: str, problems: list[Problem]) -> Person | None:
    name, username = _clean(name), _clean(username)
    if len(name) > NAME_MAX:
        problems.append(Problem(line, column, "too_long"))
        return None
    handle: str | None = None
    if username:
        match = _USERNAME.fullmatch(username.removeprefix("https://t.me/").removeprefix("t.me/"))
        if match is None:
            problems.append(Problem(line, column + "_username", "bad_username"))
            return None
        handle = match.group(1)
    if not name:
        if handle is not None:
            problems.append(Problem(line, column, "username_without_name"))
        return None
    return Person(name, handle)


def parse_registry(sheet: SheetRows) -> list[SheetBuilding]:
    """The buildings of a registry file, or :class:`RegistryRejected` with every problem found."""
    problems: list[Problem] = []
    rows = [(line, values) for line, values in sheet.rows if any(v.strip() for v in values)]
    if not rows:
        raise RegistryRejected([Problem(1, "file", "no_header")])
    header_line, header = rows[0]
    columns: dict[str, int] = {}
    for index, word in enumerate(header):
        column = _HEADER_OF.get(_fold(word))
        if column is None:
            continue
        if column in columns:
            problems.append(Problem(header_line, column, "duplicate_column"))
        columns.setdefault(column, index)
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        problems.extend(Problem(header_line, c, "missing_column") for c in missing)
        raise RegistryRejected(problems)
    if len(rows) - 1 > MAX_ROWS:
        raise RegistryRejected([Problem(rows[MAX_ROWS + 1][0], "file", "too_many_rows")])

    def cell(values: list[str], column: str) -> str:
        index = columns.get(column)
        return values[index] if index is not None and index < len(values) else ""

    buildings: dict[str, SheetBuilding] = {}
    unit_lines: dict[tuple[str, str], int] = {}
    crowded: set[str] = set()
    for line, values in rows[1:]:
        name = _clean(cell(values, "building"))
        if not name:
            problems.append(Problem(line, "building", "required"))
            continue
        if len(name) > BUILDING_NAME_MAX:
            problems.append(Problem(line, "building", "too_long"))
            continue
        building = buildings.setdefault(name_key(name), SheetBuilding(name, line))
        spec = _clean(cell(values, "unit"))
        units = unit_names(spec) if spec else []
        if units is None:
            problems.append(Problem(line, "unit", "bad_units"))
            continue
        head = _person(
            line, "building_head", cell(values, "building_head"), cell(values, "building_head_username"), problems
        )
        if head is not None:
            if building.head is not None and building.head != head:
                problems.append(Problem(line, "building_head", "other_building_head"))
            elif building.head is None:
                building.head, building.head_line = head, line
        unit_head = _person(line, "unit_head", cell(values, "unit_head"), cell(values, "unit_head_username"), problems)
        if unit_head is not None and len(units) != 1:
            problems.append(Problem(line, "unit", "head_for_many_units" if units else "required"))
            continue
        for unit in units:
            key = (name_key(name), unit.casefold())
            if key in unit_lines:
                problems.append(Problem(line, "unit", "unit_twice"))
                continue
            unit_lines[key] = line
            building.units.append(unit)
            if unit_head is not None:
                building.unit_heads[unit] = unit_head
        if len(building.units) > MAX_UNITS and name_key(name) not in crowded:
            crowded.add(name_key(name))  # said once, on the line of the 61st unit
            problems.append(Problem(line, "unit", "too_many_units"))
    if problems:
        raise RegistryRejected(sorted(set(problems), key=lambda p: (p.line, p.column, p.problem)))
    return list(buildings.values())
