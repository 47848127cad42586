"""A small streaming XLSX writer for the monthly report: sheets of rows, inline strings, numbers,
and four cell styles (plain, bold heading, percent, date).

Why not openpyxl, which reads the registry import: a district's month has ~415,000 cells, and
openpyxl spends 4-8 µs on each (a cell object, an lxml element, its serialisation), some 3 s per
report; XlsxWriter and PyExcelerate 1.7-2.4 s. The report needs none of what makes them general
(formulas, shared strings, merged cells, reading back), so a row here is one f-string per cell,
~0.3 µs (docs/stats.md has the measurements). What it writes is plain SpreadsheetML (ECMA-376
part 1, the parts Excel, LibreOffice and openpyxl read: content types, relationships, workbook,
styles, worksheets); the tests read every report back with openpyxl.

Leaf: no I/O but the bytes it returns; one worker thread per workbook deflates its finished sheets."""

from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from enum import IntEnum
from io import BytesIO
from math import isfinite
from zipfile import ZIP_DEFLATED, ZipFile

#: Excel's limit for the characters of a cell; longer texts are cut with an ellipsis.
CELL_TEXT_LIMIT = 32_767
#: Excel's limit for a sheet's name, and the characters a name can't have.
SHEET_NAME_LIMIT = 31
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")
#: What XML 1.0 can't carry (control characters, lone surrogates, U+FFFE/U+FFFF): dropped from texts.
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
#: Excel's escape of a character inside a text (``_xHHHH_``): a text that has one literally gets its
#: underscore escaped (``_x005F_``).
_EXCEL_ESCAPE = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)")
#: Excel's limits for a sheet: rows and columns.
MAX_ROWS = 1_048_576
MAX_COLUMNS = 16_384
#: A name Excel keeps for itself.
_RESERVED_SHEET_NAMES = {"history"}
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
#: Integers a spreadsheet's numbers (doubles) hold exactly; larger ones are written as doubles.
EXACT_INT = 2**53
#: Texts up to this length are escaped once per sheet (longer ones, a timeline, are mostly unique).
_CACHED_TEXT = 80
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


class Style(IntEnum):
    """A cell's look: its index among the workbook's cell formats (``cellXfs``)."""

    PLAIN = 0
    BOLD = 1
    PERCENT = 2  # 0.0%
    DATE = 3  # the workbook's date format (a spreadsheet date serial)


@dataclass(frozen=True, slots=True)
class Styled:
    """A number shown in a style of its own (a rate as a percent, a moment as a date)."""

    value: float
    style: Style


def _units(value: str) -> int:
    """The length of ``value`` as Excel counts it: UTF-16 code units (an emoji is two)."""
    return len(value.encode("utf-16-le")) // 2


def _cut(value: str, units: int) -> str:
    """``value`` cut to at most ``units`` UTF-16 code units, never inside a surrogate pair."""
    data = value.encode("utf-16-le", "surrogatepass")[: 2 * units]
    if len(data) >= 2 and 0xD8 <= data[-1] <= 0xDB:  # a pair's first half: drop it
        data = data[:-2]
    return data.decode("utf-16-le", "ignore")


def text_element(value: str) -> str | None:
    """The ``<t>`` element of a text, or None when nothing is left of it (an empty cell)."""
    if _XML_BAD.search(value):
        value = _XML_BAD.sub("", value)
    if len(value) > CELL_TEXT_LIMIT // 2 and _units(value) > CELL_TEXT_LIMIT:
        value = _cut(value, CELL_TEXT_LIMIT - 1) + "…"
    if not value:
        return None
    preserve = value[:1].isspace() or value[-1:].isspace()
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if "\r" in value:  # an XML reader turns a bare CR into a line feed; a reference keeps it
        value = value.replace("\r", "&#13;")
    if "_x" in value:  # Excel reads "_x0041_" as "A": its own escape keeps the text as written
        value = _EXCEL_ESCAPE.sub("_x005F_", value)
    if preserve:
        return f'<t xml:space="preserve">{value}</t>'
    return f"<t>{value}</t>"


