"""The procedure importer (procedures/importing.py) and `manage.py import_procedures`.

tests/procedures/data/procedures.csv holds 20 realistic rows, 3 of them bad:
line 7 (unknown agency and bad processing time), line 13 (duplicate of line 4) and line 19
(the abolished district level and workflow shares adding up to 80). procedures.json holds the
same catalogue (some documents/workflows as objects), so its lines are one less; the XLSX
variant is written from the CSV inside the tests, with numeric cells where Excel would make them.
"""

import csv
import io
import json
from datetime import time, timedelta
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import time_machine
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from django.utils import timezone, translation

from procedures.importing import ImportFormatError, import_records, read_file
from procedures.models import Agency, Field, Procedure, RequiredDocument

DATA = Path(__file__).parent / "data"
PROVINCE, DEPARTMENT, COMMUNE = "000.00.00.H40", "000.00.21.H40", "000.21.30.H40"
BAD_CODES = {"2.000913", "1.004227"}


@pytest.fixture(autouse=True)
def english():
    # Reasons are English msgids; the project's default language is Vietnamese.
    with translation.override("en"):
        yield


@pytest.fixture
def agencies(db):
    province = Agency.objects.create(code=PROVINCE, name="Ủy ban nhân dân tỉnh", level=Agency.Level.PROVINCE)
    department = Agency.objects.create(
        code=DEPARTMENT, name="Sở Tư pháp", level=Agency.Level.DEPARTMENT, parent=province
    )
    commune = Agency.objects.create(
        code=COMMUNE, name="Ủy ban nhân dân xã", level=Agency.Level.COMMUNE, parent=province
    )
    return {PROVINCE: province, DEPARTMENT: department, COMMUNE: commune}


