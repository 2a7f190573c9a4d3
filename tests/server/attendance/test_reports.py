from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from podium_server.attendance import export
from podium_server.attendance import reports as rp
from podium_server.attendance.records import DoorScan, WatchInterval

from .conftest import make_event, make_participant


def test_statistics_shares() -> None:
    people = (
        [make_participant(f"g{i}", f"P{i % 18}", "government") for i in range(76)]
        + [make_participant(f"u{i}", "P0", "university") for i in range(30)]
        + [make_participant(f"r{i}", "P1", "research_institute") for i in range(13)]
        + [make_participant(f"o{i}", "P2", "industrial_park") for i in range(61)]
    )
    st_ = rp.statistics(None, people)
    assert st_.count == 180 and st_.provinces == 18
    assert st_.share("government") == 42
    assert st_.share("university", "research_institute") == 24


def test_rows_and_certificates() -> None:
    ev = make_event(required=1)
    people = [make_participant("p1"), make_participant("p2")]
    s1 = ev.sessions[0]
    records = rp.RecordsByPair.build(
        [DoorScan("a", "s1", "p1", "in", s1.start_ts, "d", s1.start_ts)],
        [WatchInterval("s2", "p1", "w", s1.end_ts, s1.end_ts + 1800, False)],
    )
    table = rp.attendance_table(ev, people, records)
    rows = rp.attendance_rows(ev, people, table)
    assert len(rows) == 8
    first = dict(zip(rp.ATTENDANCE_HEADER, rows[0], strict=True))
    assert first["room_min"] == 60 and first["total_min"] == 60 and first["status"] == "attended"
    second = dict(zip(rp.ATTENDANCE_HEADER, rows[1], strict=True))
    assert second["online_min"] == 30 and second["status"] == "partial"
    certs = rp.certificate_rows(ev, people, table, lambda e, p: f"C-{p}", lambda c: f"/verify/{c}")
    assert certs[0][7] == "yes" and certs[0][8] == "C-p1" and certs[0][9] == "/verify/C-p1"
    assert certs[1][7] == "no" and certs[1][8] == ""
    stats = rp.statistics(ev, people, table)
    assert stats.attended == 1 and stats.certified == 1


def test_no_formula_from_user_data_csv_and_xlsx() -> None:
    evil = ['=HYPERLINK("x")', "+1", "-2", "@SUM(A1)", "\tx", "\rx", "ok", 5, 1.5]
    data = export.to_csv(["a"] * len(evil), [evil])
    row = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))[1]
    assert row[:6] == ['\'=HYPERLINK("x")', "'+1", "'-2", "'@SUM(A1)", "'\tx", "'\rx"]
    wb = load_workbook(io.BytesIO(export.to_xlsx([("Sheet", ["a"] * len(evil), [evil])])))
    cells = [c for c in next(wb.active.iter_rows(min_row=2, values_only=True))]  # type: ignore[union-attr]
    # XLSX: the text as written (no `'` to see), in a text cell that is never evaluated
    assert cells[:4] == ['=HYPERLINK("x")', "+1", "-2", "@SUM(A1)"]
    assert cells[6] == "ok" and cells[7] == 5
    for c in wb.active.iter_rows(min_row=2):  # type: ignore[union-attr]
        for cell in c:
            assert cell.data_type != "f"
            if isinstance(cell.value, str) and cell.value.startswith(export.FORMULA_STARTS):
                assert cell.data_type == "s" and cell.quotePrefix


def test_full_width_pipe_and_spaced_formula_starts_are_guarded_too() -> None:
    """Spreadsheets read a full-width `＝` typed through an IME as `=`, `|` starts a DDE
    call in some, and leading blanks are skipped before a formula sign."""
    evil = ["＝SUM(A1)", "＋1", "－1", "＠x", "|cmd", "｜cmd", " =1+1", "\u3000=1", "\n=1"]
    data = export.to_csv(["a"] * len(evil), [evil])
    row = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))[1]
    assert row == ["'" + text for text in evil]
    wb = load_workbook(io.BytesIO(export.to_xlsx([("Sheet", ["a"] * len(evil), [evil])])))
    for cell in next(wb.active.iter_rows(min_row=2)):  # type: ignore[union-attr]
        assert cell.data_type == "s" and cell.quotePrefix, cell.value
    # Plain text, Chinese names and numbers are left as they are.
    assert [export.safe_cell(v) for v in ("王芳", "a=b", "x|y", -3)] == ["王芳", "a=b", "x|y", -3]


@given(st.text(max_size=30))
def test_safe_cell_never_starts_a_formula(text: str) -> None:
    out = export.safe_cell(text)
    assert isinstance(out, str)
    assert not out.startswith(export.FORMULA_STARTS)
    assert not export.looks_like_formula(out)


def test_xlsx_survives_control_characters_in_old_data() -> None:
    raw = export.to_xlsx([("t", ["name"], [["Bad\x1bName"], ["=cmd"]])])
    sheet = load_workbook(io.BytesIO(raw)).active
    assert sheet is not None
    assert [c.value for c in sheet["A"]] == ["name", "Bad\ufffdName", "=cmd"]
    assert sheet["A3"].data_type == "s"
