"""The Decision 766 progress table (dossiers/stats.py): every cell against a brute-force count of the
events of dossiers built through the real workflow, the lists behind the numbers, the rebuild from
events, the API (/api/v1/stats/) and the page (/thong-ke/), their scoping and their cost."""

import io
import random
import re
from collections import Counter, defaultdict
from datetime import date, timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from dossiers import workflow
from dossiers.models import FINISHED_STATUSES, OPEN_STATUSES, PAUSED_STATUSES, Dossier, Status, judge
from dossiers.services import ActionInputError, WorkflowConflict, close_expired_supplements, dossier_act
from procedures.models import Agency, Role
from reporting import stats
from reporting.models import StatCounter, StatFact, StatSpan
from tests.factories import Office, make_agency, make_field, make_procedure, make_user, vn

TODAY = date(2026, 5, 20)
NOW = vn(2026, 5, 20, 10, 0)
FIRST_MOMENT = vn(2026, 1, 5, 7, 0)
LAST_MOMENT = vn(2026, 5, 19, 17, 0)

# How often the simulation picks each action when the workflow table allows it.
ACTION_WEIGHTS = {
    "receive": 8,
    "assign": 8,
    "propose_result": 6,
    "approve": 6,
    "return_result": 5,
    "supplement_received": 6,
    "obligation_fulfilled": 6,
    "request_supplement": 2,
    "request_obligation": 2,
    "extend": 2,
    "send_back": 1,
    "reassign": 1,
    "refuse": 1,
    "withdraw": 2,
    "stop": 2,
}
# Gaps between two actions on one dossier: minutes to more than a week.
GAPS = [20, 90, 240, 60 * 20, 60 * 24 * 2, 60 * 24 * 4, 60 * 24 * 9]


# --- The world: a province, two communes, two fields, dossiers through the real services ----------


class World:
    def __init__(self):
        self.province = make_agency(code="000.00.00.H56", name="UBND tỉnh Thử nghiệm", level=Agency.Level.PROVINCE)
        self.civil = make_field("HT", "Hộ tịch")
        self.certification = make_field("CT", "Chứng thực")
        self.offices = [Office(code="H56.33", field=self.civil), Office(code="H56.34", field=self.civil)]
        for office in self.offices:
            office.agency.parent = self.province
            office.agency.save()
            # A second, shorter procedure in another field: more late and overdue dossiers.
            office.procedures = [
                office.procedure,
                make_procedure(name="Chứng thực bản sao", days="1", agencies=[office.agency], field=self.certification),
            ]
        self.supervisor = make_user("tinh-giamsat", agency=self.province, role=Role.SUPERVISOR)

    def simulate(self, count, seed):
        rng = random.Random(seed)
        span = (LAST_MOMENT - FIRST_MOMENT).total_seconds()
        for _ in range(count):
            office = rng.choice(self.offices)
            moment = FIRST_MOMENT + timedelta(seconds=rng.uniform(0, span * 0.95))
            channel = rng.choices(["in_person", "online", "post"], weights=[5, 4, 2])[0]
            missing = ["Giấy chứng sinh"] if rng.random() < 0.12 else None
            dossier, _pin = office.receive(
                now=moment, procedure=rng.choice(office.procedures), channel=channel, missing_documents=missing
            )
            for _step in range(rng.randint(0, 10)):
                moment += timedelta(minutes=rng.choice(GAPS) + rng.randint(0, 59))
                if moment > LAST_MOMENT:
                    break
                names = workflow.allowed_from(dossier.status, dossier.stage)
                names = [n for n in names if n in ACTION_WEIGHTS]
                if not names:
                    break
                name = rng.choices(names, weights=[ACTION_WEIGHTS[n] for n in names])[0]
                if name == "approve" and dossier.due_at > moment and rng.random() < 0.4:
                    # Some approvals on the due day itself, before the due time: "on time".
                    moment = max(moment, dossier.due_at - timedelta(minutes=rng.randint(5, 90)))
                self.try_action(office, dossier, name, moment, rng)
                dossier.refresh_from_db()
        # The scheduled closure of supplements not completed within 15 days: stops while paused.
        close_expired_supplements(now=LAST_MOMENT)

    @staticmethod
    def try_action(office, dossier, name, moment, rng):
        params = {
            "assign": {},
            "request_supplement": {"missing_documents": ["Bản sao giấy tờ"]},
            "propose_result": {"result": "Cấp giấy"},
            "return_result": {"collected_by": "Chủ hồ sơ", "method": "in_person"},
        }.get(name, {})
        if name == "extend" and dossier.due_at:
            params = {"new_due_at": dossier.due_at + timedelta(days=rng.randint(1, 12))}
        for user in (office.reception, office.specialist, office.leader):
            try:
                dossier_act(dossier=dossier, actor=user, action=name, comment="Lý do thử nghiệm", now=moment, **params)
                return True
            except PermissionDenied:
                continue
            except (WorkflowConflict, ActionInputError):
                return False
        return False