def csv_rows(path=DATA / "procedures.csv"):
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def write_csv(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_xlsx(path, rows):
    """The rows as a workbook, with number cells where Excel would store numbers."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    columns = list(rows[0])
    sheet.append(columns)
    for row in rows:
        cells = []
        for column in columns:
            value = row[column]
            if column in ("stt", "processing_days", "fee_vnd") and value.isdigit():
                value = int(value)
            elif column == "same_day_cutoff" and value:
                value = time.fromisoformat(value)
            cells.append(value)
        sheet.append(cells)
    workbook.save(path)
    return path


@pytest.fixture(params=["csv", "xlsx", "json"])
def catalogue(request, tmp_path):
    """(path, line of the first data row): CSV/XLSX count the header as line 1, JSON does not."""
    if request.param == "csv":
        return DATA / "procedures.csv", 2
    if request.param == "xlsx":
        return write_xlsx(tmp_path / "procedures.xlsx", csv_rows()), 2
    return DATA / "procedures.json", 1


def snapshot():
    return {
        procedure.code: (
            procedure.version,
            procedure.updated_at,
            sorted(procedure.documents.values_list("pk", flat=True)),
            sorted(procedure.workflow_steps.values_list("pk", flat=True)),
        )
        for procedure in Procedure.objects.all()
    }


def row(**values):
    """A minimal valid row, overridden by `values`."""
    return {"code": "1.000001", "name": "Thủ tục thử", "field_code": "HOTICH", "processing_days": "3", **values}


def reasons(report):
    assert len(report.errors) == 1, report.errors
    return report.errors[0].reason


# --- Importing files ----------------------------------------------------------------------------


def test_file_imports_good_rows_and_names_each_bad_row_with_its_line(agencies, catalogue):
    path, first = catalogue

    report = import_records(read_file(path))

    assert (report.created, report.updated, report.unchanged) == (17, 0, 0)
    assert Procedure.objects.count() == 17
    errors = {error.line - first + 2: error for error in report.errors}  # as CSV line numbers
    assert sorted(errors) == [7, 13, 19]
    assert errors[7].code == "2.000913"
    assert "unknown agency code XYZ.99" in errors[7].reason
    assert "processing_days “hai ngày”" in errors[7].reason
    assert errors[13].code == "1.000656"
    assert errors[13].reason == f"duplicate code in file, first seen on line {4 - 2 + first}"
    assert "level “Cấp huyện” is not one of" in errors[19].reason
    assert "workflow shares add up to 80, not 100" in errors[19].reason
    assert not Procedure.objects.filter(code__in=BAD_CODES).exists()
    assert Procedure.objects.get(code="1.000656").name == "Đăng ký khai tử"  # the duplicate did not win
    assert report.ignored_columns == ["stt"]


def test_imported_values_are_parsed_from_their_file_formats(agencies):
    import_records(read_file(DATA / "procedures.csv"))

    birth = Procedure.objects.get(code="1.001193")
    assert birth.level == Procedure.Level.COMMUNE  # "Cấp xã"
    assert birth.service_level == Procedure.ServiceLevel.FULL  # "toàn trình"
    assert birth.processing_days == Decimal("0")
    assert birth.processing_time_text == "Ngay trong ngày"
    assert birth.same_day_cutoff == time(15, 0)
    assert birth.fee_vnd is None
    assert birth.steps == "Bước 1: Nộp hồ sơ tại Bộ phận Một cửa hoặc trực tuyến.\nBước 2: Nhận kết quả."
    assert birth.field.name == "Hộ tịch"
    assert birth.version == 1
    assert list(birth.agencies.values_list("code", flat=True)) == [COMMUNE]
    assert list(birth.documents.values_list("position", "name", "originals", "copies", "note")) == [
        (1, "Tờ khai đăng ký khai sinh theo mẫu", 1, 0, ""),
        (2, "Giấy chứng sinh", 1, 0, "Bản chính hoặc văn bản thay thế giấy chứng sinh"),
    ]
    assert list(birth.workflow_steps.values_list("position", "name", "role", "time_share")) == [
        (1, "Tiếp nhận hồ sơ", "reception", 20),
        (2, "Thẩm định, xử lý", "specialist", 50),
        (3, "Phê duyệt", "leader", 30),
    ]
    marriage = Procedure.objects.get(code="1.000894")
    assert marriage.processing_days == Decimal("0.5")  # "0,5"
    assert marriage.service_level == Procedure.ServiceLevel.PARTIAL
    assert list(marriage.documents.values_list("name", "originals")) == [
        ("Tờ khai đăng ký kết hôn", 2),
        ("Giấy xác nhận tình trạng hôn nhân", 1),
    ]  # separated by "|"
    assert Procedure.objects.get(code="2.000815").fee_vnd == 2000  # "2.000"
    assert Procedure.objects.get(code="2.000884").fee_vnd == 10000  # "10,000"
    assert Procedure.objects.get(code="2.002165").fee_vnd == 100000  # "100.000 đ"
    land = Procedure.objects.get(code="1.001266")
    assert land.level == Procedure.Level.PROVINCE  # "Cấp tỉnh"
    assert set(land.agencies.values_list("code", flat=True)) == {PROVINCE, DEPARTMENT}
    foreign = Procedure.objects.get(code="1.000593")
    assert foreign.published is False
    assert foreign.fee_vnd == 1_000_000
    assert Field.objects.get(code="HKD").name == "Thành lập và hoạt động của hộ kinh doanh"


def test_reimporting_the_same_file_writes_nothing(agencies, catalogue):
    path, _first = catalogue
    import_records(read_file(path))
    before = snapshot()

    with time_machine.travel(timezone.now() + timedelta(days=1), tick=False):
        report = import_records(read_file(path))

    assert (report.created, report.updated, report.unchanged, len(report.errors)) == (0, 0, 17, 3)
    assert snapshot() == before  # same version, updated_at and document/step rows


def test_csv_xlsx_and_json_of_one_catalogue_import_to_the_same_procedures(agencies, tmp_path):
    import_records(read_file(DATA / "procedures.csv"))
    before = snapshot()

    from_json = import_records(read_file(DATA / "procedures.json"))
    from_xlsx = import_records(read_file(write_xlsx(tmp_path / "catalogue.xlsx", csv_rows())))

    assert (from_json.created, from_json.updated, from_json.unchanged) == (0, 0, 17)
    assert (from_xlsx.created, from_xlsx.updated, from_xlsx.unchanged) == (0, 0, 17)
    assert snapshot() == before


def test_changed_row_updates_the_procedure_replaces_documents_and_bumps_version(agencies, tmp_path):
    import_records(read_file(DATA / "procedures.csv"))
    marriage = Procedure.objects.get(code="1.000894")
    form = marriage.documents.get(name="Tờ khai đăng ký kết hôn")
    form.template = "forms/to-khai-ket-hon.docx"  # uploaded in the admin; must survive the import
    form.save()
    untouched_before = Procedure.objects.get(code="1.001193").updated_at
    rows = csv_rows()
    changed = next(r for r in rows if r["code"] == "1.000894")
    changed["processing_days"] = "5"
    changed["documents"] = "Tờ khai đăng ký kết hôn;2;0|Giấy xác nhận tình trạng hôn nhân;1;0|Hộ chiếu;0;1"

    report = import_records(read_file(write_csv(tmp_path / "changed.csv", rows)))

    assert (report.created, report.updated, report.unchanged) == (0, 1, 16)
    marriage.refresh_from_db()
    assert marriage.version == 2
    assert marriage.processing_days == Decimal("5")
    assert list(marriage.documents.values_list("name", "copies", "template")) == [
        ("Tờ khai đăng ký kết hôn", 0, "forms/to-khai-ket-hon.docx"),
        ("Giấy xác nhận tình trạng hôn nhân", 0, ""),
        ("Hộ chiếu", 1, ""),
    ]
    untouched = Procedure.objects.get(code="1.001193")
    assert (untouched.version, untouched.updated_at) == (1, untouched_before)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("agency_codes", f"{PROVINCE}|{COMMUNE}"),
        ("workflow", "Tiếp nhận;reception;10|Xử lý;specialist;60|Phê duyệt;leader;30"),
        ("field_code", "CHUNGTHUC"),
        ("same_day_cutoff", "16:00"),
        ("published", "0"),
    ],
)
def test_a_change_in_any_part_counts_as_an_update(agencies, column, value):
    import_records(read_file(DATA / "procedures.csv"))
    original = next(r for r in csv_rows() if r["code"] == "1.001193")

    report = import_records([{**original, column: value}])

    assert (report.created, report.updated, report.unchanged) == (0, 1, 0)
    assert Procedure.objects.get(code="1.001193").version == 2


def test_missing_column_leaves_the_stored_value_alone_and_empty_cell_clears_it(agencies):
    import_records(read_file(DATA / "procedures.csv"))
    original = next(r for r in csv_rows() if r["code"] == "1.001193")
    minimal = {key: original[key] for key in ("code", "name", "field_code", "processing_days")}

    assert import_records([minimal]).unchanged == 1
    assert Procedure.objects.get(code="1.001193").documents.count() == 2

    report = import_records([{**minimal, "documents": "", "same_day_cutoff": ""}])

    assert report.updated == 1
    birth = Procedure.objects.get(code="1.001193")
    assert birth.documents.count() == 0
    assert birth.same_day_cutoff is None
    assert birth.workflow_steps.count() == 3  # no workflow column: untouched


def test_dry_run_reports_what_would_happen_and_writes_nothing(agencies, tmp_path):
    report = import_records(read_file(DATA / "procedures.csv"), dry_run=True)

    assert report.dry_run is True
    assert (report.created, report.updated, report.unchanged, len(report.errors)) == (17, 0, 0, 3)
    assert not Procedure.objects.exists()
    assert not Field.objects.exists()
    assert not RequiredDocument.objects.exists()

    import_records(read_file(DATA / "procedures.csv"))
    before = snapshot()
    rows = csv_rows()
    next(r for r in rows if r["code"] == "1.000894")["name"] = "Đăng ký kết hôn (sửa)"

    report = import_records(read_file(write_csv(tmp_path / "changed.csv", rows)), dry_run=True)

    assert (report.created, report.updated, report.unchanged) == (0, 1, 16)
    assert snapshot() == before
    assert Procedure.objects.get(code="1.000894").name == "Đăng ký kết hôn"


def test_records_may_be_plain_dicts_with_python_values(agencies):
    report = import_records(
        [
            row(
                code="1.000100",
                field_name="Hộ tịch",
                processing_days=Decimal("0.5"),
                fee_vnd=50000,
                published=False,
                agency_codes=[COMMUNE],
                documents=[{"name": "Tờ khai", "copies": 2}, "Giấy tờ tùy thân;1;0;Xuất trình"],
                workflow=[
                    {"name": "Tiếp nhận", "role": "reception", "share": 40},
                    {"name": "Phê duyệt", "role": "Lãnh đạo", "share": "60%"},
                ],
            ),
            row(code="1.000101", processing_days=2),  # the field created by the row above
            row(code="bad code"),
        ]
    )

    assert (report.created, [error.line for error in report.errors]) == (2, [3])
    procedure = Procedure.objects.get(code="1.000100")
    assert (procedure.processing_days, procedure.fee_vnd, procedure.published) == (Decimal("0.5"), 50000, False)
    assert list(procedure.documents.values_list("name", "originals", "copies", "note")) == [
        ("Tờ khai", 1, 2, ""),
        ("Giấy tờ tùy thân", 1, 0, "Xuất trình"),
    ]
    assert list(procedure.workflow_steps.values_list("role", "time_share")) == [("reception", 40), ("leader", 60)]
    assert Procedure.objects.get(code="1.000101").field == procedure.field


def test_new_field_created_by_an_earlier_row_is_known_in_a_dry_run(agencies):
    report = import_records(
        [row(code="1.000100", field_code="MOI", field_name="Lĩnh vực mới"), row(code="1.000101", field_code="MOI")],
        dry_run=True,
    )

    assert (report.created, report.errors) == (2, [])


def test_field_name_is_updated_when_it_changes(agencies):
    import_records([row(field_name="Hộ tịch")])

    report = import_records([row(field_name="Hộ tịch (sửa đổi)")])

    assert Field.objects.get(code="HOTICH").name == "Hộ tịch (sửa đổi)"
    assert report.unchanged == 1
    assert Procedure.objects.get(code="1.000001").version == 1


# --- Values --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"fee_vnd": "50.000"}, {"fee_vnd": 50000}),
        ({"fee_vnd": "50,000"}, {"fee_vnd": 50000}),
        ({"fee_vnd": "50000"}, {"fee_vnd": 50000}),
        ({"fee_vnd": "1.250.000 VNĐ"}, {"fee_vnd": 1250000}),
        ({"fee_vnd": "Miễn phí"}, {"fee_vnd": 0}),
        ({"fee_vnd": ""}, {"fee_vnd": None}),
        ({"processing_days": "0,5"}, {"processing_days": Decimal("0.5")}),
        ({"processing_days": "0.5"}, {"processing_days": Decimal("0.5")}),
        ({"processing_days": 365}, {"processing_days": Decimal("365")}),
        ({"level": "Cấp tỉnh"}, {"level": "province"}),
        ({"level": "CẤP XÃ"}, {"level": "commune"}),
        ({"level": "central"}, {"level": "central"}),
        ({"level": ""}, {"level": "commune"}),
        ({"service_level": "Toàn trình"}, {"service_level": "full"}),
        ({"service_level": "một phần"}, {"service_level": "partial"}),
        ({"service_level": "Không"}, {"service_level": "none"}),
        ({"same_day_cutoff": "15h30"}, {"same_day_cutoff": time(15, 30)}),
        ({"published": "không"}, {"published": False}),
        ({"published": ""}, {"published": True}),
        ({"name": "  Đăng ký\r\nkhai sinh "}, {"name": "Đăng ký\nkhai sinh"}),
    ],
)
def test_accepted_value_spellings(agencies, values, expected):
    report = import_records([row(field_name="Hộ tịch", **values)])

    assert report.errors == []
    procedure = Procedure.objects.get(code="1.000001")
    assert {key: getattr(procedure, key) for key in expected} == expected


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"code": "1 001"}, "code “1 001” may hold only letters, digits, dots and dashes (at most 40)"),
        ({"code": "1." + "0" * 40}, "may hold only letters, digits, dots and dashes (at most 40)"),
        ({"code": 1.00119}, "code must be a text cell, not a number"),
        ({"processing_days": "366"}, "processing_days “366” is not a number of working days from 0 to 365"),
        ({"processing_days": "-1"}, "processing_days “-1” is not a number"),
        ({"processing_days": "0.25"}, "processing_days “0.25” is not a number"),
        ({"fee_vnd": "-5000"}, "fee_vnd “-5000” is not a whole amount of VND"),
        ({"fee_vnd": "50.5"}, "fee_vnd “50.5” is not a whole amount of VND"),
        ({"level": "district"}, "level “district” is not one of: province, commune, central"),
        ({"service_level": "maybe"}, "service_level “maybe” is not one of: full, partial, none"),
        ({"same_day_cutoff": "25:00"}, "same_day_cutoff “25:00” is not a time HH:MM"),
        ({"published": "perhaps"}, "published “perhaps” is not yes/no"),
        ({"agency_codes": f"{COMMUNE}, 999.XX"}, "unknown agency code 999.XX"),
        ({"documents": "Tờ khai;một;0"}, "document 1: originals “một” is not a whole number"),
        ({"documents": "Tờ khai;1;0\n;1;0"}, "document 2 has no name"),
        ({"workflow": "Tiếp nhận;cashier;100"}, "workflow step 1: role “cashier” is not one of"),
        ({"workflow": "Tiếp nhận;reception;150"}, "workflow step 1: share “150” is not a percentage from 0 to 100"),
        ({"workflow": "A;reception;30|B;leader;30"}, "workflow shares add up to 60, not 100"),
        ({"name": "x" * 501}, "name is longer than 500 characters"),
        ({"field_code": "NEW"}, "field_name is required to create the new field NEW"),
    ],
)
def test_bad_values_are_named_and_change_nothing(agencies, values, reason):
    report = import_records([row(field_name="", **values)] if "field_code" in values else [row(**values)])

    assert reason in reasons(report)
    assert report.created == 0
    assert not Procedure.objects.exists()


def test_all_problems_of_a_row_are_reported_together(agencies):
    report = import_records([{"code": "", "name": "", "field_code": "", "processing_days": "", "level": "x"}])

    assert report.errors[0].reason == (
        "code is required; name is required; field_code is required; processing_days is required; "
        "level “x” is not one of: province, commune, central"
    )


def test_a_bad_update_leaves_the_stored_procedure_untouched(agencies):
    import_records([row(field_name="Hộ tịch", documents="Tờ khai;1;0")])
    before = snapshot()

    report = import_records([row(name="Tên mới", documents="Tờ khai;1;0|Giấy tờ;x;0")])

    assert report.updated == 0 and len(report.errors) == 1
    assert snapshot() == before
    assert Procedure.objects.get().name == "Thủ tục thử"


def test_conflicting_field_names_within_a_file_are_an_error(agencies):
    report = import_records([row(code="1.000001", field_name="Hộ tịch"), row(code="1.000002", field_name="Chứng thực")])

    assert report.created == 1
    assert reasons(report) == "field HOTICH is named “Hộ tịch” on line 1"


# --- Reading files -------------------------------------------------------------------------------


def test_csv_reader_accepts_bom_semicolons_and_multiline_cells(tmp_path):
    path = tmp_path / "catalogue.csv"
    path.write_bytes(
        "\ufeffCode;Name;Field_Code;Processing_Days;Documents\n"
        '1.0001;Thủ tục A;HT;3;"Tờ khai;1;0\nGiấy tờ;0;1"\n'
        ";;;;\n"
        "1.0002;Thủ tục B;HT;0,5;\n".encode()
    )

    records = read_file(path)

    assert [line for line, _row in records] == [2, 4]  # spreadsheet rows; the blank row 3 is skipped
    assert records[0][1]["documents"] == "Tờ khai;1;0\nGiấy tờ;0;1"
    assert records[1][1]["processing_days"] == "0,5"


def test_read_file_takes_an_uploaded_file_object_with_its_name():
    upload = io.BytesIO(json.dumps([row()]).encode())

    assert read_file(upload, filename="catalogue.JSON") == [(1, row())]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("catalogue.txt", b"code,name", "Unsupported file type “.txt”: use a .csv, .xlsx or .json file."),
        ("catalogue", b"code,name", "Unsupported file type"),
        ("catalogue.csv", b"", "The file is empty."),
        ("catalogue.csv", "code,name\n1.0001,Đăng\n".encode("cp1258"), "The CSV file is not UTF-8 encoded"),
        ("catalogue.csv", b"code,name,field_code\n1,a,b\n", "Missing required column(s): processing_days."),
        ("catalogue.csv", b"code,name,field_code,processing_days,name\n", "The column “name” appears more than once."),
        ("catalogue.xlsx", b"PK\x03\x04 not really a zip", "The file is not a readable XLSX workbook"),
        ("catalogue.json", b'{"code": "1.0001"}', "The JSON file must hold an array of objects"),
        ("catalogue.json", b'[{"code": "1.0001"},', "The file is not valid JSON (line 1, column"),
        ("catalogue.json", b'[{"code": "1.0001"}, "x"]', "Item 2 of the JSON array is not an object."),
    ],
)
def test_unreadable_files_raise_a_readable_error(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)

    with pytest.raises(ImportFormatError) as raised:
        read_file(path)

    assert message in str(raised.value)


def test_xlsx_without_required_columns_is_refused(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.append(["code", "name"])
    workbook.save(tmp_path / "catalogue.xlsx")

    with pytest.raises(ImportFormatError, match=r"Missing required column\(s\): field_code, processing_days"):
        read_file(tmp_path / "catalogue.xlsx")


def test_missing_file_is_a_readable_error(tmp_path):
    with pytest.raises(ImportFormatError, match="Cannot read the file .*missing.csv: No such file or directory"):
        read_file(tmp_path / "missing.csv")


# --- The management command --------------------------------------------------------------------


@pytest.fixture
def keep_test_connection(monkeypatch):
    """`run_from_argv` closes every database connection when a command ends, which on PostgreSQL
    would drop the test's transaction; keep it open so the exit status can be tested in-process."""
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)


