"""How the workbooks the project writes look: one header style, number formats, print layout.

Used by ``workbooks/build.py`` (the desk books) and by ``clearquote quote -o x.xlsx``, so that
every file reads the same on screen and prints landscape, one page wide (LibreOffice and Excel
honour ``fitToWidth`` with ``fitToHeight = 0``: as many pages down as needed).
"""

from __future__ import annotations

from typing import Any

from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

BOLD = Font(bold=True)
HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
USD = "#,##0.00"
USD0 = "#,##0"


def header(ws: Any, row: int, names: list[str], col: int = 1, min_width: float = 14) -> None:
    """Write ``names`` as a bold, shaded header from (row, col), columns at least ``min_width`` wide."""
    for j, name in enumerate(names):
        c = ws.cell(row, col + j, name)
        c.font, c.fill = BOLD, HEAD_FILL
        letter = get_column_letter(col + j)
        ws.column_dimensions[letter].width = max(ws.column_dimensions[letter].width or 0, min_width)


def print_one_page_wide(ws: Any) -> None:
    """Landscape, fitted to one page wide (any number of pages down)."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def table_sheet(ws: Any, rows: list[list[Any]]) -> None:
    """A header row and data rows: styled header, frozen below it, numbers formatted, widths to content."""
    header(ws, 1, [str(h) for h in rows[0]], min_width=8)
    for r in rows[1:]:
        ws.append(r)
    for col in ws.iter_cols(min_row=2):
        for cell in col:
            if isinstance(cell.value, float):
                cell.number_format = USD
            elif isinstance(cell.value, int) and not isinstance(cell.value, bool):
                cell.number_format = USD0
    for j, col in enumerate(ws.iter_cols(), start=1):
        width = max(len(f"{c.value:,.2f}" if isinstance(c.value, float) else str(c.value or "")) for c in col)
        ws.column_dimensions[get_column_letter(j)].width = min(max(width + 2, 8), 40)
    ws.freeze_panes = "A2"
    print_one_page_wide(ws)
