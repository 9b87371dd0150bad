"""Exports of the statistics (dossiers/stats_views.py, dossiers/register.py): the progress table as
XLSX and CSV, the register book (Mẫu 05) as XLSX and PDF, the dossiers behind a number as XLSX —
and the page, the API and the XLSX giving the same numbers for the same filters."""

import csv
import dataclasses
import io
import re
from datetime import datetime

import pytest
import time_machine
from django.conf import settings
from django.utils import translation
from openpyxl import load_workbook
from pypdf import PdfReader
from rest_framework.test import APIClient

from procedures.models import Agency, Role
from reporting import register, stats
from tests.factories import Office, make_agency, make_field, make_procedure, make_user, vn

NOW = vn(2026, 4, 2, 10, 0)
MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


class Province:
    """A province with two communes and dossiers of every kind around March 2026."""

    def __init__(self):
        self.agency = make_agency(code="000.00.00.H58", name="UBND tỉnh Ba", level=Agency.Level.PROVINCE)
        self.a = Office(code="H58.01")
        self.b = Office(code="H58.02")
        for office in (self.a, self.b):
            office.agency.parent = self.agency
            office.agency.save()
        self.supervisor = make_user("h58-giamsat", agency=self.agency, role=Role.SUPERVISOR)
        self.dossiers = {office: self.populate(office) for office in (self.a, self.b)}

    @staticmethod
    def populate(office):
        made = []

        def receive(moment, **kwargs):
            dossier, _pin = office.receive(now=moment, **kwargs)
            made.append(dossier)
            return dossier

        # Carried over from February, finished late in March.
        late = receive(vn(2026, 2, 25, 9, 0), applicant_name="Lê Văn Muộn")
        office.act(late, "assign", now=vn(2026, 2, 25, 9, 30))
        office.act(late, "propose_result", now=vn(2026, 3, 9, 8, 0), result="Cấp giấy")
        office.act(late, "approve", now=vn(2026, 3, 9, 9, 0))
        # Early, returned to the applicant.
        early = receive(vn(2026, 3, 2, 8, 0), applicant_name="Phạm Thị Sớm")
        office.act(early, "assign", now=vn(2026, 3, 2, 8, 30))
        office.act(early, "propose_result", now=vn(2026, 3, 3, 8, 0), result="Cấp giấy")
        office.act(early, "approve", now=vn(2026, 3, 3, 9, 0))
        office.act(early, "return_result", now=vn(2026, 3, 4, 9, 0), collected_by="Phạm Thị Sớm")
        # Online, accepted, still in progress (overdue at the end of March).
        online = receive(vn(2026, 3, 5, 14, 0), channel="online", applicant_name="Đỗ Trực Tuyến")
        office.act(online, "receive", now=vn(2026, 3, 5, 15, 0))
        office.act(online, "assign", now=vn(2026, 3, 5, 15, 30))
        # By post, waiting for a financial obligation.
        post = receive(vn(2026, 3, 10, 9, 0), channel="post", applicant_name="Hoàng Bưu Điện")
        office.act(post, "assign", now=vn(2026, 3, 10, 9, 30))
        office.act(post, "request_obligation", now=vn(2026, 3, 10, 10, 0), comment="Nộp lệ phí")
        # Withdrawn.
        withdrawn = receive(vn(2026, 3, 11, 9, 0), applicant_name="Vũ Rút Lại")
        office.act(withdrawn, "withdraw", now=vn(2026, 3, 11, 10, 0), comment="Công dân rút hồ sơ")
        # Waiting for the intake supplement: not accepted, neither in the table nor in the register.
        receive(vn(2026, 3, 12, 9, 0), missing_documents=["Giấy chứng sinh"], applicant_name="Ngô Thiếu Giấy")
        return made


@pytest.fixture
def province(db):
    return Province()


