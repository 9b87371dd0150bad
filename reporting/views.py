"""The statistics pages (/thong-ke/) for supervisors and leaders: the Decision 766 progress table with
charts, the dossiers behind each number, and the exports (table as XLSX and CSV, the register book as
XLSX and PDF, a dossier list as XLSX).

Every view: login → scope (`stats.stats_scope`, 403 for officers without statistics) → filters
(`stats.StatsFilterForm`, 400 with the form's messages) → one `reporting.stats` call (the dashboard's
data: reporting/dashboard.py) → render. The API (`reporting.api.views`) reads the same functions, so
page, API and exports agree.

Large exports never hold everything in memory: CSV is streamed, XLSX is written row by row by a
write-only workbook into a temporary file that is then streamed; row counts are capped (see
`reporting.register`).
"""

import csv
import hashlib
import tempfile
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from dossiers import selectors
from procedures.models import Agency, Field
from procedures.text import sort_key
from reporting import handling, register, stats, xlsx
from reporting.dashboard import build as build_dashboard

# --- Shared steps ----------------------------------------------------------------------------------


class BadRequest(Exception):
    def __init__(self, errors):
        self.errors = errors
        super().__init__(errors)


def resolve(request, *, with_metric=False):
    """(filters, metric) for the request; PermissionDenied → 403, BadRequest → 400."""
    scope = stats.stats_scope(request.user)
    form = stats.StatsFilterForm(request.GET)
    if not form.is_valid():
        raise BadRequest(stats.form_errors(form))
    filters = stats.filters_for(form.cleaned_data, scope)
    metric = None
    if with_metric:
        metric = request.GET.get("metric", "")
        if metric not in stats.LIST_METRICS:
            raise BadRequest({"metric": [_("Choose one of the numbers of the table.")]})
    return filters, metric


def bad_request(request, errors):
    return render(request, "stats/message.html", {"errors": errors}, status=400)


def stats_view(with_metric=False):
    """login_required + GET/HEAD only + filters resolved, bad filters rendered as a 400 page."""

    def decorator(view):
        @require_safe
        @login_required
        @wraps(view)
        def wrapper(request):
            try:
                filters, metric = resolve(request, with_metric=with_metric)
            except BadRequest as exc:
                return bad_request(request, exc.errors)
            return view(request, filters, metric) if with_metric else view(request, filters)

        return wrapper

    return decorator


def issuer_of(filters):
    """The agency printed at the top of the register: the one filtered on, or the only one in scope."""
    if filters.agency is not None:
        return filters.agency
    if filters.agency_ids is not None and len(filters.agency_ids) == 1:
        return Agency.objects.filter(pk=next(iter(filters.agency_ids))).first()
    return None


def export_name(prefix, filters, extension):
    return f"{prefix}-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.{extension}"


def temporary_file_response(write, filename, content_type):
    """Let `write(fileobj)` fill a temporary file, then stream it (deleted once sent)."""
    # Not a `with` block: FileResponse closes (and so deletes) the file once it has been sent.
    fileobj = tempfile.TemporaryFile()  # noqa: SIM115
    try:
        write(fileobj)
    except BaseException:
        fileobj.close()
        raise
    fileobj.seek(0)
    response = FileResponse(fileobj, as_attachment=True, filename=filename, content_type=content_type)
    response["Cache-Control"] = "private, no-store"
    return response


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- Charts (inline SVG, computed here, drawn by templates) ------------------------------------------


def filter_choices(scope):
    """The filter form's agencies (in scope) and fields, also the names the table and the charts
    need: {"agencies": [...], "fields": [...]} — two small queries."""
    agencies = Agency.objects.order_by("code")
    if scope is not None:
        agencies = agencies.filter(pk__in=sorted(scope))
    return {
        "agencies": list(agencies.only("code", "name")),
        "fields": sorted(Field.objects.only("code", "name"), key=lambda field: sort_key(field.name)),
    }


