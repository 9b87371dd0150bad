"""The Decision 766/QĐ-TTg service index ("Bộ chỉ số phục vụ người dân, doanh nghiệp"), live: every
indicator the portal's own data can compute, from the same counters as the progress table
(`reporting.stats.counter_sums`), the catalogue and the citizens' ratings; the others are listed as
"from outside", never guessed. docs/statistics.md gives each formula and
its source, and says which numbers could not be checked against the Decision's annex.

Points: an indicator worth `points` scores points × rate (its rate in 0..1). The score is the sum
of the computed indicators' points over the sum of their maximum, on 100 ("the part of the index
the portal can compute"); `points` and `max_points` are the raw sums.

Digitised dossiers and electronic results are recorded by the signing app (`signing.models`:
`Digitisation`, `ResultDocument`); `external_counts` reads them through the statistics facts, so
they are exact against the counters they are divided by.
"""

import hashlib
from collections import defaultdict
from dataclasses import dataclass, replace

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.db.models.fields.json import KT
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dossiers.models import OPEN_STATUSES, Channel
from procedures import search
from procedures.models import Agency, Procedure
from ratings.models import Level
from reporting import stats
from reporting.models import StatCounter, StatFact, StatSpan
from signing.models import Digitisation, ResultDocument

COUNTERS, CATALOGUE, SIGNING, OUTSIDE = "counters", "catalogue", "signing", "outside"
COMPUTED, NO_DATA, NOT_RECORDED, FROM_OUTSIDE = "computed", "no_data", "not_recorded", "outside"

GROUPS = (
    ("transparency", _("Transparency"), 18),
    ("progress", _("Progress and results of handling"), 20),
    ("digitisation", _("Digitisation of dossiers and results"), 22),
    ("online", _("Online services"), 22),
    ("satisfaction", _("Satisfaction"), 18),
)
GROUP_LABELS = {key: label for key, label, _points in GROUPS}


@dataclass(frozen=True)
class Indicator:
    key: str
    group: str
    points: int
    source: str
    label: str
    formula: str


INDICATORS = (
    Indicator(
        "published_complete",
        "transparency",
        4,
        CATALOGUE,
        _("Procedures published with complete information"),
        _("published procedures with name, field, time, fee, steps, result, legal basis and documents / published"),
    ),
    Indicator(
        "transparency_outside",
        "transparency",
        14,
        OUTSIDE,
        _("Other transparency indicators (publication on the National Public Service Portal)"),
        _("computed by the National Public Service Portal"),
    ),
    Indicator(
        "on_time",
        "progress",
        20,
        COUNTERS,
        _("Dossiers handled on time"),
        _("(on time and early + other ends on time + in progress and paused within time) / received"),
    ),
    Indicator(
        "digitised",
        "digitisation",
        8,
        SIGNING,
        _("Paper dossiers digitised at reception"),
        _("digitised dossiers / dossiers received in person or by post"),
    ),
    Indicator(
        "results_electronic",
        "digitisation",
        8,
        SIGNING,
        _("Results issued electronically"),
        _("results ready with a signed electronic result / results ready"),
    ),
    Indicator(
        "reuse",
        "digitisation",
        6,
        OUTSIDE,
        _("Reuse of digitised data"),
        _("computed from the national data platforms"),
    ),
    Indicator(
        "online_procedures",
        "online",
        6,
        CATALOGUE,
        _("Procedures offered as online public services"),
        _("published procedures with a full or partial online service / published"),
    ),
    Indicator(
        "online_dossiers",
        "online",
        8,
        COUNTERS,
        _("Dossiers submitted online"),
        _("new dossiers submitted online / new dossiers"),
    ),
    Indicator(
        "online_payment",
        "online",
        8,
        OUTSIDE,
        _("Online payment"),
        _("recorded by the payment platform, not by the portal"),
    ),
    Indicator(
        "complaints_on_time",
        "satisfaction",
        6,
        OUTSIDE,
        _("Comments and complaints handled on time"),
        _("recorded by the feedback system (not by the portal)"),
    ),
    Indicator(
        "complaints_satisfied",
        "satisfaction",
        6,
        OUTSIDE,
        _("Satisfaction with the handling of comments and complaints"),
        _("recorded by the feedback system (not by the portal)"),
    ),
    Indicator(
        "satisfaction",
        "satisfaction",
        6,
        COUNTERS,
        _("Satisfaction with the reception and handling of dossiers"),
        _("(dossiers ended − rated “not satisfied”) / dossiers ended"),
    ),
)
INDICATORS_BY_KEY = {i.key: i for i in INDICATORS}
COUNTED = ("on_time", "online_dossiers", "satisfaction", "digitised", "results_electronic")
STATUS_LABELS = {
    COMPUTED: _("Computed"),
    NO_DATA: _("No dossier in the period"),
    NOT_RECORDED: _("Not yet recorded"),
    FROM_OUTSIDE: _("From outside"),
}
# Fields a published procedure needs for "complete information".
COMPLETE_TEXT_FIELDS = ("fee_text", "steps", "result", "legal_basis")