@pytest.fixture
def world(db):
    return World()


# --- The brute force: counts straight from the events, independent of the statistics tables ----------


def state_at(events, moment, inclusive=False):
    """(status, due_at, supplement requests) after every event before `moment` (or at it)."""
    status = due = None
    requests = 0
    for event in events:
        if event.created_at > moment or (event.created_at == moment and not inclusive):
            break
        status = event.to_status
        requests += event.action == "request_supplement"
        if "due_at" in (event.data or {}):
            due = parse_datetime(event.data["due_at"]) if event.data["due_at"] else None
    return status, due, requests


def late_at(events, event):
    """Decision 766, by hand: was the dossier late at `event` (its due date passed, or more than one
    supplement request by then)?"""
    _status, due, requests = state_at(events, event.created_at, inclusive=True)
    return requests > 1 or (due is not None and event.created_at > due)


def pause_started(events, moment):
    """The event that began the pause the dossier is in just before `moment`."""
    started = None
    for event in events:
        if event.created_at >= moment:
            break
        if event.to_status in PAUSED_STATUSES and event.from_status not in PAUSED_STATUSES:
            started = event
    return started


def load_dossiers():
    return list(Dossier.objects.select_related("competent_agency", "procedure__field").prefetch_related("events"))


def brute_force(start, end, agency_ids=None, field_code=None, dossiers=None):
    """{(agency code, field code): Counter of metric → n} and the codes per metric, from events."""
    period_start, period_end = stats.day_start(start), stats.day_start(end + timedelta(days=1))
    cells, codes = defaultdict(Counter), defaultdict(set)
    for dossier in dossiers if dossiers is not None else load_dossiers():
        if agency_ids is not None and dossier.competent_agency_id not in agency_ids:
            continue
        if field_code is not None and dossier.procedure.field.code != field_code:
            continue
        events = sorted(dossier.events.all(), key=lambda e: (e.created_at, e.pk))
        accepted = next((e.created_at for e in events if e.to_status == Status.RECEIVED), None)
        if accepted is None:
            continue
        ended = next((e for e in events if e.to_status in FINISHED_STATUSES), None)
        ended_at = ended.created_at if ended else None
        found = []
        if period_start <= accepted < period_end:
            found += ["received", "received_new", f"received_{dossier.channel}"]
        if accepted < period_start and (ended_at is None or ended_at >= period_start):
            found += ["received", "received_carried_over"]
        if ended_at and period_start <= ended_at < period_end:
            if ended.to_status == Status.RESULT_READY:
                outcome = "late" if dossier.supplement_requests > 1 else judge(dossier.finished_at, dossier.due_at)
                found += ["finished", f"finished_{outcome}"]
            else:
                end = {Status.REFUSED: "refused", Status.WITHDRAWN: "withdrawn", Status.STOPPED: "stopped"}[
                    ended.to_status
                ]
                found.append(end)
                # Ended while paused: judged when the pause began (the waiting time is not counted).
                judged = pause_started(events, ended_at) if ended.from_status in PAUSED_STATUSES else ended
                if late_at(events, judged):
                    found.append(f"{end}_late")
        if accepted < period_end and (ended_at is None or ended_at >= period_end):
            status, due, requests = state_at(events, period_end)
            assert status in OPEN_STATUSES
            if status in PAUSED_STATUSES:
                # A pending supplement or obligation is judged at the request.
                found += [
                    "paused",
                    "paused_overdue" if late_at(events, pause_started(events, period_end)) else "paused_on_time",
                ]
            else:
                overdue = requests > 1 or (due is not None and due < period_end)
                found += ["in_progress", "in_progress_overdue" if overdue else "in_progress_on_time"]
        key = (dossier.competent_agency.code, dossier.procedure.field.code)
        for metric in found:
            cells[key][metric] += 1
            codes[metric].add(dossier.code)
    return cells, codes


def expected_rate(counts):
    """Decision 766: (finished on time + still within time) / all received and handled."""
    ends = ("refused", "withdrawn", "stopped")
    handled = counts["finished"] + counts["in_progress"] + counts["paused"] + sum(counts[e] for e in ends)
    on_time = counts["finished_early"] + counts["finished_on_time"] + counts["in_progress_on_time"]
    on_time += counts["paused_on_time"] + sum(counts[e] - counts[f"{e}_late"] for e in ends)
    return round(100 * on_time / handled, 1) if handled else None


