"""The Decision 766 service index (reporting/index.py): page, API and export answer from the counters,
and every indicator, agency row, month of the trend and costly dossier equals a brute-force
recomputation from the events, the ratings, the signing rows and the catalogue."""

import random
from collections import Counter
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from dossiers.models import Dossier, Status
from procedures.models import Agency, Procedure, Role
from ratings.models import Channel, Level, Rating
from ratings.services import RATEABLE_STATUSES, rate
from reporting import index, stats
from signing.models import Digitisation, ResultDocument
from tests.factories import Office, make_agency, make_user, vn
from tests.reporting.test_stats import PERIODS, World, brute_force, load_dossiers
from tests.reporting.test_stats import filters as stats_filters


def test_the_index_page_api_and_export_show_the_score_and_its_components(db):
    office = Office()
    now = timezone.now() - timedelta(hours=3)
    dossier, pin = office.to_approval(now=now)
    office.act(dossier, "approve", now=now + timedelta(minutes=5))
    office.act(dossier, "return_result", now=now + timedelta(minutes=10), collected_by="Chủ hồ sơ")
    APIClient().post("/api/v1/ratings/", {"code": dossier.code, "pin": pin, "level": "unsatisfied"}, format="json")
    api = APIClient()
    api.force_authenticate(office.supervisor)
    body = api.get("/api/v1/stats/index/").json()
    lines = {line["key"]: line for line in body["indicators"]}
    assert lines["on_time"]["status"] == "computed" and lines["on_time"]["denominator"] == 1
    assert lines["satisfaction"]["numerator"] == 0 and lines["satisfaction"]["denominator"] == 1
    # The signing app records digitisation and electronic results: computed, here none of either.
    assert (lines["digitised"]["numerator"], lines["digitised"]["denominator"]) == (0, 1)
    assert (lines["results_electronic"]["numerator"], lines["results_electronic"]["denominator"]) == (0, 1)
    assert lines["online_payment"]["status"] == "outside" and lines["reuse"]["status"] == "outside"
    assert body["agencies"][0]["agency"] == office.agency.code
    assert any(d["code"] == dossier.code and d["kind"] == "unsatisfied" for d in body["costly_dossiers"])
    client = Client()
    client.force_login(office.supervisor)
    page = client.get("/thong-ke/chi-so/")
    assert page.status_code == 200 and dossier.code in page.content.decode()
    export = client.get("/thong-ke/chi-so.xlsx")
    assert export.status_code == 200
    assert Client().get("/thong-ke/chi-so/").status_code == 302
    assert api.get("/api/v1/stats/index/?from=bad").status_code == 400


# --- The index against a brute-force recomputation -------------------------------------------------

# After the simulation (tests/reporting/test_stats.py's World): citizens rate, desks digitise, leaders sign.
RATED_AT = vn(2026, 5, 20, 9, 0)
LEVELS = [Level.VERY_SATISFIED, Level.SATISFIED, Level.UNSATISFIED]


def decorate(world, seed):
    """Ratings (some changed), digitised paper dossiers and signed results on the simulated
    dossiers, and a catalogue whose procedures are not all complete or online."""
    rng = random.Random(seed)
    first, second = world.offices
    for procedure in first.procedures:
        Procedure.objects.filter(pk=procedure.pk).update(
            steps="Nộp hồ sơ; nhận kết quả", result="Giấy chứng nhận", legal_basis="Luật Hộ tịch 2014"
        )
    Procedure.objects.filter(pk=first.procedure.pk).update(service_level=Procedure.ServiceLevel.FULL)
    Procedure.objects.filter(pk=second.procedures[1].pk).update(service_level=Procedure.ServiceLevel.PARTIAL)
    signed = 0
    for dossier in Dossier.objects.select_related("competent_agency", "receiving_agency").order_by("pk"):
        if dossier.status in RATEABLE_STATUSES and rng.random() < 0.75:
            rate(dossier=dossier, level=rng.choices(LEVELS, weights=[4, 4, 3])[0], channel=Channel.API, now=RATED_AT)
            if rng.random() < 0.25:  # changed within the window: the counters move, not add
                rate(dossier=dossier, level=rng.choice(LEVELS), channel=Channel.API, now=RATED_AT + timedelta(hours=2))
        if dossier.received_at is not None and rng.random() < 0.5:
            # Online dossiers marked digitised are not counted: they had no paper.
            Digitisation.objects.create(
                dossier=dossier, digitised_at=dossier.received_at, agency=dossier.receiving_agency, scans=2
            )
        if dossier.status in (Status.RESULT_READY, Status.RETURNED) and rng.random() < 0.6:
            signed += 1
            ResultDocument.objects.create(
                dossier=dossier,
                agency=dossier.competent_agency,
                number=f"{signed}/KQ-TEST",
                # One in five still unsigned (the signature failed): not an electronic result.
                sha256="" if rng.random() < 0.2 else f"{signed:064x}",
                signed_at=dossier.finished_at,
            )


