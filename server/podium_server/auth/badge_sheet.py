"""Printable badge sheets: name, organization, province and the signed QR code.

HTML (inline SVG, print-ready CSS, no external assets) or PDF (fpdf2; QR modules drawn
as vector squares so they stay sharp at any printer resolution).
"""

from __future__ import annotations

import html
from pathlib import Path

import segno

from ..event.model import Participant
from .badges import BadgeSigner

# (path, index in a font collection, covers Chinese). The first that exists is used:
# a Shenzhen roster has Chinese names and organizations (Debian: fonts-wqy-microhei).
_FONTS = (
    (Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"), 0, True),
    (Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"), 2, True),  # SC
    (Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"), 0, False),
)
_CJK_START = 0x2E80  # CJK radicals onwards: DejaVu and the PDF core fonts have none


class MissingFont(ValueError):
    pass


def write_badges(
    out: Path, participants: list[Participant], signer: BadgeSigner, title: str
) -> None:
    suffix = out.suffix.lower()
    if suffix == ".html":
        out.write_text(badges_html(participants, signer, title), encoding="utf-8")
    elif suffix == ".pdf":
        out.write_bytes(badges_pdf(participants, signer, title))
    else:
        raise ValueError("badge sheet must end in .pdf or .html")


def badges_html(participants: list[Participant], signer: BadgeSigner, title: str) -> str:
    cards = []
    for p in participants:
        code = signer.code_for(p.id)
        svg = segno.make(code, error="m").svg_inline(scale=3, border=2)
        cards.append(
            '<section class="badge">'
            f'<div class="event">{html.escape(title)}</div>'
            f'<div class="name">{html.escape(p.name)}</div>'
            f'<div class="org">{html.escape(p.organization)}</div>'
            f'<div class="province">{html.escape(p.province)} · {html.escape(p.id)}</div>'
            f'<div class="qr" data-code="{html.escape(code)}">{svg}</div>'
            "</section>"
        )
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>Badges — {html.escape(title)}</title>"
        "<style>@page{size:A4;margin:10mm}body{font-family:sans-serif;margin:0}"
        ".sheet{display:grid;grid-template-columns:repeat(2,90mm);gap:4mm}"
        ".badge{border:1px dashed #999;height:60mm;padding:4mm;box-sizing:border-box;"
        "break-inside:avoid;display:grid;grid-template-columns:1fr auto;"
        "grid-template-rows:auto auto 1fr auto}"
        ".event{grid-column:1/3;font-size:8pt;color:#555}.name{font-size:16pt;font-weight:bold}"
        ".org{font-size:9pt}.province{font-size:9pt;color:#333}"
        ".qr{grid-column:2;grid-row:2/5;align-self:center}</style>"
        f'<main class="sheet">{"".join(cards)}</main></html>'
    )


def badges_pdf(participants: list[Participant], signer: BadgeSigner, title: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(False)
    family, unicode_font, cjk = "Helvetica", False, False
    for path, index, covers_cjk in _FONTS:
        if path.exists():
            pdf.add_font("Badge", fname=str(path), collection_font_number=index)
            family, unicode_font, cjk = "Badge", True, covers_cjk
            break
    needs_cjk = any(
        ord(ch) >= _CJK_START
        for p in participants
        for ch in p.name + p.organization + p.province + title
    )
    if needs_cjk and not cjk:
        # Blank names on printed badges are worse than no PDF: say what to do instead.
        raise MissingFont(
            "the roster has Chinese text but no Chinese font is installed: install "
            "fonts-wqy-microhei (or fonts-noto-cjk), or write badges.html instead"
        )

    def text(value: str) -> str:
        # Core fonts are Latin-1 only; without a Unicode font, keep the sheet printable.
        return value if unicode_font else value.encode("latin-1", "replace").decode("latin-1")

    width, height, margin, cols, rows = 90.0, 60.0, 10.0, 2, 4
    for index, p in enumerate(participants):
        slot = index % (cols * rows)
        if slot == 0:
            pdf.add_page()
        x = margin + (slot % cols) * (width + 5)
        y = margin + (slot // cols) * (height + 5)
        pdf.set_draw_color(150)
        pdf.rect(x, y, width, height)
        pdf.set_xy(x + 3, y + 3)
        pdf.set_font(family, size=7)
        pdf.cell(width - 6, 4, text(title)[:70])
        pdf.set_xy(x + 3, y + 10)
        pdf.set_font(family, size=15)
        pdf.cell(width - 40, 8, text(p.name)[:28])
        pdf.set_font(family, size=8)
        pdf.set_xy(x + 3, y + 20)
        pdf.multi_cell(width - 42, 4, text(p.organization)[:120], align="L")
        pdf.set_xy(x + 3, y + height - 9)
        pdf.cell(width - 40, 5, text(f"{p.province} · {p.id}"))
        _draw_qr(pdf, signer.code_for(p.id), x + width - 36, y + 20, 33.0)
    return bytes(pdf.output())


def _draw_qr(pdf: object, code: str, x: float, y: float, size: float) -> None:
    qr = segno.make(code, error="m")
    matrix = list(qr.matrix)
    module = size / len(matrix)
    pdf.set_fill_color(0)  # type: ignore[attr-defined]
    for r, row in enumerate(matrix):
        # One rectangle per horizontal run of dark modules: a third of the drawing ops.
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            pdf.rect(  # type: ignore[attr-defined]
                x + start * module, y + r * module, (c - start) * module, module, style="F"
            )
