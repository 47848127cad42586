"""The report's streaming XLSX writer (bot/services/stats/xlsx.py): what it writes is read back
with openpyxl, cell by cell, the way a spreadsheet program would read it."""

from __future__ import annotations

import io
import math
import zipfile
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from openpyxl.utils.escape import unescape
from openpyxl.worksheet.worksheet import Worksheet

from bot.services.stats.xlsx import (
    CELL_TEXT_LIMIT,
    MAX_COLUMNS,
    SHEET_NAME_LIMIT,
    Sheet,
    Style,
    Styled,
    Workbook,
    column_letters,
)


def _read(book: Workbook) -> list[Worksheet]:
    loaded = load_workbook(io.BytesIO(book.to_bytes()))
    return [loaded[name] for name in loaded.sheetnames]


def test_numbers_texts_and_empty_cells_read_back() -> None:
    book = Workbook("dd.mm.yyyy hh:mm")
    sheet = book.sheet("Appeals")
    sheet.append(["a", 1, 2.5, None, True, -7, ""])
    sheet.append([None, None, "third"])
    (ws,) = _read(book)
    assert [c.value for c in ws[1]] == ["a", 1, 2.5, None, 1, -7]
    assert ws["C2"].value == "third"
    assert ws["A2"].value is None
    assert ws.max_row == 2 and ws.max_column == 6  # the empty text made no cell


def test_markup_and_quotes_are_text_not_xml() -> None:
    book = Workbook("d mmm yyyy")
    text = '<b>Tom & "Jerry"</b> </sheetData> ]]> &amp;'
    book.sheet("S").append([text])
    (ws,) = _read(book)
    assert ws["A1"].value == text


def test_control_characters_are_dropped_and_edge_spaces_kept() -> None:
    book = Workbook("d mmm yyyy")
    book.sheet("S").append(["a\x00b\x07c\x1fd\ufffe", "  padded  ", "line\nbreak\ttab"])
    (ws,) = _read(book)
    assert ws["A1"].value == "abcd"
    assert ws["B1"].value == "  padded  "
    assert ws["C1"].value == "line\nbreak\ttab"


def test_a_text_longer_than_excel_allows_is_cut_with_an_ellipsis() -> None:
    book = Workbook("d mmm yyyy")
    book.sheet("S").append(["я" * (CELL_TEXT_LIMIT + 100), "x" * CELL_TEXT_LIMIT])
    (ws,) = _read(book)
    cut = ws["A1"].value
    assert isinstance(cut, str) and len(cut) == CELL_TEXT_LIMIT and cut.endswith("…")
    assert ws["B1"].value == "x" * CELL_TEXT_LIMIT  # exactly at the limit: kept whole


def test_the_cell_limit_counts_as_excel_does_and_never_splits_an_emoji() -> None:
    book = Workbook("d mmm yyyy")
    book.sheet("S").append(["😀" * 20_000, "a" + "😀" * 16_383, "😀" * 16_383])
    (ws,) = _read(book)
    cut = ws["A1"].value
    assert isinstance(cut, str) and cut.endswith("…")
    assert len(cut.encode("utf-16-le")) // 2 <= CELL_TEXT_LIMIT
    assert set(cut[:-1]) == {"😀"}  # whole emoji only: no half of a surrogate pair
    assert ws["B1"].value == "a" + "😀" * 16_383  # 32,767 UTF-16 units: kept whole
    assert ws["C1"].value == "😀" * 16_383


def test_texts_that_look_like_excels_own_escapes_stay_as_written() -> None:
    book = Workbook("d mmm yyyy")
    book.sheet("S").append(["file_x0041_.txt", "_x005F_", "x_1234_", "\rstarts with a CR"])
    (ws,) = _read(book)
    # Excel (and LibreOffice) decode "_xHHHH_" in a text; openpyxl reads the raw text, so what a
    # spreadsheet program shows is openpyxl's own decoder applied to it
    shown = [unescape(str(c.value)) for c in ws[1]]
    assert shown == ["file_x0041_.txt", "_x005F_", "x_1234_", "\rstarts with a CR"]
    assert unescape("file_x0041_.txt") == "fileA.txt"  # what Excel would show without the escape
    xml = zipfile.ZipFile(io.BytesIO(book.to_bytes())).read("xl/worksheets/sheet1.xml").decode()
    assert "file_x005F_x0041_.txt" in xml
    assert '<t xml:space="preserve">&#13;starts' in xml  # a leading CR is whitespace to keep


def test_values_a_cell_cannot_hold_are_refused_and_big_integers_become_doubles() -> None:
    book = Workbook("d mmm yyyy")
    sheet = book.sheet("S")
    with pytest.raises(TypeError):
        sheet.append([datetime(2026, 1, 2, tzinfo=UTC)])
    sheet.append([2**53, 2**53 + 1, -(2**60)])
    (ws,) = _read(book)
    assert ws["A1"].value == 2**53
    assert ws["B1"].value == float(2**53 + 1) and ws["C1"].value == float(-(2**60))
    xml = zipfile.ZipFile(io.BytesIO(book.to_bytes())).read("xl/worksheets/sheet1.xml").decode()
    assert "<v>9007199254740992</v>" in xml and "<v>9007199254740992.0</v>" in xml