def expected(start, end, dossiers, agencies=None, field=None):
    """{indicator key: (numerator, denominator)} counted from the events, the ratings, the signing
    rows and the catalogue, independently of the counters."""
    _cells, codes = brute_force(
        start,
        end,
        agency_ids=None if agencies is None else {a.pk for a in agencies},
        field_code=None if field is None else field.code,
        dossiers=dossiers,
    )
    count = {metric: len(found) for metric, found in codes.items()}
    n = Counter(count)
    ended = codes["finished"] | codes["refused"] | codes["withdrawn"] | codes["stopped"]
    unhappy = set(Rating.objects.filter(level=Level.UNSATISFIED).values_list("dossier__code", flat=True))
    paper = codes["received_in_person"] | codes["received_post"]
    digitised = set(Digitisation.objects.values_list("dossier__code", flat=True))
    electronic = set(ResultDocument.objects.exclude(sha256="").values_list("dossier__code", flat=True))
    on_time = n["finished_early"] + n["finished_on_time"] + n["in_progress_on_time"] + n["paused_on_time"]
    on_time += sum(n[e] - n[f"{e}_late"] for e in ("refused", "withdrawn", "stopped"))
    values = {
        "on_time": (on_time, n["received"]),
        "online_dossiers": (n["received_online"], n["received_new"]),
        "satisfaction": (len(ended) - len(ended & unhappy), len(ended)),
        "digitised": (len(paper & digitised), len(paper)),
        "results_electronic": (len(codes["finished"] & electronic), n["finished"]),
    }
    published = [
        p
        for p in Procedure.objects.filter(published=True).prefetch_related("agencies", "documents")
        if (field is None or p.field_id == field.pk)
        and (agencies is None or {a.pk for a in p.agencies.all()} & {a.pk for a in agencies})
    ]
    complete = [
        p
        for p in published
        if p.processing_days is not None
        and p.documents.all()
        and all(getattr(p, name) for name in ("fee_text", "steps", "result", "legal_basis"))
    ]
    online = [p for p in published if p.service_level in ("full", "partial")]
    values["published_complete"] = (len(complete), len(published))
    values["online_procedures"] = (len(online), len(published))
    return values, codes, unhappy


def pct(numerator, denominator):
    return round(100 * (numerator / denominator), 1) if denominator else None


def expected_score(values, keys=None):
    points = weights = 0
    for indicator in index.INDICATORS:
        if indicator.source == index.OUTSIDE or (keys is not None and indicator.key not in keys):
            continue
        numerator, denominator = values[indicator.key]
        if denominator:
            points += indicator.points * (numerator / denominator)
            weights += indicator.points
    return round(100 * points / weights, 1) if weights else None


def assert_index_matches(result, values):
    lines = {line["key"]: line for line in result["indicators"]}
    for key, (numerator, denominator) in values.items():
        line = lines[key]
        assert (line["numerator"], line["denominator"]) == (numerator, denominator), key
        assert line["rate"] == pct(numerator, denominator), key
        assert line["status"] == ("computed" if denominator else "no_data"), key
    assert all(lines[i.key]["status"] == "outside" for i in index.INDICATORS if i.source == index.OUTSIDE)
    assert result["score"] == expected_score(values)