def filters(start, end, agency=None, field=None, exact=False, scope=None):
    ids = scope
    if agency is not None:
        ids = frozenset({agency.pk} if exact else agency.subtree_ids())
    return stats.Filters(start=start, end=end, agency=agency, field=field, exact=exact, agency_ids=ids)


PERIODS = [
    (date(2026, 1, 1), date(2026, 1, 31)),
    (date(2026, 2, 1), date(2026, 2, 28)),
    (date(2026, 3, 1), date(2026, 3, 31)),
    (date(2026, 4, 1), date(2026, 4, 30)),
    (date(2026, 5, 1), TODAY),
    (date(2026, 1, 1), date(2026, 3, 31)),  # a quarter: whole months from the month rows
    (date(2026, 1, 15), date(2026, 3, 10)),  # partial months at both edges
    (date(2026, 3, 10), date(2026, 3, 10)),  # one day
    (date(2026, 2, 14), date(2026, 2, 22)),  # Tết
    (date(2026, 1, 1), TODAY),
]


def assert_table_matches(table, cells):
    expected_keys = {key for key, counter in cells.items() if any(counter.values())}
    assert {(row["agency"], row["field"]) for row in table.rows} == expected_keys
    total = Counter()
    for row in table.rows:
        counter = cells[(row["agency"], row["field"])]
        for metric in stats.METRIC_KEYS:
            assert row[metric] == counter[metric], (row["agency"], row["field"], metric)
        assert row["on_time_rate"] == expected_rate(counter)
        total.update(counter)
    for metric in stats.METRIC_KEYS:
        assert table.total[metric] == total[metric], metric
    assert table.total["on_time_rate"] == expected_rate(total)


@pytest.mark.slow  # a few hundred dossiers through the real workflow (about 20 s on an idle machine)
def test_every_cell_of_the_progress_table_equals_a_brute_force_count_of_the_events(world):
    world.simulate(260, seed=766)
    commune = world.offices[0].agency
    dossiers = load_dossiers()
    reached = set()
    for start, end in PERIODS:
        cells, codes = brute_force(start, end, dossiers=dossiers)
        reached.update(metric for metric, found in codes.items() if found)
        table = stats.progress_table(filters(start, end))
        assert_table_matches(table, cells)
        # Stocks read forwards (months before, days of the month) and backwards (total minus what follows).
        for direction in ("forward", "backward"):
            assert_table_matches(stats.progress_table(filters(start, end), direction=direction), cells)
        # Conservation: everything received is finished, refused, withdrawn, stopped, in progress or paused.
        t = table.total
        assert t["received"] == sum(
            t[k] for k in ("finished", "refused", "withdrawn", "stopped", "in_progress", "paused")
        )
        # The same with filters: one commune (exact), one field, the province's subtree.
        assert_table_matches(
            stats.progress_table(filters(start, end, agency=commune, exact=True)),
            brute_force(start, end, agency_ids={commune.pk}, dossiers=dossiers)[0],
        )
        assert_table_matches(
            stats.progress_table(filters(start, end, field=world.certification)),
            brute_force(start, end, field_code="CT", dossiers=dossiers)[0],
        )
        assert_table_matches(stats.progress_table(filters(start, end, agency=world.province)), cells)
    # The simulation reached every kind of cell, so the comparisons above mean something.
    # (A late refusal needs a refusal before the due date after two supplement requests, or of a
    # dossier paused late at intake: too rare here; test_ends_are_judged_on_time_or_late has one.)
    assert reached >= set(stats.METRIC_KEYS) - {"refused_late"}


def test_the_list_behind_each_number_holds_exactly_the_dossiers_counted(world):
    world.simulate(90, seed=18)
    for start, end in [(date(2026, 3, 1), date(2026, 3, 31)), (date(2026, 2, 10), date(2026, 4, 20))]:
        _cells, codes = brute_force(start, end)
        table = stats.progress_table(filters(start, end))
        for metric in stats.METRIC_KEYS:
            listed = set(stats.metric_dossiers(metric, filters(start, end)).values_list("code", flat=True))
            assert listed == codes[metric], metric
            assert len(listed) == table.total[metric]