def test_a_sheet_refuses_rows_past_excels_limits() -> None:
    sheet = Workbook("d mmm yyyy").sheet("S")
    with pytest.raises(ValueError, match="cells"):
        sheet.append([1] * (MAX_COLUMNS + 1))
    with pytest.raises(ValueError, match="cells"):
        sheet.heading(["x"] * (MAX_COLUMNS + 1))


def test_numbers_that_are_not_finite_are_empty_cells() -> None:
    book = Workbook("d mmm yyyy")
    book.sheet("S").append([math.nan, math.inf, Styled(-math.inf, Style.PERCENT), 3])
    (ws,) = _read(book)
    assert [c.value for c in ws[1]] == [None, None, None, 3]


def test_styles_percent_date_and_bold_heading() -> None:
    book = Workbook('yyyy"年"m"月"d"日" hh:mm')
    sheet = book.sheet("S")
    sheet.heading(["Rate", None, "When"])
    # 2026-11-30 09:30 on the wall clock as a spreadsheet serial (1899-12-30 is day 0); a
    # spreadsheet's dates have no zone: openpyxl reads them as naive datetimes
    wall = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
    serial = (wall - datetime(1899, 12, 30, tzinfo=UTC)).total_seconds() / 86400
    sheet.append([Styled(0.875, Style.PERCENT), 4, serial], styles=(None, None, Style.DATE))
    (ws,) = _read(book)
    assert ws["A1"].font.b and ws["C1"].font.b and ws["B1"].value is None
    assert ws["A2"].value == 0.875 and ws["A2"].number_format == "0.0%"
    assert ws["B2"].number_format == "General" and not ws["B2"].font.b
    assert ws["C2"].value == wall.replace(tzinfo=None)  # openpyxl sees a date format: a datetime
    assert ws["C2"].number_format == 'yyyy"年"m"月"d"日" hh:mm'


def test_a_style_for_a_text_or_an_empty_cell_is_ignored() -> None:
    book = Workbook("d mmm yyyy")
    book.sheet("S").append(["text", None, 5], styles=(Style.DATE, Style.DATE, Style.PERCENT))
    (ws,) = _read(book)
    assert ws["A1"].value == "text" and ws["A1"].number_format == "General"
    assert ws["C1"].number_format == "0.0%"


def test_sheet_names_follow_excels_rules() -> None:
    book = Workbook("d mmm yyyy")
    titles = ["Buildings: A/B [1]?", "x" * 40, "x" * 40, "Heads", "HEADS", "", "'quoted'"]
    titles += ["a" * 30 + "'b", "History", "楼" * 40, "😀" * 20]
    for title in titles:
        book.sheet(title).append([title])
    names = [ws.title for ws in _read(book)]
    assert names[0] == "Buildings  A B  1"
    assert names[1] == "x" * SHEET_NAME_LIMIT
    assert names[2] == "x" * (SHEET_NAME_LIMIT - 4) + " (2)"
    assert names[3:5] == ["Heads", "HEADS (2)"]  # names are unique regardless of case
    assert names[5] == "Sheet" and names[6] == "quoted"
    assert names[7] == "a" * 30  # cut, then no apostrophe left at the end
    assert names[8] == "History (2)"  # Excel keeps "History" for itself
    assert names[9] == "楼" * SHEET_NAME_LIMIT
    assert names[10] == "😀" * 15  # 30 UTF-16 units: Excel counts an emoji as two
    assert all(len(n.encode("utf-16-le")) // 2 <= SHEET_NAME_LIMIT for n in names)


def test_an_empty_workbook_still_has_a_sheet() -> None:
    book = Workbook("d mmm yyyy")
    (ws,) = _read(book)
    assert ws.title == "Sheet" and ws.max_row == 1 and ws["A1"].value is None
    assert [s.name for s in book.sheets] == ["Sheet"]  # writing it out finished it with its one sheet


def test_column_widths_are_written() -> None:
    book = Workbook("d mmm yyyy")
    book.sheet("S", widths=(40, 12.5)).append(["a", "b"])
    (ws,) = _read(book)
    assert ws.column_dimensions["A"].width == 40
    assert ws.column_dimensions["B"].width == 12.5


def test_the_archive_has_the_parts_a_spreadsheet_program_expects() -> None:
    book = Workbook("d mmm yyyy")
    book.sheet("One").append([1])
    book.sheet("Two").append([2])
    names = set(zipfile.ZipFile(io.BytesIO(book.to_bytes())).namelist())
    assert names == {
        "[Content_Types].xml",
        "_rels/.rels",
        "xl/workbook.xml",
        "xl/_rels/workbook.xml.rels",
        "xl/styles.xml",
        "xl/worksheets/sheet1.xml",
        "xl/worksheets/sheet2.xml",
    }


@pytest.mark.parametrize(
    ("index", "letters"), [(0, "A"), (25, "Z"), (26, "AA"), (51, "AZ"), (52, "BA"), (701, "ZZ"), (702, "AAA")]
)
def test_column_letters(index: int, letters: str) -> None:
    assert column_letters(index) == letters


def test_wide_rows_get_the_right_column_letters() -> None:
    book = Workbook("d mmm yyyy")
    book.sheet("S").append(list(range(30)))
    (ws,) = _read(book)
    assert ws["AD1"].value == 29 and ws.max_column == 30


_cell = st.one_of(
    st.none(),
    st.text(max_size=60),
    st.from_regex(r"[a-z ]{0,3}_x[0-9A-Fa-f]{4}_[a-z ]{0,3}", fullmatch=True),  # Excel's escapes
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.lists(_cell, max_size=8), min_size=1, max_size=6))
def test_any_row_of_texts_and_numbers_reads_back_as_written(rows: list[list[object]]) -> None:
    book = Workbook("d mmm yyyy")
    sheet = book.sheet("S")
    for row in rows:
        sheet.append(row)
    (ws,) = _read(book)
    for r, row in enumerate(rows, 1):
        for c, value in enumerate(row, 1):
            got = ws.cell(r, c).value
            if value is None or (isinstance(value, float) and not math.isfinite(value)):
                assert got is None
            elif isinstance(value, str):
                expected = "".join(ch for ch in value if _xml_char(ch))
                shown = unescape(got) if isinstance(got, str) else got  # as Excel shows it
                assert shown == (expected or None)  # nothing left of a text: an empty cell
            else:
                assert isinstance(value, int | float)
                assert got == value