def default_group(filters):
    """The page shows one row per agency when it covers several agencies (a province has hundreds
    of agency × field pairs), and the agency's fields when it covers one."""
    if filters.agency_ids is not None and len(filters.agency_ids) == 1:
        return stats.AGENCY_FIELD
    return stats.AGENCY


def figures_key(filters, group):
    """The cache key of the figures for these filters, rows and language. The agencies counted are
    the caller's scope within the filters, so two callers share figures only when they count the
    same agencies (the figures read nothing else of the scope)."""
    ids = "all" if filters.agency_ids is None else ",".join(map(str, sorted(filters.agency_ids)))
    raw = "|".join((ids, filters.query(), group, translation.get_language() or ""))
    return "stats-figures:v1:" + hashlib.sha256(raw.encode()).hexdigest()


def figures_html(filters, group, choices):
    """The dashboard's figures (key numbers, progress table, per handling agency, charts,
    definitions) as HTML. Kept STATS_PAGE_CACHE_SECONDS (0: computed for every page) per agencies
    counted, filters, rows and language (`figures_key`), and shown with the moment they were
    computed; the API, the exports and the lists of dossiers are always computed live. Issue 20:
    the figures were nine tenths of the page's time (≈ 70 ms at 1,000,000 dossiers), and a
    province's supervisors and leaders open the same period over and over."""
    seconds = settings.STATS_PAGE_CACHE_SECONDS
    key = figures_key(filters, group) if seconds > 0 else None
    if key is not None:
        html = cache.get(key)
        if html is not None:
            return mark_safe(html)  # noqa: S308 (our own rendering, kept as it was made)
    context = {
        **build_dashboard(filters, group, choices),
        # Who held what (inter-agency routing): steps, late dossiers charged, consultations.
        "handling": handling.handling_table(filters),
    }
    html = render_to_string("stats/includes/figures.html", context)
    if key is not None:
        cache.set(key, str(html), seconds)
    return html


@require_safe
@login_required
def dashboard(request):
    """/thong-ke/ — the progress table, charts and exports for the user's agencies: one row per
    agency (and the total) when it covers several agencies, per agency and field for one agency or
    with `group=agency_field`."""
    scope = stats.stats_scope(request.user)
    today = timezone.localdate()
    form = stats.StatsFilterForm(request.GET, today=today)
    choices = filter_choices(scope)
    context = {
        "form": form,
        "periods": stats.PERIODS,
        "years": [(year, year) for year in range(today.year, today.year - 6, -1)],
        "agency_options": [(agency.code, agency.name) for agency in choices["agencies"]],
        "field_options": [(field.code, field.name) for field in choices["fields"]],
        **choices,
    }
    if not form.is_valid():
        context.update(errors=stats.form_errors(form), current=dict(form.data.items()))
        return render(request, "stats/dashboard.html", context, status=400)
    filters = stats.filters_for(form.cleaned_data, scope)
    try:
        group = stats.parse_group(request.GET, default_group(filters))
    except stats.StatsInputError as exc:
        context.update(errors=exc.errors, current=dict(form.data.items()))
        return render(request, "stats/dashboard.html", context, status=400)
    data = form.cleaned_data
    context["current"] = {
        "period": data.get("period") or "custom",
        "year": data.get("year") or today.year,
        "month": data.get("month") or today.month,
        "quarter": data.get("quarter") or (today.month - 1) // 3 + 1,
        # dd/mm/yyyy whatever the browser's locale (the inputs are text, not type=date).
        "from": filters.start.strftime("%d/%m/%Y"),
        "to": filters.end.strftime("%d/%m/%Y"),
        "agency": filters.agency.code if filters.agency else "",
        "field": filters.field.code if filters.field else "",
        "exact": filters.exact,
    }
    context.update(
        filters=filters,
        figures_html=figures_html(filters, group, choices),
        period_label=period_text(filters),
        scope_label=scope_text(filters),
    )
    return render(request, "stats/dashboard.html", context)


# --- The dossiers behind a number -------------------------------------------------------------------