@pytest.fixture
def client(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def download(response):
    assert response.status_code == 200, getattr(response, "content", b"")[:500]
    return b"".join(response.streaming_content) if response.streaming else response.content


def sheet_rows(content):
    workbook = load_workbook(io.BytesIO(content), read_only=True)
    return [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]


def table_from_xlsx(content):
    rows = sheet_rows(content)
    header_index = next(i for i, row in enumerate(rows) if row and row[0] == "Agency code")
    header = rows[header_index]
    records = [dict(zip(header, row, strict=False)) for row in rows[header_index + 1 :] if any(row)]
    return header, records


def page_numbers(html, row_selector):
    row = re.search(rf"<tr {row_selector}>(.*?)</tr>", html, re.S)
    assert row, row_selector
    values = dict(re.findall(r'data-metric="([a-z_]+)" data-value="([^"]*)"', row.group(1)))
    return {
        key: (float(value) if key == "on_time_rate" and value else int(value) if value else None)
        for key, value in values.items()
    }


def test_the_page_the_api_and_the_xlsx_give_the_same_numbers(province, client):
    client.force_login(province.supervisor)
    api = APIClient()
    api.force_authenticate(province.supervisor)
    filter_sets = [MARCH, {**MARCH, "agency": "H58.01"}, {"from": "2026-03-05", "to": "2026-03-20", "field": "HT"}]
    with time_machine.travel(NOW, tick=False):
        for params in filter_sets:
            body = api.get("/api/v1/stats/", params).json()
            # The page shows one row per agency by default when it covers several; the API and
            # the files one per agency and field: compared with the same `group`.
            html = client.get("/thong-ke/", {**params, "group": "agency_field"}).content.decode()
            _header, records = table_from_xlsx(download(client.get("/thong-ke/tien-do.xlsx", params)))
            total_line = records[-1]
            assert total_line["Agency"] == "Total"
            on_page = page_numbers(html, 'data-row="total"')
            keys = [*stats.METRIC_KEYS, "on_time_rate"]
            labels = {m.key: str(m.full_label) for m in stats.METRICS} | {"on_time_rate": str(stats.RATE_LABEL)}
            for key in keys:
                assert on_page[key] == body["total"][key] == total_line[labels[key]], (params, key)
            for row in body["rows"]:
                on_page_row = page_numbers(html, f'data-agency="{row["agency"]}" data-field="{row["field"]}"')
                in_xlsx = next(
                    r for r in records[:-1] if (r["Agency code"], r["Field code"]) == (row["agency"], row["field"])
                )
                for key in keys:
                    assert on_page_row[key] == row[key] == in_xlsx[labels[key]], (params, row["agency"], key)
    assert body["total"]["received"] > 0


def test_the_per_agency_page_matches_the_api_and_the_xlsx_per_agency(province, client):
    client.force_login(province.supervisor)
    api = APIClient()
    api.force_authenticate(province.supervisor)
    keys = [*stats.METRIC_KEYS, "on_time_rate"]
    with translation.override("en"):
        labels = {m.key: str(m.full_label) for m in stats.METRICS} | {"on_time_rate": str(stats.RATE_LABEL)}
    with time_machine.travel(NOW, tick=False):
        html = client.get("/thong-ke/", MARCH).content.decode()  # several agencies: per agency by default
        body = api.get("/api/v1/stats/", {**MARCH, "group": "agency"}).json()
        detailed = api.get("/api/v1/stats/", MARCH).json()
        _header, records = table_from_xlsx(download(client.get("/thong-ke/tien-do.xlsx", {**MARCH, "group": "agency"})))
        one_agency = client.get("/thong-ke/", {**MARCH, "agency": "H58.01", "exact": "1"}).content.decode()
        bad = api.get("/api/v1/stats/", {**MARCH, "group": "everything"})
    assert 'data-group="agency"' in html and "data-field=" not in html.split("<tbody>")[1].split("</tbody>")[0]
    assert body["total"] == detailed["total"]
    assert [row["agency"] for row in body["rows"]] == sorted({row["agency"] for row in detailed["rows"]})
    for row in body["rows"]:
        assert row["field"] is None and row["field_name"] is None
        on_page = page_numbers(html, f'data-agency="{row["agency"]}"')
        in_xlsx = next(r for r in records[:-1] if r["Agency code"] == row["agency"])
        assert in_xlsx["Field code"] in (None, "")
        for key in keys:
            expected = (
                sum(r[key] for r in detailed["rows"] if r["agency"] == row["agency"])
                if key != "on_time_rate"
                else row[key]
            )
            assert on_page[key] == row[key] == in_xlsx[labels[key]] == expected, (row["agency"], key)
        # Each number lists that agency's dossiers; the agency's name opens its fields.
        assert (
            f'ho-so/?from=2026-03-01&amp;to=2026-03-31&amp;agency={row["agency"]}&amp;exact=1&amp;metric=received"'
            in html
        )
        assert f'href="?from=2026-03-01&amp;to=2026-03-31&amp;agency={row["agency"]}&amp;exact=1"' in html
    # One agency: its fields, one row each.
    assert 'data-group="agency_field"' in one_agency and 'data-agency="H58.01" data-field="' in one_agency
    assert bad.status_code == 400 and bad.json()["group"]


def test_the_table_xlsx_carries_the_headers_the_rows_and_the_totals(province, client):
    client.force_login(province.supervisor)
    with time_machine.travel(NOW, tick=False):
        content = download(client.get("/thong-ke/tien-do.xlsx", MARCH))
    rows = sheet_rows(content)
    assert rows[0][0] == "Dossier progress (Decision 766/QĐ-TTg)"
    assert rows[1][0] == "From 01/03/2026 to 31/03/2026"
    header, records = table_from_xlsx(content)
    assert header[:4] == ["Agency code", "Agency", "Field code", "Field"]
    assert "Received: Carried over" in header and "Finished: Late" in header and "Paused: Overdue" in header
    assert header[-1] == "On-time rate (%)"
    assert [(r["Agency code"], r["Field code"]) for r in records[:-1]] == [("H58.01", "HT"), ("H58.02", "HT")]
    total = records[-1]
    # Per commune: 1 carried over + 4 new (the intake-supplement dossier is not accepted), 2 results.
    assert total["Received: Total"] == 10 and total["Received: Carried over"] == 2
    assert (total["Received: Online"], total["Received: By post"], total["Received: In person"]) == (2, 2, 4)
    assert (total["Finished: Early"], total["Finished: Late"], total["Finished: Withdrawn"]) == (2, 2, 2)
    assert (total["In progress: Overdue"], total["Paused: Total"]) == (2, 2)
    # Decision 766: (2 early + 2 withdrawn before the due date + 2 paused by a request before it) / 10.
    assert total["On-time rate (%)"] == 60.0
    for column in header[4:-1]:
        assert total[column] == sum(r[column] for r in records[:-1])


def test_the_table_csv_has_the_same_lines(province, client):
    client.force_login(province.supervisor)
    with time_machine.travel(NOW, tick=False):
        response = client.get("/thong-ke/tien-do.csv", MARCH)
        xlsx = download(client.get("/thong-ke/tien-do.xlsx", MARCH))
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="tien-do-20260301-20260331.csv"' in response["Content-Disposition"]
    text = download(response).decode("utf-8")
    assert text.startswith("\ufeff")
    lines = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    header, records = table_from_xlsx(xlsx)
    assert lines[0] == header
    assert len(lines) == len(records) + 1
    assert lines[-1][1] == "Total"
    assert [int(v) for v in lines[-1][4:-1]] == [records[-1][column] for column in header[4:-1]]


def test_the_register_book_xlsx_has_the_columns_of_the_official_form(province, client):
    client.force_login(province.a.supervisor)
    with time_machine.travel(NOW, tick=False):
        content = download(client.get("/thong-ke/so-theo-doi.xlsx", MARCH))
    rows = sheet_rows(content)
    assert rows[0][0] == province.a.agency.name.upper()
    assert rows[1][0] == "SỔ THEO DÕI HỒ SƠ"
    assert rows[2][0] == "Từ ngày 01/03/2026 đến ngày 31/03/2026"
    assert rows[3] == list(register.COLUMNS)
    assert rows[3][:4] == ["STT", "Mã hồ sơ", "Tên TTHC", "Số lượng hồ sơ (bộ)"]
    assert rows[4] == [f"({i})" for i in range(1, 13)]
    lines = [row for row in rows[5:] if any(row)]
    # Accepted in March at commune A: early, online, post, withdrawn (not the February one, not the
    # one waiting for its intake supplement), in the order they were accepted.
    names = [line[4] for line in lines]
    assert names == ["Phạm Thị Sớm", "Đỗ Trực Tuyến", "Hoàng Bưu Điện", "Vũ Rút Lại"]
    # STT is the line of the desk's book of 2026, as printed on each receipt: March goes on from
    # the dossier accepted in February.
    by_code = {d.code: d for d in province.dossiers[province.a]}
    assert [line[0] for line in lines] == [by_code[line[1]].register_number() for line in lines] == [2, 3, 4, 5]
    assert rows[0][-1] == "Mẫu số 07"
    assert all(line[3] == 1 for line in lines)
    early = lines[0]
    # Real dates (Vietnam time) with a dd/mm/yyyy hh:mm format: a spreadsheet sorts and filters them.
    assert early[7] == datetime(2026, 3, 2, 8, 0)  # received
    assert early[9] == datetime(2026, 3, 2, 8, 30)  # transferred to the processing officer
    assert early[10] == datetime(2026, 3, 4, 9, 0)  # result returned
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet.freeze_panes == "A6" and sheet.column_dimensions["B"].width > 20
    assert sheet.cell(row=6, column=8).number_format == "dd/mm/yyyy hh:mm"
    assert "Giải quyết trước hạn" in early[11] and "Phạm Thị Sớm" in early[11]
    assert lines[2][11] == "Chờ thực hiện nghĩa vụ tài chính"
    assert lines[3][11] == "Rút hồ sơ theo yêu cầu"
    assert not any(d.code in str(rows) for d in province.dossiers[province.b])


def test_the_register_book_pdf_prints_the_form_and_its_lines(province, client):
    client.force_login(province.a.supervisor)
    with time_machine.travel(NOW, tick=False):
        response = client.get("/thong-ke/so-theo-doi.pdf", MARCH)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    page = reader.pages[0]
    assert page.mediabox.width > page.mediabox.height  # A4 landscape
    text = " ".join(p.extract_text() for p in reader.pages)
    flat = re.sub(r"\s+", " ", text)
    assert "SỔ THEO DÕI HỒ SƠ" in flat
    for column in ("Mã hồ sơ", "Tên TTHC", "Hẹn trả kết quả", "Ghi chú"):
        assert column in flat
    accepted_in_march = [d for d in province.dossiers[province.a] if d.received_at and d.received_at >= vn(2026, 3, 1)]
    assert len(accepted_in_march) == 4
    compact = flat.replace(" ", "")
    for dossier in accepted_in_march:
        assert dossier.code.replace(" ", "") in compact
    assert "Lê Văn Muộn" not in flat  # accepted in February
    assert "Mẫu số 07" in flat


def test_a_register_pdf_too_long_for_one_document_is_refused_with_a_readable_400(province, client, monkeypatch):
    monkeypatch.setattr(register, "PDF_MAX_ROWS", 3)
    client.force_login(province.supervisor)
    with time_machine.travel(NOW, tick=False):
        response = client.get("/thong-ke/so-theo-doi.pdf", MARCH)
    assert response.status_code == 400
    assert "download XLSX" in response.content.decode()


def test_the_dossiers_behind_a_number_download_as_xlsx(province, client):
    client.force_login(province.supervisor)
    with time_machine.travel(NOW, tick=False):
        content = download(client.get("/thong-ke/ho-so.xlsx", {**MARCH, "metric": "received"}))
        body = APIClient()
        body.force_authenticate(province.supervisor)
        total = body.get("/api/v1/stats/", MARCH).json()["total"]
    rows = sheet_rows(content)
    assert rows[0][0] == "Received: Total"
    header = rows[2]
    assert header[:3] == ["Dossier code", "Procedure", "Applicant"]
    lines = [row for row in rows[3:] if any(row)]
    assert len(lines) == total["received"] == 10
    expected = {d.code for office in (province.a, province.b) for d in province.dossiers[office] if d.received_at}
    assert {line[0] for line in lines} == expected


def test_exports_are_scoped_and_validated_like_the_page(province, client):
    client.force_login(province.a.supervisor)
    with time_machine.travel(NOW, tick=False):
        assert client.get("/thong-ke/tien-do.xlsx", {**MARCH, "agency": "H58.02"}).status_code == 403
        assert client.get("/thong-ke/so-theo-doi.pdf", {**MARCH, "agency": "H58.02"}).status_code == 403
        assert client.get("/thong-ke/tien-do.csv", {"from": "31/02/2026"}).status_code == 400
        assert client.get("/thong-ke/ho-so.xlsx", {**MARCH, "metric": "nothing"}).status_code == 400
        _header, records = table_from_xlsx(download(client.get("/thong-ke/tien-do.xlsx", MARCH)))
    assert [r["Agency code"] for r in records[:-1]] == ["H58.01"]


def test_a_register_book_for_a_day_without_dossiers_is_still_a_valid_file(province, client):
    client.force_login(province.supervisor)
    with time_machine.travel(NOW, tick=False):
        rows = sheet_rows(
            download(client.get("/thong-ke/so-theo-doi.xlsx", {"from": "2026-03-01", "to": "2026-03-01"}))
        )
        pdf = client.get("/thong-ke/so-theo-doi.pdf", {"from": "2026-03-01", "to": "2026-03-01"})
    assert rows[3] == list(register.COLUMNS) and not any(any(row) for row in rows[5:])
    assert "Không có hồ sơ trong kỳ" in PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()


def test_a_register_filtered_by_field_keeps_the_book_numbers_of_the_receipts(province):
    office = province.a
    other_field = make_field(code="CT", name="Chứng thực")
    procedure = make_procedure(name="Chứng thực bản sao", agencies=[office.agency], field=other_field)
    with time_machine.travel(vn(2026, 3, 20, 9, 0), tick=False):
        certified, _pin = office.receive(procedure=procedure, applicant_name="Mai Chứng Thực")
    filters = stats.Filters(
        start=vn(2026, 3, 1, 0, 0).date(),
        end=vn(2026, 3, 31, 0, 0).date(),
        agency=None,
        field=office.procedure.field,
        exact=False,
        agency_ids=frozenset({office.agency.pk}),
    )

    numbers = [number for number, _dossier in register.numbered(filters)]
    everything = [number for number, _dossier in register.numbered(dataclasses.replace(filters, field=None))]

    assert certified.code not in {d.code for _n, d in register.numbered(filters)}
    assert certified.register_number() in everything
    assert numbers == [n for n in everything if n != certified.register_number()]
    assert numbers[0] == 2  # after February's line


def test_the_register_counts_dossiers_by_the_receiving_desk_and_the_day_on_the_receipt(province):
    office = province.a
    filters = stats.Filters(
        start=vn(2026, 3, 2, 0, 0).date(),
        end=vn(2026, 3, 2, 0, 0).date(),
        agency=None,
        field=None,
        exact=False,
        agency_ids=frozenset({office.agency.pk}),
    )
    codes = list(register.register_dossiers(filters).values_list("code", flat=True))
    assert codes == [province.dossiers[office][1].code]


def test_the_xlsx_exports_have_widths_a_frozen_header_and_real_dates(province, client):
    client.force_login(province.a.supervisor)
    with time_machine.travel(NOW, tick=False):
        table = download(client.get("/thong-ke/tien-do.xlsx", MARCH))
        listing = download(client.get("/thong-ke/ho-so.xlsx", {**MARCH, "metric": "received"}))
    sheet = load_workbook(io.BytesIO(table)).active
    assert sheet.freeze_panes == "A5"
    assert sheet.column_dimensions["B"].width >= 30 and sheet.column_dimensions["E"].width >= 10
    assert sheet.cell(row=4, column=1).font.bold
    sheet = load_workbook(io.BytesIO(listing)).active
    assert sheet.freeze_panes == "A4"
    received = [row[6] for row in sheet.iter_rows(min_row=4, values_only=True)]
    assert received and all(isinstance(value, datetime) for value in received)
    assert sheet.cell(row=4, column=7).number_format == "dd/mm/yyyy hh:mm"
    # Applicant text is still text, never a formula (the security property of reporting/xlsx.py).
    assert all(sheet.cell(row=r, column=3).data_type == "s" for r in range(4, sheet.max_row + 1))


def test_the_register_pdf_breaks_codes_only_after_a_hyphen(province, client):
    client.force_login(province.a.supervisor)
    with time_machine.travel(NOW, tick=False):
        content = download(client.get("/thong-ke/so-theo-doi.pdf", MARCH))
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    lines = text.splitlines()
    for dossier in province.dossiers[province.a]:
        if dossier.received_at is None or dossier.received_at < vn(2026, 3, 1):
            continue
        for part in dossier.code.split("-"):
            assert any(part in line for line in lines), f"{part} of {dossier.code} is broken across lines"