def _attr(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def column_letters(index: int) -> str:
    """The letters of the 0-based column ``index``: 0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


class Sheet:
    """One worksheet, written row by row (a row can't be changed once appended).

    A row is one f-string per cell; a short text (a name, a category, a status: the same few
    hundred values in thousands of rows) is escaped once and its cell body kept."""

    def __init__(self, name: str, widths: Sequence[float] = ()) -> None:
        self.name = name
        self.widths = list(widths)
        self._rows: list[str] = []
        self._closed = False
        self._letters: list[str] = []
        self._texts: dict[str, str] = {}  # short text -> its cell body after the reference ('' for none)
        self._styles_of: Sequence[Style | None] | None = None
        self._style_attrs: list[str] = []

    def _widen(self, count: int) -> list[str]:
        """The column letters of the first ``count`` columns (at least)."""
        letters = self._letters
        while len(letters) < count:
            letters.append(column_letters(len(letters)))
        return letters

    def _attrs(self, styles: Sequence[Style | None], count: int) -> list[str]:
        """`` s="N"`` (or nothing) of each column, for rows that share ``styles``."""
        if styles is not self._styles_of or len(self._style_attrs) < count:
            attrs = [f' s="{int(style)}"' if style else "" for style in styles]
            self._style_attrs = attrs + [""] * (count - len(attrs))
            self._styles_of = styles
        return self._style_attrs

    def append(self, values: Sequence[object], styles: Sequence[Style | None] = ()) -> None:
        """A row: None (or an empty text) is an empty cell, a str a text, an int or float a
        number, a :class:`Styled` a number in its style; ``styles[i]``, when given, styles the
        ``i``-th cell's number (pass the same sequence for every row). A number that is not
        finite is an empty cell."""
        if self._closed:
            raise ValueError(f"sheet {self.name!r} is finished")
        row = len(self._rows) + 1
        count = len(values)
        if row > MAX_ROWS or count > MAX_COLUMNS:
            raise ValueError(f"a sheet holds {MAX_ROWS} rows of {MAX_COLUMNS} cells (row {row}, {count} cells)")
        letters = self._letters if len(self._letters) >= count else self._widen(count)
        attrs = self._attrs(styles, count)
        texts = self._texts
        cells = []
        i = -1
        for value in values:
            i += 1
            kind = value.__class__
            if kind is str:
                body = texts.get(value)  # type: ignore[call-overload]
                if body is None:
                    body = self.text_body(value)  # type: ignore[arg-type]
                if body:
                    cells.append(f'<c r="{letters[i]}{row}"{body}</c>')
            elif kind is int and -EXACT_INT <= value <= EXACT_INT:  # type: ignore[operator]
                cells.append(f'<c r="{letters[i]}{row}"{attrs[i]}><v>{value}</v></c>')
            elif kind is float:
                if value - value == 0:  # type: ignore[operator]  # finite (nan and inf give nan)
                    cells.append(f'<c r="{letters[i]}{row}"{attrs[i]}><v>{value!r}</v></c>')
            elif value is not None:
                cell = self._other(value, attrs[i])
                if cell:
                    cells.append(f'<c r="{letters[i]}{row}"{cell}</c>')
        self._rows.append(f'<row r="{row}">{"".join(cells)}</row>')

    def _other(self, value: object, attr: str) -> str:
        """The cell body of a :class:`Styled`, a bool, an int past what a spreadsheet's number holds
        exactly, a number of another type; '' for nothing."""
        number: float
        if isinstance(value, Styled):
            number, attr = value.value, f' s="{int(value.style)}"'
        elif isinstance(value, bool):
            number = int(value)
        elif isinstance(value, int | float):
            number = value
        else:
            raise TypeError(f"a report cell holds a text or a number, not {type(value).__name__}")
        if isinstance(number, int):
            if -EXACT_INT <= number <= EXACT_INT:
                return f"{attr}><v>{int(number)}</v>"
            number = float(number)  # a spreadsheet's numbers are doubles
        if not isfinite(number):
            return ""
        return f"{attr}><v>{float(number)!r}</v>"

    def heading(self, labels: Sequence[str | None]) -> None:
        """A row of bold texts."""
        if self._closed:
            raise ValueError(f"sheet {self.name!r} is finished")
        number = len(self._rows) + 1
        if number > MAX_ROWS or len(labels) > MAX_COLUMNS:
            raise ValueError(f"a sheet holds {MAX_ROWS} rows of {MAX_COLUMNS} cells")
        letters = self._widen(len(labels))
        texts = [None if label is None else text_element(label) for label in labels]
        cells = "".join(
            f'<c r="{letters[i]}{number}" s="{int(Style.BOLD)}" t="inlineStr"><is>{text}</is></c>'
            for i, text in enumerate(texts)
            if text is not None
        )
        self._rows.append(f'<row r="{number}">{cells}</row>')

    # --- for a sheet's own fast writer (stats.appeals_sheet): cells written as append writes them
    def text_body(self, value: str) -> str:
        """What :meth:`append` writes of a text after the cell's reference (``<c r="B7"`` + body +
        ``</c>``); '' when the text makes an empty cell. A short text is escaped once per sheet."""
        body = self._texts.get(value)
        if body is None:
            text = text_element(value)
            body = "" if text is None else f' t="inlineStr"><is>{text}</is>'
            if len(value) <= _CACHED_TEXT:
                self._texts[value] = body
        return body

    def number_body(self, value: object) -> str:
        """What :meth:`append` writes of a number that is not a plain int a spreadsheet holds
        exactly (a bool, an int past 2^53, a float): '' for an empty cell."""
        return self._other(value, "")

    @property
    def next_row(self) -> int:
        """The number of the row the next append writes."""
        return len(self._rows) + 1

    def append_cells(self, cells: str) -> None:
        """A row (:attr:`next_row`) of cells written already by a sheet's fast writer."""
        if self._closed:
            raise ValueError(f"sheet {self.name!r} is finished")
        row = len(self._rows) + 1
        if row > MAX_ROWS:
            raise ValueError(f"a sheet holds {MAX_ROWS} rows")
        self._rows.append(f'<row r="{row}">{cells}</row>')

    def close(self) -> None:
        """No more rows (the workbook compresses the sheet now)."""
        self._closed = True

    @property
    def row_count(self) -> int:
        return len(self._rows)

    def xml(self) -> bytes:
        cols = "".join(f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>' for i, w in enumerate(self.widths, 1))
        head = f'{_HEAD}<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}">{f"<cols>{cols}</cols>" if cols else ""}<sheetData>'
        return "".join([head, *self._rows, "</sheetData></worksheet>"]).encode("utf-8")


def _sheet_name(name: str, units: int) -> str:
    """``name`` without the spaces and apostrophes Excel refuses at its ends, in ``units``."""
    return _cut(name.strip().strip("'"), units).strip().strip("'")


class Workbook:
    """Sheets in order, one date format for the whole book (the reader's language's).

    A sheet is compressed once it is finished (:meth:`finish`), in a thread of its own while the
    next sheet is written: deflate lets go of the interpreter's lock, so the big appeals sheet's
    ~0.1 s of compression costs no wall time when it is written before the others. A sheet's place
    among the tabs is where :meth:`sheet` made it; the order of the files inside the archive does
    not matter to a reader (they are found through the zip's directory)."""

    def __init__(self, date_format: str, compresslevel: int = 1) -> None:
        self.date_format = date_format
        self.sheets: list[Sheet] = []
        self._buffer = BytesIO()
        # deflate level 1: the sheets are repetitive XML, ~10% bigger than level 6 in a third of the time
        self._archive = ZipFile(self._buffer, "w", ZIP_DEFLATED, allowZip64=True, compresslevel=compresslevel)
        self._writer: ThreadPoolExecutor | None = None
        self._written: list[Future[None]] = []
        self._finished: set[int] = set()  # id() of the sheets handed to the writer
        self._bytes: bytes | None = None
        self._given_up = False

    def finish(self, sheet: Sheet) -> None:
        """``sheet`` is complete: its file is compressed meanwhile (no row can be added after)."""
        if id(sheet) in self._finished:
            return
        if self._given_up:
            raise ValueError("the workbook was closed before it was written")
        index = next(i for i, s in enumerate(self.sheets, 1) if s is sheet)
        sheet.close()
        data = sheet.xml()  # before it counts as finished: if this fails, a retry makes it again
        self._finished.add(id(sheet))
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="xlsx")
            # the package's parts first, as spreadsheet programs write them (so the tabs are fixed now)
            self._written.append(self._writer.submit(self._write_package))
        self._written.append(self._writer.submit(self._archive.writestr, f"xl/worksheets/sheet{index}.xml", data))

    def close(self) -> None:
        """Lets the compressing thread go (to_bytes does; a build that failed half-way calls it).
        Without the file written, the workbook is given up: nothing more can be written to it."""
        if self._bytes is None:
            self._given_up = True
        if self._writer is not None:
            self._writer.shutdown(wait=True, cancel_futures=True)
            self._writer = None

    def sheet(self, title: str, widths: Sequence[float] = ()) -> Sheet:
        """A new sheet at the end; its name made valid and unique (Excel's rules). Every sheet is
        made before the first one is finished."""
        if self._finished:
            raise ValueError("every sheet is made before one is finished")
        name = _sheet_name(_SHEET_NAME_BAD.sub(" ", _XML_BAD.sub("", title)), SHEET_NAME_LIMIT) or "Sheet"
        taken = {s.name.casefold() for s in self.sheets} | _RESERVED_SHEET_NAMES
        base, n = name, 1
        while name.casefold() in taken:
            n += 1
            suffix = f" ({n})"
            name = (_sheet_name(base, SHEET_NAME_LIMIT - len(suffix)) or "Sheet") + suffix
        sheet = Sheet(name, widths)
        self.sheets.append(sheet)
        return sheet

    def _styles(self) -> str:
        return (
            f'{_HEAD}<styleSheet xmlns="{_MAIN}">'
            '<numFmts count="2"><numFmt numFmtId="164" formatCode="0.0%"/>'
            f'<numFmt numFmtId="165" formatCode="{_attr(self.date_format)}"/></numFmts>'
            '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
            '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
            '<fills count="2"><fill><patternFill patternType="none"/></fill>'
            '<fill><patternFill patternType="gray125"/></fill></fills>'
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            '<cellXfs count="4">'
            '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
            '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
            '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
            '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
            "</cellXfs>"
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
            "</styleSheet>"
        )

    def _content_types(self, sheets: list[Sheet]) -> str:
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml"'
            ' ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            for i in range(1, len(sheets) + 1)
        )
        return (
            f'{_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml"'
            ' ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml"'
            ' ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            f"{overrides}</Types>"
        )

    def _workbook(self, sheets: list[Sheet]) -> str:
        listed = "".join(
            f'<sheet name="{_attr(s.name)}" sheetId="{i}" r:id="rId{i}"/>' for i, s in enumerate(sheets, 1)
        )
        return (
            f'{_HEAD}<workbook xmlns="{_MAIN}" xmlns:r="{_REL}">'
            f"<bookViews><workbookView/></bookViews><sheets>{listed}</sheets></workbook>"
        )

    def _workbook_rels(self, sheets: list[Sheet]) -> str:
        kinds = f"{_REL}/"
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="{kinds}worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, len(sheets) + 1)
        )
        styles = len(sheets) + 1
        return (
            f'{_HEAD}<Relationships xmlns="{_PKG_REL}">{rels}'
            f'<Relationship Id="rId{styles}" Type="{kinds}styles" Target="styles.xml"/></Relationships>'
        )

    def _write_package(self) -> None:
        """The parts that list the sheets: content types, relationships, the workbook, its styles."""
        sheets = self.sheets
        root_rels = (
            f'{_HEAD}<Relationships xmlns="{_PKG_REL}">'
            f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        )
        archive = self._archive
        archive.writestr("[Content_Types].xml", self._content_types(sheets))
        archive.writestr("_rels/.rels", root_rels)
        archive.writestr("xl/workbook.xml", self._workbook(sheets))
        archive.writestr("xl/_rels/workbook.xml.rels", self._workbook_rels(sheets))
        archive.writestr("xl/styles.xml", self._styles())

    def to_bytes(self) -> bytes:
        """The .xlsx file; every sheet is finished by it (the same bytes when asked again)."""
        if self._bytes is not None:
            return self._bytes
        if self._given_up:
            raise ValueError("the workbook was closed before it was written")
        if not self.sheets:
            self.sheet("Sheet")  # a workbook must have a sheet
        for sheet in self.sheets:
            self.finish(sheet)
        try:
            for written in self._written:
                written.result()  # an error in the thread goes on here
            self._archive.close()
            self._bytes = self._buffer.getvalue()
        finally:
            self.close()
        return self._bytes