# --- Fractions from the counters --------------------------------------------------------------------


def fractions(counts, external=None):
    """{indicator key: (numerator, denominator)} of the counter-based indicators for the progress
    table's `counts` (one row or a sum of rows); `external` the signing app's numerators, if any."""
    handled = counts["received"]
    ended = counts["finished"] + counts["refused"] + counts["withdrawn"] + counts["stopped"]
    on_time_rate_den = handled
    on_time = (
        counts["finished_early"]
        + counts["finished_on_time"]
        + sum(counts[k] - counts[f"{k}_late"] for k in ("refused", "withdrawn", "stopped"))
        + counts["in_progress_on_time"]
        + counts["paused_on_time"]
    )
    result = {
        "on_time": (on_time, on_time_rate_den),
        "online_dossiers": (counts["received_online"], counts["received_new"]),
        "satisfaction": (ended - counts["ratings_unsatisfied"], ended),
    }
    if external is not None:
        if "digitised" in external:
            result["digitised"] = (external["digitised"], counts["received_in_person"] + counts["received_post"])
        if "results_electronic" in external:
            result["results_electronic"] = (external["results_electronic"], counts["finished"])
    return result


def external_counts(filters):
    """{(agency_id, None): {"digitised": n, "results_electronic": n}}: the two numerators the
    signing app records, per agency like `period_counts`, read through the statistics facts
    (`StatFact`), so they are keyed, dated and scoped exactly like the counters they are divided by:

    * digitised — dossiers accepted in the period (the fact's `received_on`: the first acceptance,
      not `Dossier.received_at`, which a supplement during processing moves) in person or by post
      whose paper documents the desk marked as digitised (`signing.Digitisation`);
    * results_electronic — results ready in the period (`finished_on`, a result kind) with a signed
      electronic result (`signing.ResultDocument` with its file's SHA-256).

    Two grouped counts over the facts of the period (indexed by agency and day)."""
    facts = StatFact.objects.filter(filters.counter_q())
    paper = (Channel.IN_PERSON, Channel.POST)
    digitised = (
        facts.filter(received_on__gte=filters.start, received_on__lte=filters.end, channel__in=paper)
        .filter(Exists(Digitisation.objects.filter(dossier_id=OuterRef("dossier_id"))))
        .values("agency_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    signed = ResultDocument.objects.filter(dossier_id=OuterRef("dossier_id")).exclude(sha256="")
    electronic = (
        facts.filter(finished_on__gte=filters.start, finished_on__lte=filters.end, finish_kind__in=stats.RESULT_KINDS)
        .filter(Exists(signed))
        .values("agency_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts = {}
    for name, rows in (("digitised", digitised), ("results_electronic", electronic)):
        for row in rows:
            key = (row["agency_id"], None)
            counts.setdefault(key, {"digitised": 0, "results_electronic": 0})[name] = row["n"]
    return counts


def provided_keys(external):
    if external is None:
        return set()
    keys = set()
    for values in external.values():
        keys.update(values)
    return keys or {"digitised", "results_electronic"}


# --- The catalogue -----------------------------------------------------------------------------------


def catalogue_fractions(filters, by_agency=False):
    """{"published_complete": (n, d), "online_procedures": (n, d)} over the published procedures
    implemented by the agencies in scope (and of the field filtered on); with `by_agency`, the same
    per agency id. Two grouped queries over the catalogue (thousands of rows, not dossiers), kept in
    the cache until the catalogue changes (the search index's stamp: rows, highest id, latest edit;
    issue 20: ≈ 140 ms of every index page for 5,000 procedures in 30 agencies), at most
    INDEX_CATALOGUE_CACHE_SECONDS."""
    seconds = settings.INDEX_CATALOGUE_CACHE_SECONDS
    if seconds <= 0:
        return _catalogue_fractions(filters, by_agency)
    scope = ",".join(map(str, sorted(filters.agency_ids))) if filters.agency_ids is not None else "all"
    stamp = "-".join(str(part) for part in search.catalogue_stamp())
    field = filters.field.pk if filters.field is not None else ""
    key = "index-catalogue:" + hashlib.sha256(f"{stamp}|{field}|{scope}|{by_agency}".encode()).hexdigest()
    cached = cache.get(key)
    if cached is None:
        cached = _catalogue_fractions(filters, by_agency)
        cache.set(key, cached, seconds)
    return cached


def _catalogue_fractions(filters, by_agency):
    procedures = Procedure.objects.filter(published=True)
    if filters.field is not None:
        procedures = procedures.filter(field_id=filters.field.pk)
    complete = Q(processing_days__isnull=False) & Q(documents__isnull=False)
    for name in COMPLETE_TEXT_FIELDS:
        complete &= ~Q(**{name: ""})
    complete_ids = procedures.filter(complete).values("pk")
    online = Q(procedure__service_level__in=[Procedure.ServiceLevel.FULL, Procedure.ServiceLevel.PARTIAL])
    links = Procedure.agencies.through.objects.filter(procedure__in=procedures.values("pk"))
    if filters.agency_ids is not None:
        links = links.filter(agency_id__in=sorted(filters.agency_ids))

    def fractions_of(rows):
        return {
            "published_complete": (rows["complete"] or 0, rows["published"] or 0),
            "online_procedures": (rows["online"] or 0, rows["published"] or 0),
        }

    annotations = {
        "published": Count("procedure_id", distinct=True),
        "complete": Count("procedure_id", filter=Q(procedure_id__in=complete_ids), distinct=True),
        "online": Count("procedure_id", filter=online, distinct=True),
    }
    total = fractions_of(links.aggregate(**annotations))
    if not by_agency:
        return total, {}
    per_agency = {
        row["agency_id"]: fractions_of(row) for row in links.values("agency_id").annotate(**annotations).order_by()
    }
    return total, per_agency


# --- Scoring ---------------------------------------------------------------------------------------


def score(values, recorded, labelled=True):
    """The indicator lines and the score for {key: (numerator, denominator)}; `recorded`: the keys
    of the signing app's indicators that are recorded. Without `labelled` the lines carry no texts
    (the agencies' rows and the trend need only the rates: translating a dozen labels for each
    agency and month would cost more than the rest of the computation)."""
    lines, points, max_points = [], 0.0, 0
    for indicator in INDICATORS:
        line = {
            "key": indicator.key,
            "group": indicator.group,
            "source": indicator.source,
            "max_points": indicator.points,
            "numerator": None,
            "denominator": None,
            "rate": None,
            "points": None,
        }
        if indicator.source == OUTSIDE:
            status = FROM_OUTSIDE
        elif indicator.source == SIGNING and indicator.key not in recorded:
            status = NOT_RECORDED
        else:
            numerator, denominator = values.get(indicator.key, (0, 0))
            line.update(numerator=numerator, denominator=denominator)
            if not denominator:
                status = NO_DATA
            else:
                rate = numerator / denominator
                line.update(rate=round(100 * rate, 1), points=round(indicator.points * rate, 2))
                points += indicator.points * rate
                max_points += indicator.points
                status = COMPUTED
        line["status"] = status
        if labelled:
            line["group_label"] = str(GROUP_LABELS[indicator.group])
            line["label"], line["formula"] = str(indicator.label), str(indicator.formula)
            line["status_label"] = str(STATUS_LABELS[status])
        lines.append(line)
    return {
        "score": round(100 * points / max_points, 1) if max_points else None,
        "points": round(points, 2),
        "max_points": max_points,
        "indicators": lines,
    }


def _sum_counts(rows):
    total = stats.empty_counts()
    for counts in rows:
        stats.add_counts(total, counts)
    return total


def _external_for(external, keys):
    if external is None:
        return None
    merged = defaultdict(int)
    for key in keys:
        for name, value in external.get(key, {}).items():
            merged[name] += value
    provided = provided_keys(external)
    return {name: merged.get(name, 0) for name in provided}


def period_counts(filters):
    """{(agency_id, None): progress-table counts} for the period: one counter query, summed per
    agency (the index ranks agencies; a field is a filter, never a row)."""
    return {key: stats.counts_from_sums(*value) for key, value in stats.counter_sums(filters, by_field=False).items()}


# --- The index -------------------------------------------------------------------------------------


def service_index(filters, trend_months=12, costs=True):
    """Everything the page, the API and the export show, for `filters`: the score and its
    indicators, the agencies ranked (with the points each costs), the monthly trend and the
    dossiers that cost the most points.

    Its statements run without parallel workers (`stats.serial_plans`): each reads a few thousand
    rows at most, and on a small database server starting the workers cost more than the scan
    they shared (issue 19, 1,000,000 dossiers: 25 of the 29 ms of the "ended late" list)."""
    with stats.serial_plans():
        return _service_index(filters, trend_months, costs)


def _service_index(filters, trend_months, costs):
    counted = period_counts(filters)
    external = external_counts(filters)
    recorded = provided_keys(external)
    total_counts = _sum_counts(counted.values())
    catalogue, catalogue_by_agency = catalogue_fractions(filters, by_agency=True)
    values = {**fractions(total_counts, _external_for(external, counted)), **catalogue}
    result = score(values, recorded)
    result.update(
        {
            "from": filters.start.isoformat(),
            "to": filters.end.isoformat(),
            "ratings": total_counts["ratings"],
            "satisfaction_rate": stats.satisfaction_rate(total_counts),
            "agencies": agency_ranking(counted, external, recorded, values, catalogue_by_agency),
            "trend": monthly_index(filters, trend_months, catalogue, recorded, counted) if trend_months else [],
        }
    )
    if costs:
        result["costly_dossiers"] = costly_dossiers(filters, values)
    return result


def agency_ranking(counted, external, recorded, values, catalogue_by_agency):
    """[{agency, agency_name, score, points_lost, indicators: {key: rate}}], best score first. An
    agency's `points_lost` is its share of the points the whole scope misses on the counted
    indicators: weight × (its denominator − its numerator) / the scope's denominator."""
    ids = {agency_id for agency_id, _none in counted} | set(catalogue_by_agency)
    agencies = Agency.objects.only("code", "name").in_bulk(ids)
    rows = []
    for agency_id in ids:
        key = (agency_id, None)  # `period_counts` and `external_counts` are per agency
        counts = counted.get(key) or stats.empty_counts()
        own = fractions(counts, _external_for(external, [key]))
        own.update(catalogue_by_agency.get(agency_id, {}))
        scored = score(own, recorded, labelled=False)
        lost = 0.0
        for key, (numerator, denominator) in own.items():
            scope_denominator = values.get(key, (0, 0))[1]
            indicator = INDICATORS_BY_KEY[key]
            if key in COUNTED and scope_denominator:
                lost += indicator.points * (denominator - numerator) / scope_denominator
        agency = agencies[agency_id]
        rows.append(
            {
                "agency": agency.code,
                "agency_name": agency.name,
                "score": scored["score"],
                "points_lost": round(lost, 2),
                "indicators": {line["key"]: line["rate"] for line in scored["indicators"] if line["rate"] is not None},
                "received": counts["received"],
                "ratings": counts["ratings"],
            }
        )
    rows.sort(key=lambda r: (r["score"] is None, -(r["score"] or 0), r["agency"]))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return rows


def monthly_index(filters, months, catalogue, recorded, counted=None):
    """[{month, score, on_time_rate, online_rate, satisfaction_rate, ratings}] for the `months`
    months ending with the month of `filters.end`, each month judged at its end (the current month
    at the end of today). Two counter queries: the month rows from the first month on (grouped by
    month), and the all-time rows summed, whose stocks less every month row's changes are the stocks
    at the start of the first month (every change is written on its day, its month and the all-time
    total: `stats.counter_rows`; a prefix of day and month rows read 13 ms at 1,000,000 dossiers,
    the 450 all-time rows 1 ms); plus one for the current month's own table, unless `counted` (the
    `period_counts` of `filters`) is that table already: the period is the current month up to
    today, the page's default."""
    today = timezone.localdate()
    last = filters.end.replace(day=1)
    first = stats.add_months(last, 1 - months)
    fields = stats.COUNTER_FIELDS
    counters = StatCounter.objects.filter(filters.counter_q())
    totals = counters.filter(grain=StatCounter.Grain.TOTAL).aggregate(
        **{f"s_{name}": Sum(name) for name in stats.STOCK_FIELDS}
    )
    # From the first month on, with no upper bound: the months after `last` (and the switches to
    # overdue written ahead of today) are changes after the first month's start too.
    rows = (
        counters.filter(grain=StatCounter.Grain.MONTH, day__gte=first)
        .values("day")
        .annotate(**{f"s_{name}": Sum(name) for name in fields})
        .order_by()
    )
    by_month = {row["day"]: row for row in rows}
    stocks = {
        name: (totals[f"s_{name}"] or 0) - sum(row[f"s_{name}"] or 0 for row in by_month.values())
        for name in stats.STOCK_FIELDS
    }
    trend = []
    for i in range(months):
        month = stats.add_months(first, i)
        row = by_month.get(month, {})
        changes = {name: row.get(f"s_{name}") or 0 for name in fields}
        flows = {name: changes[name] for name in stats.FLOW_FIELDS}
        stocks_start = {name: stocks.get(name, 0) for name in stats.STOCK_FIELDS}
        stocks_end = {name: stocks_start[name] + changes[name] for name in stats.STOCK_FIELDS}
        stocks = stocks_end
        if month > today:
            break
        if month == today.replace(day=1):
            # Judged at the end of today: the month row holds the switches to overdue written ahead.
            current = replace(filters, start=month, end=today)
            same = counted is not None and (filters.start, filters.end) == (current.start, current.end)
            counts = _sum_counts((counted if same else period_counts(current)).values())
        else:
            counts = stats.counts_from_sums(flows, stocks_end, stocks_start)
        values = {**fractions(counts), **catalogue}
        scored = score(values, recorded - {"digitised", "results_electronic"}, labelled=False)
        rates = {line["key"]: line["rate"] for line in scored["indicators"]}
        trend.append(
            {
                "month": month.isoformat(),
                "score": scored["score"],
                "on_time_rate": rates["on_time"],
                "online_rate": rates["online_dossiers"],
                "satisfaction_rate": stats.satisfaction_rate(counts),
                "ratings": counts["ratings"],
            }
        )
    return trend


COSTLY_LIMIT = 20


def costly_dossiers(filters, values):
    """The dossiers that cost the most points in the period: ended late or overdue at its end
    (each costs the on-time weight over the period's denominator) and rated "not satisfied" (the
    satisfaction weight over the dossiers ended). [{code, procedure, agency, reason, points}] — at
    most COSTLY_LIMIT of each kind, four queries."""
    on_time_den = values["on_time"][1]
    satisfaction_den = values["satisfaction"][1]
    result = []
    # Only the columns shown (the procedure's name at receipt is one key of the snapshot's JSON).
    base = stats.Dossier.objects.filter(filters.counter_q("stat_fact__"))
    columns = {
        "snapshot_name": KT("procedure_snapshot__name"),
        "procedure_name": F("procedure__name"),
        "agency": F("competent_agency__code"),
        "agency_name": F("competent_agency__name"),
    }
    late_cost = round(INDICATORS_BY_KEY["on_time"].points / on_time_den, 3) if on_time_den else 0
    ended_late = base.filter(
        stat_fact__late=True, stat_fact__finished_on__gte=filters.start, stat_fact__finished_on__lte=filters.end
    ).order_by("-stat_fact__finished_on", "-pk")
    for dossier in ended_late.values("code", **columns)[:COSTLY_LIMIT]:
        result.append(_costly(dossier, "late", _("Ended late"), late_cost))
    for dossier in overdue_at_the_end(filters, base, columns):
        result.append(_costly(dossier, "overdue", _("Overdue at the end of the period"), late_cost))
    satisfaction_cost = round(INDICATORS_BY_KEY["satisfaction"].points / satisfaction_den, 3) if satisfaction_den else 0
    unhappy = base.filter(
        rating__level=Level.UNSATISFIED,
        stat_fact__finished_on__gte=filters.start,
        stat_fact__finished_on__lte=filters.end,
    ).order_by("-rating__updated_at", "-pk")
    for dossier in unhappy.values("code", **columns)[:COSTLY_LIMIT]:
        result.append(_costly(dossier, "unsatisfied", _("Rated “not satisfied”"), satisfaction_cost))
    return result


def overdue_at_the_end(filters, base, columns):
    """The first COSTLY_LIMIT dossiers of `base` overdue at the end of the period (in progress or
    paused: the span covering that day is past its due day), earliest due first.

    One `EXISTS` per dossier on its span (`statspan_dossier_idx`), walked in due-date order, so the
    walk stops at the limit instead of sorting every overdue dossier (≈ 20,000 at 1,000,000
    dossiers: 535 ms). When the period ends today (the page's default) every dossier open at its
    end is still open, so the walk is the open dossiers' due-date index (`dossier_open_due_idx`)."""
    end = filters.end
    span = StatSpan.objects.filter(dossier_id=OuterRef("pk"), start_on__lte=end, due_on__lte=end)
    span = span.filter(Q(end_on__isnull=True) | Q(end_on__gt=end))
    overdue = base.filter(Exists(span))
    if end >= timezone.localdate():
        overdue = overdue.filter(status__in=OPEN_STATUSES)
    return overdue.order_by("due_at", "pk").values("code", **columns)[:COSTLY_LIMIT]


def _costly(dossier, kind, reason, points):
    return {
        "code": dossier["code"],
        "procedure": dossier["snapshot_name"] or dossier["procedure_name"],
        "agency": dossier["agency"],
        "agency_name": dossier["agency_name"],
        "kind": kind,
        "reason": str(reason),
        "points": points,
    }
