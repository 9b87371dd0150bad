"""The statistics dashboard (/thong-ke/) as data: the progress table's rows and cells with their
drill-down links, the monthly trend chart, the on-time rate bars and the overdue bars. The view
(reporting/views.py) parses the filters and renders; everything it shows is built here from the
`reporting.stats` readers, so the page, the API and the exports count the same way.
"""

from decimal import Decimal

from django.conf import settings
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import ngettext

from reporting import stats

CHART_MONTHS = 12


def list_url(filters, metric, path=None, **overrides):
    """The list of the dossiers behind one number (`path`: that list's, when already reversed)."""
    return f"{path or reverse('stats:dossiers')}?{filters.query(metric=metric, **overrides)}"


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
        "agency_rates": rate_bars(stats.group_rows(table, "agency"), filters, "agency", path),
        "field_rates": rate_bars(stats.group_rows(table, "field"), filters, "field", path),
        "overdue": overdue_bars(overdue, filters, path),
        "overdue_total": sum(row["count"] for row in overdue),
        "overdue_url": list_url(filters, stats.OVERDUE_NOW, path),
        "query": filters.query(),
        "export_query": filters.query(group=group),
        "group_urls": {
            stats.AGENCY: f"?{filters.query(group=stats.AGENCY)}",
            stats.AGENCY_FIELD: f"?{filters.query(group=stats.AGENCY_FIELD)}",
        },
        "links": {key: list_url(filters, key, path) for key in stats.LIST_METRICS},
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
    chart = {
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
    chart["svg_html"] = trend_svg_html(chart)
    return chart


def trend_svg_html(chart):
    """The chart's grid, bars and month labels as SVG markup, written here rather than by template
    loops (36 bars with a date each cost the template engine more than the rest of the chart). Every
    value is a number or a date, so nothing needs escaping; numbers are not localised (SVG
    coordinates take a decimal point)."""
    left, right = chart["left"], chart["right"]
    parts = []
    for line in chart["grid"]:
        y = line["y"]
        parts.append(
            f'<line class="st-grid" x1="{left}" x2="{right}" y1="{y}" y2="{y}"/>'
            f'<text class="st-axis" x="{left - 4}" y="{y}" text-anchor="end" dominant-baseline="middle">'
            f"{line['value']}</text>"
        )
    for bar in chart["bars"]:
        parts.append(
            f'<rect class="{bar["css"]}" x="{bar["x"]}" y="{bar["y"]}" width="{bar["w"]}" height="{bar["h"]}">'
            f"<title>{bar['month']:%m/%Y}: {bar['value']}</title></rect>"
        )
    label_y, year_y = chart["label_y"], chart["year_y"]
    for label in chart["labels"]:
        x = label["x"]
        parts.append(f'<text class="st-axis" x="{x}" y="{label_y}" text-anchor="middle">{label["month"]:%m}</text>')
        if label["year"]:
            parts.append(
                f'<text class="st-axis st-axis--year" x="{x}" y="{year_y}" text-anchor="middle">{label["year"]}</text>'
            )
    return mark_safe("".join(parts))  # noqa: S308 (numbers and dates only)


def rate_bars(groups, filters, key, path=None):
    """Bars of the on-time rate per agency or field, each linking to its late dossiers."""
    bars = []
    for group in groups:
        params = {key: group["code"]}
        if key == "agency":
            params["exact"] = "1"
        rate = group["on_time_rate"]
        finished = group["finished"]
        bars.append(
            {
                **group,
                "width": rate or 0,
                # The value and the hint are written here: a {% blocktranslate count %} per bar cost
                # the template engine more than the rest of the list.
                "rate_text": "—" if rate is None else f"{floatformat(rate, 1)} %",
                "hint": ngettext("%(results)s result, %(late)s late", "%(results)s results, %(late)s late", finished)
                % {"results": shown_number(finished), "late": shown_number(group["finished_late"])},
                # Colour only repeats the number printed next to the bar.
                "grade": "none" if rate is None else "good" if rate >= 90 else "fair" if rate >= 70 else "poor",
                "url": list_url(filters, "finished", path, **params),
                "late_url": list_url(filters, "finished_late", path, **params),
            }
        )
    return bars


def overdue_bars(rows, filters, path=None):
    peak = max([row["count"] for row in rows] + [1])
    return [
        {
            **row,
            "width": round(100 * row["count"] / peak, 1),
            "url": list_url(filters, stats.OVERDUE_NOW, path, agency=row["code"], exact="1"),
        }
        for row in rows
    ]


# --- The dashboard --------------------------------------------------------------------------------


def table_cells(filters, counts, path=None, **params):
    """The table's cells with their drill-down links: the row's query string is encoded once and
    each cell appends its metric (a province table has thousands of cells)."""
    prefix = f"{path or reverse('stats:dossiers')}?{filters.query(**params)}&metric="
    return [{"metric": key, "value": counts[key], "url": prefix + key} for key in stats.METRIC_KEYS]


def shown_number(value):
    """An integer as the template's `{{ value }}` shows it (grouped only with USE_THOUSAND_SEPARATOR)."""
    return formats.localize(value) if settings.USE_THOUSAND_SEPARATOR else str(value)


def cells_html(cells):
    """The `<td>`s of a row of cells, written here rather than by a template loop: the template
    engine spent more time on the table's hundreds of cells than on the rest of the page. The
    same markup the template wrote: numbers localised, links escaped."""
    parts = []
    for cell in cells:
        value = cell["value"]
        shown = (
            f'<a href="{escape(cell["url"])}">{shown_number(value)}</a>' if value else '<span class="st-zero">0</span>'
        )
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