def test_rebuilding_from_events_reproduces_the_counters_kept_with_each_transition(world):
    world.simulate(80, seed=2026)

    def snapshot():
        counters = {
            (c.grain, c.day, c.agency_id, c.field_id): tuple(getattr(c, f) for f in stats.COUNTER_FIELDS)
            for c in StatCounter.objects.all()
            if any(getattr(c, f) for f in stats.COUNTER_FIELDS)
        }
        facts = set(StatFact.objects.values_list("dossier_id", "received_on", "finished_on", "finish_kind"))
        spans = set(StatSpan.objects.values_list("dossier_id", "start_on", "end_on", "paused", "due_on"))
        return counters, facts, spans

    live = snapshot()
    assert live[0] and live[1] and live[2]
    assert stats.rebuild(chunk_size=7) == len(live[1])
    assert snapshot() == live


def test_overdue_is_written_ahead_on_the_due_day_so_numbers_never_change_with_time(db):
    office = Office(code="H56.40")
    dossier, _pin = office.receive(now=vn(2026, 3, 2, 9, 0))  # 3 working days: due Thursday 5 March
    assert stats.local_day(dossier.due_at) == date(2026, 3, 5)
    scope = frozenset({office.agency.pk})
    on_the_4th = stats.progress_table(filters(date(2026, 3, 1), date(2026, 3, 4), scope=scope)).total
    on_the_5th = stats.progress_table(filters(date(2026, 3, 1), date(2026, 3, 5), scope=scope)).total
    assert (on_the_4th["in_progress_on_time"], on_the_4th["in_progress_overdue"]) == (1, 0)
    assert (on_the_5th["in_progress_on_time"], on_the_5th["in_progress_overdue"]) == (0, 1)
    # Finished late on the 6th: late in March, and no longer open at the end of the 6th.
    office.act(dossier, "assign", now=vn(2026, 3, 2, 10, 0))
    office.act(dossier, "propose_result", now=vn(2026, 3, 6, 8, 0), result="Cấp giấy")
    office.act(dossier, "approve", now=vn(2026, 3, 6, 9, 0))
    march = stats.progress_table(filters(date(2026, 3, 1), date(2026, 3, 31), scope=scope)).total
    assert (march["received_new"], march["finished_late"], march["in_progress"], march["on_time_rate"]) == (
        1,
        1,
        0,
        0.0,
    )
    # Judged at the end of the 5th, it was still in progress and overdue then.
    assert (
        stats.progress_table(filters(date(2026, 3, 5), date(2026, 3, 5), scope=scope)).total["in_progress_overdue"] == 1
    )


def test_more_than_one_supplement_request_counts_as_late_even_before_the_due_date(db):
    office = Office(code="H56.41")
    dossier, _pin = office.receive(now=vn(2026, 3, 2, 9, 0))
    office.act(dossier, "request_supplement", user=office.reception, now=vn(2026, 3, 2, 9, 30), comment="Thiếu")
    office.act(dossier, "supplement_received", user=office.reception, now=vn(2026, 3, 2, 10, 0))
    office.act(dossier, "assign", now=vn(2026, 3, 2, 10, 30))
    office.act(dossier, "request_supplement", now=vn(2026, 3, 2, 11, 0), comment="Thiếu bản sao")
    office.act(dossier, "supplement_received", now=vn(2026, 3, 3, 8, 0))
    office.act(dossier, "propose_result", now=vn(2026, 3, 3, 9, 0), result="Cấp giấy")
    office.act(dossier, "approve", now=vn(2026, 3, 3, 10, 0))
    dossier.refresh_from_db()
    assert dossier.supplement_requests == 2 and dossier.finished_at < dossier.due_at
    total = stats.progress_table(
        filters(date(2026, 3, 1), date(2026, 3, 31), scope=frozenset({office.agency.pk}))
    ).total
    assert (total["finished_late"], total["finished_early"], total["finished_on_time"]) == (1, 0, 0)


def test_dossiers_not_yet_accepted_are_not_in_the_table(db):
    office = Office(code="H56.42")
    office.receive(now=vn(2026, 3, 2, 9, 0), channel="online")
    office.receive(now=vn(2026, 3, 2, 9, 0), missing_documents=["Giấy chứng sinh"])
    total = stats.progress_table(
        filters(date(2026, 3, 1), date(2026, 3, 31), scope=frozenset({office.agency.pk}))
    ).total
    assert total["received"] == 0
    assert StatFact.objects.count() == 0


# --- The API and the page: contract, scope, errors, cost ----------------------------------------------

CONTRACT_KEYS = {
    "received",
    "received_carried_over",
    "received_online",
    "received_in_person",
    "received_post",
    "finished_early",
    "finished_on_time",
    "finished_late",
    "refused",
    "withdrawn",
    "in_progress_on_time",
    "in_progress_overdue",
    "paused_on_time",
    "paused_overdue",
    "on_time_rate",
}