def run_command(*args):
    stdout, stderr = io.StringIO(), io.StringIO()
    error = None
    try:
        call_command("import_procedures", *args, stdout=stdout, stderr=stderr)
    except CommandError as exc:
        error = exc
    return stdout.getvalue(), stderr.getvalue(), error


def test_command_prints_the_summary_and_each_bad_row_and_fails(agencies):
    stdout, stderr, error = run_command(str(DATA / "procedures.csv"))

    assert "Created: 17, updated: 0, unchanged: 0, errors: 3." in stdout
    assert "Ignored unknown columns: stt" in stdout
    lines = stderr.splitlines()
    assert lines[0].startswith("line 7 (code 2.000913): ")
    assert lines[1] == "line 13 (code 1.000656): duplicate code in file, first seen on line 4"
    assert lines[2].startswith("line 19 (code 1.004227): level “Cấp huyện”")
    assert str(error) == "3 rows were not imported."
    assert error.returncode == 1
    assert Procedure.objects.count() == 17  # the good rows are imported anyway


def test_command_dry_run_writes_nothing(agencies):
    stdout, _stderr, _error = run_command(str(DATA / "procedures.json"), "--dry-run")

    assert "Dry run, nothing was written. Created: 17, updated: 0, unchanged: 0, errors: 3." in stdout
    assert not Procedure.objects.exists()


