"""The register book (Sổ theo dõi hồ sơ, Mẫu số 07 of Circular 03/2025/TT-VPCP, Appendix I; it was
Mẫu 05 of Circular 01/2018/TT-VPCP): the dossiers a desk accepted in a period, one line each, as
XLSX (streamed through a write-only workbook) and as an A4 landscape PDF (WeasyPrint). The form's
fixed texts are the official Vietnamese wording, on purpose. The columns are those of the 2018 form;
docs/forms.md says what could and could not be checked against the 2025 one.

A dossier belongs to the register of its receiving agency (the desk that accepted it), on the day
printed on its receipt (`received_at`). Each desk keeps one book a calendar year: a line's number
("STT") is the dossier's number in its desk's book of that year (`dossiers.models.register_book_start`),
the number its receipt prints ("Vào Sổ theo dõi hồ sơ: Quyển số <year>, Số thứ tự <n>"), whatever
period or field the export shows. Scope: the agencies of the statistics filters
(`reporting.stats.Filters.agency_ids`), which are among the agencies `visible_to` the user.
"""

from django.conf import settings
from django.db.models import Count, OuterRef, Subquery
from django.template.loader import render_to_string
from django.utils import timezone

from dossiers.models import Dossier, DossierEvent, Status, register_book_start
from reporting import xlsx
from reporting.models import FinishKind
from reporting.stats import finish_kind

TITLE = "SỔ THEO DÕI HỒ SƠ"
FORM_NUMBER = "Mẫu số 07"
COLUMNS = (
    "STT",
    "Mã hồ sơ",
    "Tên TTHC",
    "Số lượng hồ sơ (bộ)",
    "Tên tổ chức/cá nhân",
    "Địa chỉ/số điện thoại",
    "Cơ quan chủ trì giải quyết",
    "Nhận hồ sơ (ngày, giờ)",
    "Hẹn trả kết quả",
    "Chuyển hồ sơ đến cơ quan giải quyết",
    "Trả kết quả (ngày, giờ)",
    "Ghi chú",
)
COLUMN_WIDTHS = (6, 26, 40, 10, 26, 32, 30, 17, 17, 17, 17, 34)
# WeasyPrint lays a whole document out in memory and needs about 20 ms per line (more on a busy
# machine): beyond this many lines (a commune's month, easily), ask for XLSX or a shorter period.
PDF_MAX_ROWS = 500
# Any export: beyond this many lines, ask for narrower filters (a write-only XLSX of this size takes
# well under a minute and little memory).
EXPORT_MAX_ROWS = 200_000

OUTCOME_TEXT = {
    FinishKind.EARLY: "Giải quyết trước hạn",
    FinishKind.ON_TIME: "Giải quyết đúng hạn",
    FinishKind.LATE: "Giải quyết quá hạn",
    FinishKind.REFUSED: "Từ chối giải quyết",
    FinishKind.WITHDRAWN: "Rút hồ sơ theo yêu cầu",
    FinishKind.STOPPED: "Dừng giải quyết",
}
WAITING_TEXT = {
    Status.AWAITING_SUPPLEMENT: "Chờ bổ sung hồ sơ",
    Status.AWAITING_OBLIGATION: "Chờ thực hiện nghĩa vụ tài chính",
}


class TooManyRows(ValueError):
    def __init__(self, limit):
        self.limit = limit
        super().__init__(limit)


def fmt(value):
    """HH:MM dd/mm/yyyy in local time, or ""."""
    return f"{timezone.localtime(value):%H:%M %d/%m/%Y}" if value else ""


def _accepted(filters, start, end):
    """The dossiers the desks of `filters` accepted from `start` until `end`."""
    queryset = Dossier.objects.filter(received_at__gte=start, received_at__lt=end)
    if filters.agency_ids is not None:
        queryset = queryset.filter(receiving_agency_id__in=sorted(filters.agency_ids))
    return queryset


def register_dossiers(filters, *, every_field=False):
    """The register's dossiers for `filters`, in the order they were accepted. The time of the
    transfer to the processing officer comes from a subquery: one query for the whole book.
    `every_field`: ignore the field filter (the line numbers count every dossier of the book)."""
    queryset = _accepted(filters, filters.period_start, filters.period_end)
    if filters.field is not None and not every_field:
        queryset = queryset.filter(procedure__field=filters.field)
    transferred = (
        DossierEvent.objects.filter(dossier=OuterRef("pk"), action="assign")
        .order_by("created_at", "id")
        .values("created_at")
    )
    return (
        queryset.select_related("competent_agency", "procedure")
        .annotate(transferred_at=Subquery(transferred[:1]))
        .order_by("received_at", "id")
    )


def check_size(queryset, limit):
    """TooManyRows when `queryset` has more than `limit` rows (a LIMITed count, not a full one)."""
    if queryset.order_by()[: limit + 1].count() > limit:
        raise TooManyRows(limit)