@stats_view(with_metric=True)
def dossier_list(request, filters, metric):
    """/thong-ke/ho-so/?metric=… — the dossiers counted in one number, keyset-paginated."""
    now = timezone.now()
    queryset = stats.metric_dossiers(metric, filters, now).select_related(*selectors.LIST_RELATED)
    try:
        items, next_cursor = selectors.keyset_page(queryset, after=request.GET.get("after") or None)
    except selectors.InvalidCursor:
        return bad_request(request, {"after": [_("This page link is no longer valid. Start from the first page.")]})
    for dossier in items:
        dossier.overdue_now = dossier.is_overdue(now)
    return render(
        request,
        "stats/dossier_list.html",
        {
            "filters": filters,
            "metric": metric,
            "metric_label": stats.metric_label(metric),
            "dossiers": items,
            "next_url": f"?{filters.query(metric=metric, after=next_cursor)}" if next_cursor else None,
            "first_url": f"?{filters.query(metric=metric)}" if request.GET.get("after") else None,
            "xlsx_url": f"{reverse('stats:dossiers_xlsx')}?{filters.query(metric=metric)}",
            "back_url": f"{reverse('stats:dashboard')}?{filters.query()}",
        },
    )


def dossier_list_columns():
    return [
        _("Dossier code"),
        _("Procedure"),
        _("Applicant"),
        _("Competent agency"),
        _("Channel"),
        _("Status"),
        _("Received at"),
        _("Due at"),
        _("Finished at"),
        _("Returned at"),
    ]


# Column widths (characters) of the XLSX exports.
DOSSIER_LIST_WIDTHS = (28, 50, 26, 36, 12, 22, 17, 17, 17, 17)
TABLE_WIDTHS = (16, 40, 10, 30)  # then one column per number
NUMBER_WIDTH = 14


@stats_view(with_metric=True)
def dossier_list_xlsx(request, filters, metric):
    """The dossiers behind a number as XLSX (write-only workbook, read in chunks)."""
    from openpyxl import Workbook

    queryset = (
        stats.metric_dossiers(metric, filters)
        .select_related("procedure", "competent_agency")
        .order_by("received_at", "id")
    )
    try:
        register.check_size(queryset, register.EXPORT_MAX_ROWS)
    except register.TooManyRows as exc:
        return bad_request(request, {"metric": [too_many_message(exc.limit)]})

    def write(fileobj):
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(str(_("Dossiers"))[:31])
        xlsx.layout(sheet, DOSSIER_LIST_WIDTHS, header_row=3)
        xlsx.append(sheet, [str(stats.metric_label(metric))], bold=True)
        xlsx.append(sheet, [period_text(filters)])
        xlsx.append(sheet, [str(c) for c in dossier_list_columns()], bold=True)
        for dossier in queryset.iterator(chunk_size=2000):
            xlsx.append(
                sheet,
                [
                    dossier.code,
                    (dossier.procedure_snapshot or {}).get("name") or dossier.procedure.name,
                    dossier.applicant_name,
                    dossier.competent_agency.name,
                    dossier.get_channel_display(),
                    dossier.get_status_display(),
                    dossier.received_at,
                    dossier.due_at,
                    dossier.finished_at,
                    dossier.returned_at,
                ],
            )
        workbook.save(fileobj)

    return temporary_file_response(write, export_name(f"ho-so-{metric}", filters, "xlsx"), XLSX)


# --- Exports of the table -------------------------------------------------------------------------


def period_text(filters):
    return _("From %(start)s to %(end)s") % {
        "start": f"{filters.start:%d/%m/%Y}",
        "end": f"{filters.end:%d/%m/%Y}",
    }


def too_many_message(limit):
    return _("More than %(limit)s dossiers: choose a shorter period or fewer agencies.") % {"limit": limit}


def table_header():
    return (
        [_("Agency code"), _("Agency"), _("Field code"), _("Field")]
        + [m.full_label for m in stats.METRICS]
        + [stats.RATE_LABEL]
    )


