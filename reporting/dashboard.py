"""The statistics dashboard (/thong-ke/) as data: the progress table's rows and cells with their
drill-down links, the monthly trend chart, the on-time rate bars and the overdue bars. The view
(reporting/views.py) parses the filters and renders; everything it shows is built here from the
`reporting.stats` readers, so the page, the API and the exports count the same way.
"""

from decimal import Decimal

from django.conf import settings
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe

from reporting import stats

CHART_MONTHS = 12


def list_url(filters, metric, **overrides):
    """The list of the dossiers behind one number."""
    return f"{reverse('stats:dossiers')}?{filters.query(metric=metric, **overrides)}"


def build(filters, group, choices):
    """The dashboard's context for `filters` grouped by `group`; `choices` are the filter form's
    agencies and fields, whose names the table and the charts reuse (no other query for them)."""
    agencies = {agency.pk: agency for agency in choices["agencies"]}
    fields = {field.pk: field for field in choices["fields"]}
    table = stats.progress_table(filters, group=group, agencies=agencies, fields=fields)
    path = reverse("stats:dossiers")
    overdue = stats.overdue_now(filters, agencies=agencies)
    return {
        "filters": filters,
        "table": table,
        "group": group,
        "rows": table_rows(table, filters, path),
        "total_cells_html": cells_html(table_cells(filters, table.total)),
        "metrics": stats.METRICS,
        "groups": column_groups(),
        "rate_label": stats.RATE_LABEL,
        "trend": trend_chart(stats.monthly_trend(filters, CHART_MONTHS)),
        "agency_rates": rate_bars(stats.group_rows(table, "agency"), filters, "agency"),
        "field_rates": rate_bars(stats.group_rows(table, "field"), filters, "field"),
        "overdue": overdue_bars(overdue, filters),
        "overdue_total": sum(row["count"] for row in overdue),
        "overdue_url": list_url(filters, stats.OVERDUE_NOW),
        "query": filters.query(),
        "export_query": filters.query(group=group),
        "group_urls": {
            stats.AGENCY: f"?{filters.query(group=stats.AGENCY)}",
            stats.AGENCY_FIELD: f"?{filters.query(group=stats.AGENCY_FIELD)}",
        },
        "links": {key: list_url(filters, key) for key in stats.LIST_METRICS},
        "now": timezone.now(),
    }


def nice_ceiling(value):
    """The smallest 1, 2 or 5 × 10^k at least `value` (at least 1)."""
    value = max(int(value), 1)
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def trend_chart(trend):
    """Geometry of the monthly bar chart (viewBox 360 × 190): three bars per month."""
    width, height, left, right, top, bottom = 360, 196, 30, 4, 10, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    series = (("received", "st-bar--received"), ("on_time", "st-bar--ontime"), ("late", "st-bar--late"))
    peak = nice_ceiling(max([m[key] for m in trend for key, _cls in series] + [1]))
    group = plot_w / len(trend)
    bar = group * 0.8 / len(series)
    bars, labels = [], []
    for i, month in enumerate(trend):
        for j, (key, css) in enumerate(series):
            h = plot_h * month[key] / peak
            bars.append(
                {
                    "x": round(left + i * group + group * 0.1 + j * bar, 2),
                    "y": round(top + plot_h - h, 2),
                    "w": round(bar, 2),
                    "h": round(h, 2),
                    "css": css,
                    "value": month[key],
                    "key": key,
                    "month": month["month"],
                }
            )
        # The month's number under its bars; the year under the first month and every January.
        labels.append(
            {
                "x": round(left + (i + 0.5) * group, 2),
                "month": month["month"],
                "year": month["month"].year if i == 0 or month["month"].month == 1 else None,
            }
        )
    grid = [{"y": round(top + plot_h * (1 - f), 2), "value": int(peak * f)} for f in (0, Decimal("0.5"), 1)]
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": width - right,
        "baseline": top + plot_h,
        "label_y": top + plot_h + 13,
        "year_y": top + plot_h + 27,
        "bars": bars,
        "labels": labels,
        "grid": grid,
        "months": trend,
    }


def rate_bars(groups, filters, key):
    """Bars of the on-time rate per agency or field, each linking to its late dossiers."""
    bars = []
    for group in groups:
        params = {key: group["code"]}
        if key == "agency":
            params["exact"] = "1"
        rate = group["on_time_rate"]
        bars.append(
            {
                **group,
                "width": rate or 0,
                # Colour only repeats the number printed next to the bar.
                "grade": "none" if rate is None else "good" if rate >= 90 else "fair" if rate >= 70 else "poor",
                "url": list_url(filters, "finished", **params),
                "late_url": list_url(filters, "finished_late", **params),
            }
        )
    return bars


def overdue_bars(rows, filters):
    peak = max([row["count"] for row in rows] + [1])
    return [
        {
            **row,
            "width": round(100 * row["count"] / peak, 1),
            "url": list_url(filters, stats.OVERDUE_NOW, agency=row["code"], exact="1"),
        }
        for row in rows
    ]


# --- The dashboard --------------------------------------------------------------------------------


def table_cells(filters, counts, path=None, **params):
    """The table's cells with their drill-down links: the row's query string is encoded once and
    each cell appends its metric (a province table has thousands of cells)."""
    prefix = f"{path or reverse('stats:dossiers')}?{filters.query(**params)}&metric="
    return [{"metric": key, "value": counts[key], "url": prefix + key} for key in stats.METRIC_KEYS]


def cells_html(cells):
    """The `<td>`s of a row of cells, written here rather than by a template loop: the template
    engine spent more time on the table's hundreds of cells than on the rest of the page. The
    same markup the template wrote: numbers localised, links escaped."""
    number = formats.localize if settings.USE_THOUSAND_SEPARATOR else str
    parts = []
    for cell in cells:
        value = cell["value"]
        shown = f'<a href="{escape(cell["url"])}">{number(value)}</a>' if value else '<span class="st-zero">0</span>'
        parts.append(f'<td data-metric="{escape(cell["metric"])}" data-value="{value}">{shown}</td>')
    return mark_safe("".join(parts))  # noqa: S308 (every value above is escaped or an integer)


def column_groups():
    groups = []
    for metric in stats.METRICS:
        if groups and groups[-1]["label"] == metric.group:
            groups[-1]["span"] += 1
        else:
            groups.append({"label": metric.group, "span": 1})
    return groups


def table_rows(table, filters, path):
    """The page's rows with their drill-down links: per agency, each number lists that agency's
    dossiers and the agency's name opens its fields; per agency and field, that pair's dossiers."""
    rows = []
    for row in table.rows:
        if table.group == stats.AGENCY:
            cells = table_cells(filters, row, path, agency=row["agency"], exact="1")
            fields_url = f"?{filters.query(agency=row['agency'], exact='1')}"
        else:
            cells = table_cells(filters, row, path, agency=row["agency"], field=row["field"], exact="1")
            fields_url = None
        rows.append({**row, "cells": cells, "cells_html": cells_html(cells), "fields_url": fields_url})
    return rows