class Province:
    """A province with two communes; each commune has a few dossiers in March 2026."""

    def __init__(self):
        self.agency = make_agency(code="000.00.00.H57", name="UBND tỉnh Hai", level=Agency.Level.PROVINCE)
        self.a = Office(code="H57.01")
        self.b = Office(code="H57.02")
        for office in (self.a, self.b):
            office.agency.parent = self.agency
            office.agency.save()
        self.supervisor = make_user("h57-giamsat", agency=self.agency, role=Role.SUPERVISOR)

    def populate(self, office, count=3, day=2):
        made = []
        for i in range(count):
            moment = vn(2026, 3, day, 8, 0) + timedelta(minutes=7 * i)
            dossier, _pin = office.receive(now=moment, channel=["in_person", "post"][i % 2])
            if i % 3 == 0:
                office.act(dossier, "assign", now=moment + timedelta(minutes=30))
                office.act(dossier, "propose_result", now=moment + timedelta(hours=2), result="Cấp giấy")
                office.act(dossier, "approve", now=moment + timedelta(hours=3))
            made.append(dossier)
        return made


@pytest.fixture
def province(db):
    return Province()


def english(client):
    """Messages are asserted in English (the msgids), whatever the translations say."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def api(user=None):
    client = english(APIClient())
    if user is not None:
        client.force_authenticate(user)
    return client


MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


def test_the_api_returns_the_progress_table_with_the_contract_keys(province):
    province.populate(province.a, 3)
    province.populate(province.b, 2)
    with time_machine.travel(NOW, tick=False):
        response = api(province.supervisor).get("/api/v1/stats/", MARCH)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["from"], body["to"]) == ("2026-03-01", "2026-03-31")
    assert set(body["total"]) >= CONTRACT_KEYS
    assert {(row["agency"], row["field"]) for row in body["rows"]} == {("H57.01", "HT"), ("H57.02", "HT")}
    assert all(set(row) >= CONTRACT_KEYS for row in body["rows"])
    total = body["total"]
    assert (total["received"], total["received_in_person"], total["received_post"]) == (5, 3, 2)
    # Decision 766: (2 finished early + 0 still within time) / 5 received and handled.
    assert (total["finished_early"], total["in_progress_overdue"], total["on_time_rate"]) == (2, 3, 40.0)


def test_the_api_default_period_is_the_current_month_up_to_today(province):
    with time_machine.travel(NOW, tick=False):
        body = api(province.supervisor).get("/api/v1/stats/").json()
    assert (body["from"], body["to"]) == ("2026-05-01", "2026-05-20")


def test_the_api_caps_a_period_that_has_not_ended_at_today(province):
    with time_machine.travel(NOW, tick=False):
        body = api(province.supervisor).get("/api/v1/stats/", {"from": "2026-05-01", "to": "2026-12-31"}).json()
        preset = api(province.supervisor).get("/api/v1/stats/", {"period": "quarter", "quarter": 1}).json()
    assert body["to"] == "2026-05-20"
    assert (preset["from"], preset["to"]) == ("2026-01-01", "2026-03-31")


def test_the_api_needs_authentication(province):
    assert api().get("/api/v1/stats/").status_code == 401


@pytest.mark.parametrize("role", ["reception", "specialist"])
def test_officers_without_statistics_get_403(province, role):
    response = api(getattr(province.a, role)).get("/api/v1/stats/")
    assert response.status_code == 403
    assert "supervisors and leaders" in response.json()["detail"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"from": "01-03-2026x"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2026-03-10", "to": "2026-03-01"}, "to"),
        ({"from": "2027-01-01"}, "from"),
        ({"agency": "NO.SUCH"}, "agency"),
        ({"field": "NOPE"}, "field"),
        ({"period": "decade"}, "period"),
    ],
)
def test_the_api_rejects_bad_parameters_with_readable_messages(province, params, field):
    with time_machine.travel(NOW, tick=False):
        response = api(province.supervisor).get("/api/v1/stats/", params)
    assert response.status_code == 400
    messages = response.json()[field]
    assert messages and all(isinstance(m, str) and m for m in messages)


def test_a_commune_supervisor_sees_nothing_of_another_commune(province, client):
    province.populate(province.a, 2)
    other = province.populate(province.b, 4)
    supervisor_a = province.a.supervisor
    with time_machine.travel(NOW, tick=False):
        body = api(supervisor_a).get("/api/v1/stats/", MARCH).json()
        assert [row["agency"] for row in body["rows"]] == ["H57.01"]
        assert body["total"]["received"] == 2
        # Asking for the other commune is refused; asking for the province gives only their own.
        assert api(supervisor_a).get("/api/v1/stats/", {**MARCH, "agency": "H57.02"}).status_code == 403
        own = api(supervisor_a).get("/api/v1/stats/", {**MARCH, "agency": province.agency.code}).json()
        assert own["total"] == body["total"]
        client.force_login(supervisor_a)
        page = client.get("/thong-ke/", MARCH)
        listed = client.get("/thong-ke/ho-so/", {**MARCH, "metric": "received"})
        forbidden_list = client.get("/thong-ke/ho-so/", {**MARCH, "metric": "received", "agency": "H57.02"})
        register = client.get("/thong-ke/so-theo-doi.xlsx", MARCH)
    assert page.status_code == 200 and listed.status_code == 200
    for response in (page, listed):
        html = response.content.decode()
        assert province.b.agency.name not in html
        assert not any(dossier.code in html for dossier in other)
    assert forbidden_list.status_code == 403
    register_bytes = b"".join(register.streaming_content)
    assert not any(dossier.code.encode() in register_bytes for dossier in other)


def test_a_leader_sees_the_statistics_of_their_own_agency(province):
    province.populate(province.a, 2)
    province.populate(province.b, 1)
    with time_machine.travel(NOW, tick=False):
        body = api(province.b.leader).get("/api/v1/stats/", MARCH).json()
    assert [row["agency"] for row in body["rows"]] == ["H57.02"]


def test_the_number_of_queries_does_not_grow_with_the_number_of_dossiers(province, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    province.populate(province.a, 10)
    client = api(province.supervisor)
    with time_machine.travel(NOW, tick=False):
        with CaptureQueriesContext(connection) as small:
            assert client.get("/api/v1/stats/", MARCH).json()["total"]["received"] == 10
        province.populate(province.a, 60, day=3)
        province.populate(province.b, 30, day=4)
        with django_assert_max_num_queries(len(small.captured_queries)):
            assert client.get("/api/v1/stats/", MARCH).json()["total"]["received"] == 100


def test_the_stats_endpoint_is_in_the_openapi_schema(db):
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    operation = schema["paths"]["/api/v1/stats/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"from", "to", "agency", "field"}
    total = schema["components"]["schemas"]["StatsCounts"]["properties"]
    assert set(total) >= CONTRACT_KEYS


def test_the_page_needs_a_login_and_a_statistics_role(province, client):
    response = client.get("/thong-ke/")
    assert response.status_code == 302 and "/dang-nhap/" in response["Location"]
    client.force_login(province.a.reception)
    assert client.get("/thong-ke/").status_code == 403
    assert client.get("/thong-ke/tien-do.xlsx").status_code == 403


def test_the_page_explains_bad_filters_with_a_400(province, client):
    english(client).force_login(province.supervisor)
    with time_machine.travel(NOW, tick=False):
        response = client.get("/thong-ke/", {"from": "2026-03-10", "to": "2026-03-01"})
        listing = client.get("/thong-ke/ho-so/", {"metric": "everything"})
        cursor = client.get("/thong-ke/ho-so/", {"metric": "received", "after": "not-a-cursor"})
    assert response.status_code == 400
    assert "The period is reversed: “to” (01/03/2026) is before “from” (10/03/2026)." in response.content.decode()
    assert listing.status_code == 400 and cursor.status_code == 400


def test_each_number_links_to_a_list_of_exactly_its_dossiers_page_by_page(province, client):
    made = province.populate(province.a, 54)  # 27 in person: more than one page of 25
    client.force_login(province.supervisor)
    with time_machine.travel(NOW, tick=False):
        page = client.get("/thong-ke/", MARCH).content.decode()
        link = re.search(r'data-metric="received_in_person" data-value="27"><a href="([^"]+)"', page)
        assert link, "the total's in-person number links to its list"
        url = link.group(1).replace("&amp;", "&")
        codes, pages = [], 0
        while url:
            response = client.get(url)
            assert response.status_code == 200
            html = response.content.decode()
            codes += re.findall(r'<tr data-code="([^"]+)"', html)
            pages += 1
            found = re.search(r'rel="next" href="([^"]+)"', html)
            url = ("/thong-ke/ho-so/" + found.group(1).replace("&amp;", "&")) if found else None
    assert pages == 2
    assert sorted(codes) == sorted(d.code for d in made if d.channel == "in_person")


def test_the_rebuild_command_restores_the_tables_from_the_events(province):
    from django.core.management import call_command

    province.populate(province.a, 4)
    before = stats.progress_table(filters(date(2026, 3, 1), date(2026, 3, 31), scope=None)).total
    StatCounter.objects.all().delete()
    StatFact.objects.all().delete()
    assert stats.progress_table(filters(date(2026, 3, 1), date(2026, 3, 31), scope=None)).total["received"] == 0
    call_command("rebuild_stats", stdout=io.StringIO())
    assert stats.progress_table(filters(date(2026, 3, 1), date(2026, 3, 31), scope=None)).total == before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_transitions_in_one_agency_keep_exact_counters():
    """Twenty threads accept and move dossiers of one agency and field at the same moment: the
    upserts serialise on the shared counter rows without deadlock or lost update."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("Needs PostgreSQL: SQLite serialises every write.")
    office = Office(code="H57.09")
    moment = vn(2026, 3, 2, 9, 0)
    workers = 10
    barrier = threading.Barrier(workers)

    def work(i):
        try:
            if i < workers:
                barrier.wait(timeout=30)
            dossier, _pin = office.receive(now=moment, channel=["in_person", "post"][i % 2])
            office.act(dossier, "assign", now=moment + timedelta(minutes=5))
            if i % 2:
                office.act(dossier, "propose_result", now=moment + timedelta(minutes=10), result="Cấp giấy")
                office.act(dossier, "approve", now=moment + timedelta(minutes=15))
            return None
        except Exception as exc:  # noqa: BLE001 - returned to the test
            return exc
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        errors = [r for r in pool.map(work, range(20)) if r is not None]
    assert errors == []
    live = stats.progress_table(filters(date(2026, 3, 1), date(2026, 3, 2), scope=None)).total
    assert (live["received_new"], live["finished_early"], live["in_progress"]) == (20, 10, 10)
    stats.rebuild()
    assert stats.progress_table(filters(date(2026, 3, 1), date(2026, 3, 2), scope=None)).total == live