@pytest.mark.slow  # a few hundred dossiers through the real workflow, then rated (about 30 s)
def test_the_index_equals_a_brute_force_recomputation_of_every_indicator(db):
    world = World()
    world.simulate(240, seed=19)
    decorate(world, seed=766)
    dossiers = load_dossiers()
    agencies = [office.agency for office in world.offices]
    reached = Counter()
    for start, end in PERIODS:
        result = index.service_index(stats_filters(start, end))
        values, codes, unhappy = expected(start, end, dossiers)
        assert_index_matches(result, values)
        for key, (numerator, denominator) in values.items():
            reached[key] += 0 < numerator < denominator
        ended = codes["finished"] | codes["refused"] | codes["withdrawn"] | codes["stopped"]
        assert result["ratings"] == Rating.objects.filter(dossier__code__in=ended).count()
        # The agencies ranked: each one's indicators as if filtered on it, and the points it costs.
        per_agency = {agency.code: expected(start, end, dossiers, agencies=[agency])[0] for agency in agencies}
        rows = {row["agency"]: row for row in result["agencies"]}
        for code, own in per_agency.items():
            if not any(d for _n, d in own.values()):
                continue
            row = rows[code]
            assert row["score"] == expected_score(own), code
            for key, (numerator, denominator) in own.items():
                assert row["indicators"].get(key) == pct(numerator, denominator), (code, key)
            lost = sum(
                i.points * (own[i.key][1] - own[i.key][0]) / values[i.key][1]
                for i in index.INDICATORS
                if i.key in index.COUNTED and values[i.key][1]
            )
            assert row["points_lost"] == pytest.approx(lost, abs=0.006), code
        scores = [row["score"] for row in result["agencies"] if row["score"] is not None]
        assert scores == sorted(scores, reverse=True)
        # The dossiers that cost points are exactly of the kinds counted against the index.
        late = set().union(*(codes[k] for k in ("finished_late", "refused_late", "withdrawn_late", "stopped_late")))
        overdue = codes["in_progress_overdue"] | codes["paused_overdue"]
        for kind, expected_codes in (("late", late), ("overdue", overdue), ("unsatisfied", ended & unhappy)):
            listed = {d["code"] for d in result["costly_dossiers"] if d["kind"] == kind}
            assert listed <= expected_codes, kind
            assert len(listed) == min(index.COSTLY_LIMIT, len(expected_codes)), kind
        # Filtered: one commune, one field.
        commune = world.offices[0].agency
        assert_index_matches(
            index.service_index(stats_filters(start, end, agency=commune, exact=True), trend_months=0, costs=False),
            expected(start, end, dossiers, agencies=[commune])[0],
        )
        assert_index_matches(
            index.service_index(stats_filters(start, end, field=world.certification), trend_months=0, costs=False),
            expected(start, end, dossiers, field=world.certification)[0],
        )
    # Each month of the trend equals that month's own brute-force index (counters and catalogue).
    trend = index.service_index(stats_filters(date(2026, 1, 1), date(2026, 5, 31)), costs=False)["trend"]
    assert [row["month"] for row in trend][-5:] == [f"2026-0{m}-01" for m in range(1, 6)]
    for row in trend[-5:]:
        first = date.fromisoformat(row["month"])
        values, _codes, _unhappy = expected(first, stats.month_end(first), dossiers)
        assert (row["on_time_rate"], row["online_rate"]) == (pct(*values["on_time"]), pct(*values["online_dossiers"]))
        keys = {"on_time", "online_dossiers", "satisfaction", "published_complete", "online_procedures"}
        assert row["score"] == expected_score(values, keys)
    # A trend that starts inside the data: its first month's opening stocks are the all-time rows
    # less the changes of every month from it on, and each month is the same as in the long trend.
    short = index.service_index(stats_filters(date(2026, 3, 1), date(2026, 4, 30)), trend_months=2, costs=False)
    assert [row["month"] for row in short["trend"]] == ["2026-03-01", "2026-04-01"]
    assert short["trend"] == [row for row in trend if row["month"] in ("2026-03-01", "2026-04-01")]
    # The comparisons above meant something: every indicator was strictly between 0 and 100 % somewhere.
    assert all(reached[key] for key in index.COUNTED), reached


def test_the_index_page_api_and_export_cost_the_same_queries_whatever_the_data(db):
    """Counters, catalogue, signing rows and the costly dossiers: a fixed number of queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    province = make_agency(code="000.00.00.H58", name="UBND tỉnh Ba", level=Agency.Level.PROVINCE)
    supervisor = make_user("h58-giamsat", agency=province, role=Role.SUPERVISOR)
    now = timezone.now() - timedelta(hours=5)

    def populate(office, count):
        office.agency.parent = province
        office.agency.save()
        for i in range(count):
            dossier, pin = office.to_approval(now=now + timedelta(minutes=i))
            office.act(dossier, "approve", now=now + timedelta(minutes=i + 1))
            office.act(dossier, "return_result", now=now + timedelta(minutes=i + 2), collected_by="Chủ hồ sơ")
            rate(dossier=dossier, level=LEVELS[i % 3], comment="Chậm", channel=Channel.API)
            Digitisation.objects.create(dossier=dossier, digitised_at=now, agency=office.agency)

    populate(Office(code="H58.01"), 2)
    client = Client()
    client.force_login(supervisor)
    api = APIClient()
    api.force_authenticate(supervisor)
    requests = (
        lambda: client.get("/thong-ke/chi-so/"),
        lambda: client.get("/thong-ke/chi-so.xlsx"),
        lambda: api.get("/api/v1/stats/index/"),
    )
    small = []
    for request in requests:
        assert request().status_code == 200  # warm up
        with CaptureQueriesContext(connection) as captured:
            assert request().status_code == 200
        small.append(len(captured.captured_queries))
    populate(Office(code="H58.02"), 4)
    populate(Office(code="H58.03"), 5)
    for request, expected_count in zip(requests, small, strict=True):
        with CaptureQueriesContext(connection) as captured:
            response = request()
        assert response.status_code == 200
        assert len(captured.captured_queries) == expected_count
    assert len(api.get("/api/v1/stats/index/").json()["agencies"]) == 3


@pytest.mark.skipif(connection.vendor != "postgresql", reason="Needs PostgreSQL: a planner setting.")
def test_the_index_runs_without_parallel_workers_and_leaves_the_setting_as_it_was(db):
    def workers():
        with connection.cursor() as cursor:
            cursor.execute("SHOW max_parallel_workers_per_gather")
            return cursor.fetchone()[0]

    before = workers()
    assert before != "0"
    seen = []

    def spy(execute, sql, params, many, context):
        if "dossiers_statcounter" in sql:
            seen.append(workers())  # the setting the index's counter queries run with
        return execute(sql, params, many, context)

    today = timezone.localdate()
    with connection.execute_wrapper(spy):
        index.service_index(stats_filters(today.replace(day=1), today))
    assert seen and set(seen) == {"0"}
    assert workers() == before