def test_command_exit_status_is_0_for_a_clean_file_and_1_for_bad_rows(agencies, tmp_path, capsys, keep_test_connection):
    good_rows = [r for r in csv_rows() if r["code"] not in BAD_CODES and r["name"] != "Đăng ký khai tử (trùng)"]
    good = write_csv(tmp_path / "good.csv", good_rows)

    execute_from_command_line(["manage.py", "import_procedures", str(good)])  # no SystemExit: status 0

    assert "Created: 17, updated: 0, unchanged: 0, errors: 0." in capsys.readouterr().out
    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(["manage.py", "import_procedures", str(DATA / "procedures.csv")])
    assert exited.value.code == 1
    assert "Created: 0, updated: 0, unchanged: 17, errors: 3." in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("catalogue.txt", b"code", "CommandError: Unsupported file type “.txt”: use a .csv, .xlsx or .json file."),
        ("catalogue.csv", b"code,name\n", "CommandError: Missing required column(s): field_code, processing_days."),
        ("catalogue.xlsx", b"garbage", "CommandError: The file is not a readable XLSX workbook"),
    ],
)
def test_command_refuses_unreadable_files_without_a_traceback(
    db, tmp_path, capsys, keep_test_connection, name, content, message
):
    path = tmp_path / name
    path.write_bytes(content)

    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(["manage.py", "import_procedures", str(path)])

    assert exited.value.code == 1
    stderr = capsys.readouterr().err
    assert message in stderr
    assert "Traceback" not in stderr


def test_the_example_in_the_documentation_imports_cleanly(agencies, tmp_path):
    guide = (Path(__file__).parents[2] / "docs" / "import-format.md").read_text(encoding="utf-8")
    example = guide.split("```csv\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "example.csv"
    path.write_text(example, encoding="utf-8")

    report = import_records(read_file(path))

    assert (report.created, report.errors) == (2, [])
    copy = Procedure.objects.get(code="2.000815")
    assert (copy.fee_vnd, copy.same_day_cutoff, copy.documents.count()) == (2000, time(15, 0), 2)
    assert Procedure.objects.get(code="1.001193").workflow_steps.count() == 3