def note(dossier, now):
    parts = []
    kind = finish_kind(dossier.status, dossier.finished_at, dossier.due_at, dossier.supplement_requests)
    if kind:
        parts.append(OUTCOME_TEXT[kind])
    elif dossier.status in WAITING_TEXT:
        parts.append(WAITING_TEXT[dossier.status])
    elif dossier.is_overdue(now):
        parts.append("Quá hạn")
    if dossier.original_due_at:
        parts.append(f"Gia hạn, hẹn cũ {fmt(dossier.original_due_at)}")
    if dossier.returned_to:
        parts.append(f"Người nhận kết quả: {dossier.returned_to}")
    return "; ".join(parts)


def _book_key(dossier):
    return dossier.receiving_agency_id, timezone.localtime(dossier.received_at).year


def lines_before(filters):
    """{(desk id, year): lines already in that desk's book of that year before the period} (one
    query): the numbering of a period goes on from there."""
    book_start = register_book_start(filters.period_start)
    if book_start >= filters.period_start:
        return {}
    counts = (
        _accepted(filters, book_start, filters.period_start)
        .order_by()
        .values("receiving_agency_id")
        .annotate(n=Count("pk"))
    )
    year = timezone.localtime(book_start).year
    return {(row["receiving_agency_id"], year): row["n"] for row in counts}


def numbered(filters):
    """(book line number, dossier) for the register of `filters`, in acceptance order. With a field
    filter every dossier of the period is read, to keep counting the lines of other fields."""
    counters = lines_before(filters)
    field_id = filters.field.pk if filters.field is not None else None
    for dossier in register_dossiers(filters, every_field=True).iterator(chunk_size=2000):
        key = _book_key(dossier)
        counters[key] = counters.get(key, 0) + 1
        if field_id is None or dossier.procedure.field_id == field_id:
            yield counters[key], dossier


def register_rows(filters, now=None, *, when=None):
    """One list of 12 cells per dossier, read in chunks (never the whole period in memory).
    `when` formats the moments (default `fmt`, text for the PDF; the XLSX keeps real dates)."""
    now = now or timezone.now()
    when = when or fmt
    for number, dossier in numbered(filters):
        contact = " / ".join(part for part in (dossier.applicant_address, dossier.applicant_phone) if part)
        yield [
            number,
            dossier.code,
            (dossier.procedure_snapshot or {}).get("name") or dossier.procedure.name,
            1,
            dossier.applicant_name,
            contact,
            dossier.competent_agency.name,
            when(dossier.received_at),
            when(dossier.due_at),
            when(dossier.transferred_at),
            when(dossier.returned_at),
            note(dossier, now),
        ]


def code_parts(row):
    """A PDF line with its dossier code (cell 2) split at the hyphens: the template prints each
    part unbroken with a break opportunity after its hyphen (a hyphen before digits is no line
    break opportunity, so the code used to break in the middle of a part)."""
    return [row[0], str(row[1]).split("-"), *row[2:]]


def period_line(filters):
    return f"Từ ngày {filters.start:%d/%m/%Y} đến ngày {filters.end:%d/%m/%Y}"


def write_xlsx(filters, fileobj, *, issuer=None, now=None):
    """The register book as XLSX into `fileobj` (a write-only workbook: rows go to disk as written)."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    queryset = register_dossiers(filters)
    check_size(queryset, EXPORT_MAX_ROWS)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("So theo doi ho so")
    for index, width in enumerate(COLUMN_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A6"
    xlsx.append(sheet, [issuer.name.upper() if issuer else "", *[""] * (len(COLUMNS) - 2), FORM_NUMBER])
    xlsx.append(sheet, [TITLE])
    xlsx.append(sheet, [period_line(filters)])
    xlsx.append(sheet, list(COLUMNS))
    xlsx.append(sheet, [f"({i})" for i in range(1, len(COLUMNS) + 1)])
    for row in register_rows(filters, now, when=lambda moment: moment):
        xlsx.append(sheet, row)
    workbook.save(fileobj)


def render_pdf(filters, *, issuer=None, now=None):
    """The register book as A4 landscape PDF bytes. TooManyRows beyond PDF_MAX_ROWS."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    queryset = register_dossiers(filters)
    check_size(queryset, PDF_MAX_ROWS)
    now = now or timezone.now()
    local = timezone.localtime(now)
    html = render_to_string(
        "stats/register_pdf.html",
        {
            "title": TITLE,
            "form_number": FORM_NUMBER,
            "columns": COLUMNS,
            "rows": [code_parts(row) for row in register_rows(filters, now)],
            "issuer": issuer,
            "period": period_line(filters),
            "dateline": f"ngày {local:%d} tháng {local:%m} năm {local:%Y}",
        },
    )
    # Nothing is fetched while printing: no file or network access from a PDF.
    fetcher = URLFetcher(allowed_protocols={"data"})
    return HTML(string=html, base_url=settings.SITE_URL, url_fetcher=fetcher).write_pdf()
