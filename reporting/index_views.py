"""The service index page (/thong-ke/chi-so/) and its XLSX export: the same filters, scope and
`reporting.index.service_index` as the API (GET /api/v1/stats/index/)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe
from openpyxl import Workbook

from reporting import index, xlsx
from reporting.views import XLSX, BadRequest, bad_request, export_name, resolve, temporary_file_response


def _resolved(request):
    try:
        return resolve(request)[0], None
    except BadRequest as exc:
        return None, bad_request(request, exc.errors)


@require_safe
@login_required
def index_page(request):
    filters, error = _resolved(request)
    if error is not None:
        return error
    data = index.service_index(filters)
    groups = []
    for key, label, points in index.GROUPS:
        lines = [line for line in data["indicators"] if line["group"] == key]
        groups.append({"key": key, "label": label, "points": points, "indicators": lines})
    detail = reverse("dossiers:detail", args=["CODE"]).replace("CODE/", "")
    context = {
        "index": data,
        "groups": groups,
        "filters": filters,
        "query": filters.query(),
        "detail_prefix": detail,
        "trend_max": 100,
    }
    return render(request, "stats/index.html", context)


@require_safe
@login_required
def index_xlsx(request):
    filters, error = _resolved(request)
    if error is not None:
        return error
    data = index.service_index(filters)

    def write(fileobj):
        book = Workbook(write_only=True)
        sheet = book.create_sheet(_("Service index"))
        xlsx.append(sheet, [_("Service index (Decision 766)"), data["from"], data["to"]])
        xlsx.append(sheet, [_("Score"), data["score"], _("Points"), data["points"], _("of"), data["max_points"]])
        xlsx.append(sheet, [])
        xlsx.append(
            sheet,
            [
                _("Group"),
                _("Indicator"),
                _("Status"),
                _("Numerator"),
                _("Denominator"),
                _("Rate (%)"),
                _("Points"),
                _("Maximum"),
                _("Formula"),
            ],
        )
        for line in data["indicators"]:
            xlsx.append(
                sheet,
                [
                    line["group_label"],
                    line["label"],
                    line["status_label"],
                    line["numerator"],
                    line["denominator"],
                    line["rate"],
                    line["points"],
                    line["max_points"],
                    line["formula"],
                ],
            )
        agencies = book.create_sheet(_("Agencies"))
        xlsx.append(
            agencies,
            [_("Rank"), _("Agency code"), _("Agency"), _("Score"), _("Points lost"), _("Received"), _("Ratings")],
        )
        for row in data["agencies"]:
            xlsx.append(
                agencies,
                [
                    row["rank"],
                    row["agency"],
                    row["agency_name"],
                    row["score"],
                    row["points_lost"],
                    row["received"],
                    row["ratings"],
                ],
            )
        trend = book.create_sheet(_("Trend"))
        xlsx.append(
            trend, [_("Month"), _("Score"), _("On-time rate (%)"), _("Online (%)"), _("Satisfaction (%)"), _("Ratings")]
        )
        for row in data["trend"]:
            xlsx.append(
                trend,
                [
                    row["month"],
                    row["score"],
                    row["on_time_rate"],
                    row["online_rate"],
                    row["satisfaction_rate"],
                    row["ratings"],
                ],
            )
        costly = book.create_sheet(_("Costly dossiers"))
        xlsx.append(costly, [_("Dossier code"), _("Procedure"), _("Agency"), _("Reason"), _("Points")])
        for row in data["costly_dossiers"]:
            xlsx.append(costly, [row["code"], row["procedure"], row["agency_name"], row["reason"], row["points"]])
        book.save(fileobj)

    return temporary_file_response(write, export_name("chi-so-766", filters, "xlsx"), XLSX)