def test_the_dashboard_query_count_does_not_grow_with_agencies_or_dossiers(province, client):
    """The page reads the counters, the names and "overdue now" in a fixed number of queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    province.populate(province.a, 3)
    client.force_login(province.supervisor)
    with time_machine.travel(NOW, tick=False):
        with CaptureQueriesContext(connection) as small:
            assert client.get("/thong-ke/", MARCH).status_code == 200
        for code in ("H57.03", "H57.04", "H57.05"):
            office = Office(code=code)
            office.agency.parent = province.agency
            office.agency.save()
            province.populate(office, 7, day=5)
        province.populate(province.b, 20, day=6)
        for params in (MARCH, {**MARCH, "group": "agency_field"}):
            with CaptureQueriesContext(connection) as large:
                response = client.get("/thong-ke/", params)
            assert response.status_code == 200
            assert len(large.captured_queries) == len(small.captured_queries), params
    assert response.content.decode().count("<tr data-agency=") == 5 * 1  # one field per agency here


@pytest.mark.parametrize("today", [date(2026, 5, 20), date(2026, 3, 31), date(2027, 1, 1)])
def test_range_and_prefix_terms_add_up_every_day_exactly_once(today):
    """Signed month and day terms (month rows minus days, or days) sum each day of a range once."""
    import random

    rng = random.Random(today.toordinal())
    days = [date(2025, 11, 1) + timedelta(days=i) for i in range(420)]
    value = {day: rng.randint(-5, 9) for day in days}
    rows = {("d", day): v for day, v in value.items()}
    for day, v in value.items():
        rows[("m", day.replace(day=1))] = rows.get(("m", day.replace(day=1)), 0) + v
    rows[("t", stats.TOTAL_DAY)] = sum(value.values())

    def evaluate(terms):
        total = 0
        for (grain, day), v in rows.items():
            signs = [
                s
                for s, g, first, last in terms
                if g == grain and (first is None or day >= first) and (last is None or day <= last)
            ]
            assert len(signs) <= 1, (grain, day, terms)
            total += sum(signs) * v
        return total

    for _ in range(60):
        first, last = sorted(rng.sample(days[10:-40], 2))
        expected = sum(value[d] for d in days if first <= d <= last)
        assert evaluate(stats.range_terms(first, last, today)) == expected, (first, last)
        for direction in ("forward", "backward"):
            prefix = sum(value[d] for d in days if d <= last)
            assert evaluate(stats.prefix_terms(last, direction, today)) == prefix, (last, direction)


def test_the_table_cells_written_in_python_escape_what_they_show():
    from reporting.dashboard import cells_html

    html = cells_html(
        [
            {"metric": 'received"><b>', "value": 3, "url": '/thong-ke/ho-so/?agency="><script>x</script>&metric=a'},
            {"metric": "finished", "value": 0, "url": "/x"},
        ]
    )
    assert "<script>" not in html and "<b>" not in html
    assert '&quot;&gt;&lt;script&gt;x&lt;/script&gt;&amp;metric=a">3</a>' in html
    assert '<td data-metric="finished" data-value="0"><span class="st-zero">0</span></td>' in html


def test_the_filter_options_written_in_python_escape_and_select_by_text():
    from reporting.templatetags.stats_filters import options

    html = options([("H57.01", 'Xã "A" <b>'), (2026, 2026), (3, "Tháng 3")], "2026")
    assert html == (
        '<option value="H57.01">Xã &quot;A&quot; &lt;b&gt;</option>'
        '<option value="2026" selected>2026</option>'
        '<option value="3">Tháng 3</option>'
    )
    assert " selected" not in options([("", "All"), ("x", "X")], None)


@pytest.mark.parametrize(
    ("language", "finished", "late", "hint"),
    [
        ("en", 1, 0, "1 result, 0 late"),
        ("en", 7, 2, "7 results, 2 late"),
        ("vi", 7, 2, "7 hồ sơ có kết quả, 2 trễ hạn"),
    ],
)
def test_the_rate_bars_hint_and_value_are_translated_and_pluralised(language, finished, late, hint):
    from django.utils import translation

    from reporting.dashboard import rate_bars

    class Filters:
        def query(self, **params):
            return "&".join(f"{key}={value}" for key, value in sorted(params.items()))

    groups = [
        {"code": "F1", "name": "F", "finished": finished, "finished_late": late, "on_time_rate": 71.4285},
        {"code": "F2", "name": "G", "finished": 0, "finished_late": 0, "on_time_rate": None},
    ]
    with translation.override(language):
        bars = rate_bars(groups, Filters(), "field")
    assert bars[0]["hint"] == hint
    assert bars[0]["rate_text"] == ("71,4 %" if language == "vi" else "71.4 %")
    assert (bars[0]["grade"], bars[1]["grade"], bars[1]["rate_text"]) == ("fair", "none", "—")


def test_the_trend_chart_svg_written_in_python_has_a_bar_per_month_and_series():
    from reporting.dashboard import trend_chart

    months = [
        {"month": date(2025, 12, 1), "received": 40, "on_time": 30, "late": 5},
        {"month": date(2026, 1, 1), "received": 0, "on_time": 0, "late": 0},
    ]
    svg = trend_chart(months)["svg_html"]
    assert re.findall(r"<title>([^<]+)</title>", svg) == [
        "12/2025: 40",
        "12/2025: 30",
        "12/2025: 5",
        "01/2026: 0",
        "01/2026: 0",
        "01/2026: 0",
    ]
    assert re.findall(r'text-anchor="middle">(\d+)</text>', svg) == ["12", "2025", "01", "2026"]
    assert re.findall(r'text-anchor="end" dominant-baseline="middle">(\d+)</text>', svg) == ["0", "25", "50"]


def test_the_statistics_field_filter_is_in_vietnamese_alphabetical_order(db):
    """Issue 15: "Đất đai" comes after "Dân tộc" and before "Thủy sản", not after it (Đ sorts as D+)."""
    from procedures.models import Field
    from reporting.views import filter_choices

    for code, name in (("TS", "Thủy sản"), ("DD", "Đất đai"), ("DT", "Dân tộc"), ("AN", "An ninh")):
        Field.objects.create(code=code, name=name)
    names = [field.name for field in filter_choices(None)["fields"]]
    assert names == ["An ninh", "Dân tộc", "Đất đai", "Thủy sản"]


@pytest.mark.parametrize("path", ["/api/v1/stats/", "/api/v1/stats/digital/", "/api/v1/stats/handling/"])
def test_every_statistics_endpoint_filters_scopes_and_is_never_cached_alike(db, client, path):
    from tests.factories import Office, api_token

    office = Office()
    office.receive()
    supervisor = {"HTTP_AUTHORIZATION": f"Token {api_token(office.supervisor)}"}

    ok = client.get(path, **supervisor)
    reversed_period = client.get(path, {"from": "2026-11-20", "to": "2026-11-01"}, **supervisor)
    bad_date = client.get(path, {"from": "45/13/2026"}, **supervisor)
    specialist = client.get(path, HTTP_AUTHORIZATION=f"Token {api_token(office.specialist)}")

    assert ok.status_code == 200, ok.content
    assert ok["Cache-Control"] == "private, no-store"
    assert [row["agency"] for row in ok.json()["rows"]] == [office.agency.code]
    assert reversed_period.status_code == bad_date.status_code == 400
    assert set(reversed_period.json()) <= {"from", "to", "period"} and reversed_period.json()
    assert all(isinstance(messages, list) and messages for messages in bad_date.json().values())
    assert specialist.status_code == 403
    assert client.get(path).status_code == 401