def table_lines(table):
    """The table as lines of cells: one per row (per agency: the field columns empty), then the total."""
    for row in table.rows:
        yield (
            [row["agency"], row["agency_name"], row["field"] or "", row["field_name"] or ""]
            + [row[key] for key in stats.METRIC_KEYS]
            + [row["on_time_rate"]]
        )
    yield (
        ["", str(_("Total")), "", ""] + [table.total[key] for key in stats.METRIC_KEYS] + [table.total["on_time_rate"]]
    )


@stats_view()
def table_xlsx(request, filters):
    """The progress table as XLSX: title lines, the header, one line per row, the total."""
    from openpyxl import Workbook

    try:
        table = stats.progress_table(filters, group=stats.parse_group(request.GET, stats.AGENCY_FIELD))
    except stats.StatsInputError as exc:
        return bad_request(request, exc.errors)

    def write(fileobj):
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(str(_("Progress table"))[:31])
        header = [str(c) for c in table_header()]
        xlsx.layout(sheet, TABLE_WIDTHS + (NUMBER_WIDTH,) * (len(header) - len(TABLE_WIDTHS)), header_row=4)
        xlsx.append(sheet, [str(_("Dossier progress (Decision 766/QĐ-TTg)"))], bold=True)
        xlsx.append(sheet, [period_text(filters)])
        xlsx.append(sheet, [scope_text(filters)])
        xlsx.append(sheet, header, bold=True)
        for line in table_lines(table):
            xlsx.append(sheet, line)
        workbook.save(fileobj)

    return temporary_file_response(write, export_name("tien-do", filters, "xlsx"), XLSX)


def scope_text(filters):
    parts = []
    if filters.agency:
        parts.append(
            _("Agency: %(name)s") % {"name": filters.agency.name}
            + ("" if filters.exact else f" ({_('and the agencies below it')})")
        )
    if filters.field:
        parts.append(_("Field: %(name)s") % {"name": filters.field.name})
    return "; ".join(parts) or str(_("All your agencies"))


class Echo:
    """A file-like object whose write() returns the line: csv.writer feeds a streaming response."""

    def write(self, value):
        return value


@stats_view()
def table_csv(request, filters):
    """The progress table as CSV (UTF-8 with BOM so that spreadsheet programs read Vietnamese), streamed."""
    try:
        table = stats.progress_table(filters, group=stats.parse_group(request.GET, stats.AGENCY_FIELD))
    except stats.StatsInputError as exc:
        return bad_request(request, exc.errors)
    writer = csv.writer(Echo())

    def lines():
        yield "\ufeff"
        yield writer.writerow([str(c) for c in table_header()])
        for line in table_lines(table):
            yield writer.writerow(["" if cell is None else cell for cell in line])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{export_name("tien-do", filters, "csv")}"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- The register book ------------------------------------------------------------------------------


@stats_view()
def register_xlsx(request, filters):
    """The register book (Mẫu 05) for the period as XLSX."""
    try:
        register.check_size(register.register_dossiers(filters), register.EXPORT_MAX_ROWS)
    except register.TooManyRows as exc:
        return bad_request(request, {"to": [too_many_message(exc.limit)]})
    issuer = issuer_of(filters)
    return temporary_file_response(
        lambda fileobj: register.write_xlsx(filters, fileobj, issuer=issuer),
        export_name("so-theo-doi", filters, "xlsx"),
        XLSX,
    )


@stats_view()
def register_pdf(request, filters):
    """The register book (Mẫu 05) for the period as an A4 landscape PDF."""
    try:
        content = register.render_pdf(filters, issuer=issuer_of(filters))
    except register.TooManyRows as exc:
        message = _("More than %(limit)s dossiers do not fit in one PDF: choose a shorter period or download XLSX.")
        return bad_request(request, {"to": [message % {"limit": exc.limit}]})
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{export_name("so-theo-doi", filters, "pdf")}"'
    response["Cache-Control"] = "private, no-store"
    return response