def _xml_char(ch: str) -> bool:
    code = ord(ch)
    if code in (0x9, 0xA, 0xD):
        return True
    return 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code >= 0x10000


def test_a_sheet_finished_first_keeps_its_tab_and_takes_no_more_rows() -> None:
    """The report writes its appeals sheet (the last tab but one) first and compresses it while the
    others are written: the tabs stay in the order they were made, each with its own rows."""
    book = Workbook("d mmm yyyy")
    first, second, third = book.sheet("One"), book.sheet("Two"), book.sheet("Three")
    third.append(["three", 3])
    book.finish(third)
    book.finish(third)  # twice is once
    with pytest.raises(ValueError, match="finished"):
        third.append(["late"])
    with pytest.raises(ValueError, match="finished"):
        third.heading(["late"])
    first.append(["one", 1])
    second.append(["two", 2])
    sheets = _read(book)
    assert [ws.title for ws in sheets] == ["One", "Two", "Three"]
    assert [[c.value for c in ws[1]] for ws in sheets] == [["one", 1], ["two", 2], ["three", 3]]
    assert book.to_bytes() == book.to_bytes()  # the same file when asked again
    names = zipfile.ZipFile(io.BytesIO(book.to_bytes())).namelist()
    assert sorted(n for n in names if n.startswith("xl/worksheets/")) == [
        "xl/worksheets/sheet1.xml",
        "xl/worksheets/sheet2.xml",
        "xl/worksheets/sheet3.xml",
    ]


def test_a_workbook_given_up_half_way_lets_its_thread_go() -> None:
    book = Workbook("d mmm yyyy")
    sheet = book.sheet("One")
    sheet.append(["x"])
    book.finish(sheet)
    book.close()
    assert book._writer is None


def test_the_package_parts_come_first_in_the_file_and_no_sheet_is_made_after_a_finish() -> None:
    book = Workbook("d mmm yyyy")
    one, two = book.sheet("One"), book.sheet("Two")
    two.append(["b"])
    book.finish(two)
    with pytest.raises(ValueError, match="before one is finished"):
        book.sheet("Three")
    one.append(["a"])
    names = zipfile.ZipFile(io.BytesIO(book.to_bytes())).namelist()
    assert names[:5] == [
        "[Content_Types].xml",
        "_rels/.rels",
        "xl/workbook.xml",
        "xl/_rels/workbook.xml.rels",
        "xl/styles.xml",
    ]
    assert names[5:] == ["xl/worksheets/sheet2.xml", "xl/worksheets/sheet1.xml"]


def test_a_workbook_closed_before_it_was_written_refuses_to_be_written() -> None:
    book = Workbook("d mmm yyyy")
    one, two = book.sheet("One"), book.sheet("Two")
    book.finish(one)
    book.close()
    with pytest.raises(ValueError, match="closed before it was written"):
        book.finish(two)
    with pytest.raises(ValueError, match="closed before it was written"):
        book.to_bytes()


def test_a_sheet_whose_file_could_not_be_made_is_made_again_on_a_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    book = Workbook("d mmm yyyy")
    good, bad = book.sheet("Good"), book.sheet("Bad")
    good.append(["g"])
    bad.append(["b"])
    real = Sheet.xml
    failures = [MemoryError("no room")]

    def flaky(sheet: Sheet) -> bytes:
        if sheet is bad and failures:
            raise failures.pop()
        return real(sheet)

    monkeypatch.setattr(Sheet, "xml", flaky)
    with pytest.raises(MemoryError):
        book.to_bytes()
    assert [[c.value for c in ws[1]] for ws in _read(book)] == [["g"], ["b"]]  # both tabs, each with its row
