"""CSV and XLSX bytes from report rows; no cell ever starts a formula from user data."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence

# The ASCII signs, their full-width forms (what a Chinese IME types, and spreadsheets
# read as the same sign), `|` (DDE in some), and line/tab starts.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠", "|", "｜")
# Blanks a spreadsheet skips before it looks for a formula sign.
_LEADING_BLANKS = " \u3000\u00a0"


def looks_like_formula(text: str) -> bool:
    return text.lstrip(_LEADING_BLANKS).startswith(FORMULA_STARTS)


def safe_cell(value: object) -> object:
    """Numbers pass; text that a spreadsheet would read as a formula gets a leading `'`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return value
    text = str(value)
    if looks_like_formula(text):
        return "'" + text
    return text


def to_csv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    """UTF-8 with BOM (so Excel reads the Chinese names right), CRLF line ends."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(c) for c in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


# XML 1.0 forbids most C0 controls: openpyxl refuses such a cell and the whole report
# would fail. Rosters refuse them on import; this keeps older data exportable.
_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xlsx_cell(value: object) -> object:
    """As `safe_cell`, but text keeps its first character (the cell is typed as text
    instead) and loses what XML cannot hold."""
    if isinstance(value, str):
        return _XLSX_ILLEGAL.sub("\ufffd", value)
    return safe_cell(value)


def to_xlsx(sheets: Sequence[tuple[str, Sequence[str], Sequence[Sequence[object]]]]) -> bytes:
    """One workbook, one sheet per (title, header, rows); text that looks like a formula
    is a text cell (openpyxl would otherwise store it as a formula)."""
    from openpyxl import Workbook

    wb = Workbook()
    first = True
    for title, header, rows in sheets:
        ws = wb.active if first else wb.create_sheet()
        assert ws is not None
        first = False
        ws.title = title[:31]
        for values in (header, *rows):
            cells = [_xlsx_cell(c) for c in values]
            ws.append(cells)
            for cell, value in zip(ws[ws.max_row], cells, strict=False):
                if isinstance(value, str) and looks_like_formula(value):
                    # a text cell, as Excel stores a typed `'=...`: shown as written,
                    # never evaluated, not even once edited (quotePrefix)
                    cell.data_type = "s"
                    cell.quotePrefix = True
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
