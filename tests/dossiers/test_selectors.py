"""Queues and keyset pagination of the officer workspace (dossiers/selectors.py)."""

import base64
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from accounts import roles as permissions
from dossiers import selectors
from dossiers.models import Channel, Dossier
from dossiers.selectors import InvalidCursor, decode_cursor, encode_cursor, keyset_page, queue, queue_counts
from tests.factories import Office, make_user, vn

pytestmark = pytest.mark.django_db

MONDAY = vn(2026, 3, 2, 9, 0)


def codes(queryset):
    return {d.code for d in queryset}


@pytest.fixture
def office():
    return Office()


@pytest.fixture
def pipeline(office):
    """One dossier at each step: received, processing, approval, result ready, supplement."""
    received, _ = office.receive(now=MONDAY)
    processing, _ = office.receive(now=MONDAY)
    office.act(processing, "assign", now=MONDAY)
    approval, _ = office.to_approval(now=MONDAY)
    ready, _ = office.to_approval(now=MONDAY)
    office.act(ready, "approve", now=MONDAY)
    supplement, _ = office.receive(now=MONDAY, missing_documents=["Giấy chứng sinh"])
    return {
        "received": Dossier.objects.get(pk=received.pk),
        "processing": Dossier.objects.get(pk=processing.pk),
        "approval": Dossier.objects.get(pk=approval.pk),
        "ready": Dossier.objects.get(pk=ready.pk),
        "supplement": Dossier.objects.get(pk=supplement.pk),
    }


def test_waiting_queue_holds_what_each_role_acts_on_next(office, pipeline):
    p = {name: d.code for name, d in pipeline.items()}
    now = MONDAY + timedelta(hours=1)

    # Reception: accepted dossiers to transfer and results to hand back.
    assert codes(queue(office.reception, "waiting", now)) == {p["received"], p["ready"]}
    # Specialist: dossiers being processed by the competent agency.
    assert codes(queue(office.specialist, "waiting", now)) == {p["processing"]}
    # Leader: dossiers awaiting approval (and, per the workflow table, transfers at intake).
    assert codes(queue(office.leader, "waiting", now)) == {p["approval"], p["received"]}
    # A supervisor only watches.
    assert codes(queue(office.supervisor, "waiting", now)) == set()


def test_waiting_queue_excludes_dossiers_paused_for_the_applicant(office, pipeline):
    waiting = codes(queue(office.reception, "waiting", MONDAY))
    assert pipeline["supplement"].code not in waiting
    assert codes(queue(office.reception, "supplement", MONDAY)) == {pipeline["supplement"].code}


def test_mine_lists_open_dossiers_assigned_to_the_user(office, pipeline):
    mine = codes(queue(office.specialist, "mine", MONDAY))
    # The approved dossier is no longer open; the one in approval is still assigned.
    assert mine == {pipeline["processing"].code, pipeline["approval"].code}
    other = make_user(agency=office.agency, role="specialist")
    assert codes(queue(other, "mine", MONDAY)) == set()


def test_due_soon_and_overdue_follow_the_clock(office):
    dossier, _ = office.receive(now=MONDAY)
    due = dossier.due_at
    assert due > MONDAY + timedelta(days=2)

    assert dossier.code not in codes(queue(office.reception, "due_soon", MONDAY))
    two_hours_before = due - timedelta(hours=2)
    assert dossier.code in codes(queue(office.reception, "due_soon", two_hours_before))
    assert dossier.code not in codes(queue(office.reception, "overdue", two_hours_before))
    just_late = due + timedelta(minutes=1)
    assert dossier.code in codes(queue(office.reception, "overdue", just_late))
    assert dossier.code not in codes(queue(office.reception, "due_soon", just_late))


def test_due_soon_means_within_one_working_day(office):
    dossier, _ = office.receive(now=MONDAY)
    # More than one working day before the due date: not yet "soon".
    end_of_window = selectors.due_soon_end(dossier.due_at - timedelta(days=2))
    assert end_of_window < dossier.due_at
    assert dossier.code not in codes(queue(office.reception, "due_soon", dossier.due_at - timedelta(days=2)))


def test_queues_never_show_another_communes_dossiers(office, pipeline):
    other = Office()
    foreign, _ = other.receive(now=MONDAY)
    other.act(foreign, "assign", now=MONDAY)
    for name in selectors.QUEUES:
        for user in (office.reception, office.specialist, office.leader, office.supervisor):
            assert foreign.code not in codes(queue(user, name, MONDAY + timedelta(days=30)))


def test_unknown_queue_is_refused(office):
    with pytest.raises(ValueError):
        queue(office.reception, "everything", MONDAY)


def test_approvals_lists_only_the_leaders_approval_stage(office, pipeline):
    assert codes(selectors.approvals(office.leader)) == {pipeline["approval"].code}
    assert codes(selectors.approvals(office.specialist)) == set()


def test_queue_counts_are_capped(office):
    for _ in range(4):
        office.receive(now=MONDAY)
    counts = queue_counts(office.reception, MONDAY, cap=2)
    assert counts["waiting"] == 3  # cap + 1 means "more than the cap"
    assert counts["supplement"] == 0


# --- Keyset pagination -----------------------------------------------------------------------


@pytest.fixture
def mixed_dossiers(office):
    """Dossiers with repeated due dates (same reception time) and without a due date."""
    made = []
    for day in (2, 3, 4):
        for _ in range(3):
            made.append(office.receive(now=vn(2026, 3, day, 9, 0))[0])
    for _ in range(3):
        made.append(office.receive(now=MONDAY, missing_documents=["Giấy chứng sinh"])[0])
    for _ in range(2):
        made.append(office.receive(now=MONDAY, channel=Channel.ONLINE)[0])
    return made


def all_pages(queryset, size):
    items, cursor, pages = [], None, 0
    while True:
        page, cursor = keyset_page(queryset, cursor, size=size)
        items.extend(page)
        pages += 1
        assert len(page) <= size
        if cursor is None:
            return items, pages


def test_keyset_pages_cover_everything_once_in_due_date_order(office, mixed_dossiers):
    queryset = Dossier.objects.visible_to(office.reception)
    items, pages = all_pages(queryset, size=4)
    assert pages == 4  # 14 dossiers, 4 per page
    assert sorted(d.pk for d in items) == sorted(d.pk for d in mixed_dossiers)
    dated = [d for d in items if d.due_at]
    undated = [d for d in items if d.due_at is None]
    assert items == dated + undated
    assert [(d.due_at, d.pk) for d in dated] == sorted((d.due_at, d.pk) for d in dated)
    assert [d.pk for d in undated] == sorted(d.pk for d in undated)
    assert len(undated) == 5


def test_page_two_continues_exactly_after_page_one(office, mixed_dossiers):
    queryset = Dossier.objects.visible_to(office.reception)
    everything = list(selectors.keyset_order(queryset))
    # Page boundaries inside a run of equal due dates and inside the undated tail.
    for size in (2, 4, 10):
        first, cursor = keyset_page(queryset, size=size)
        second, _ = keyset_page(queryset, cursor, size=size)
        assert [d.pk for d in first + second] == [d.pk for d in everything[: 2 * size]]


def test_last_page_has_no_cursor(office, mixed_dossiers):
    queryset = Dossier.objects.visible_to(office.reception)
    items, cursor = keyset_page(queryset, size=len(mixed_dossiers))
    assert len(items) == len(mixed_dossiers)
    assert cursor is None


def test_cursor_round_trips_with_and_without_due_date():
    due = vn(2026, 3, 5, 11, 30)
    assert decode_cursor(encode_cursor(due, 42)) == (due, 42)
    assert decode_cursor(encode_cursor(None, 7)) == (None, 7)


def _b64(text):
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "%%%",
        _b64("2026-03-05T11:30:00+07:00"),
        _b64("2026-03-05T11:30:00+07:00|abc"),
        _b64("yesterday|5"),
        _b64("2026-03-05T11:30:00|5"),  # naive datetimes are not ours
        _b64("-|0"),
        base64.urlsafe_b64encode(b"\xff\xfe|1").decode(),
    ],
)
def test_malformed_cursor_is_refused(office, cursor):
    with pytest.raises(InvalidCursor):
        keyset_page(Dossier.objects.visible_to(office.reception), cursor)


def test_a_page_is_two_queries_whatever_its_size(office):
    """The page's ids from the queue's arms, then those rows with everything the list shows."""
    for _ in range(12):
        office.receive(now=MONDAY)
    dossier = Dossier.objects.first()
    office.act(dossier, "assign", now=MONDAY)

    def run(size):
        base = queue(office.reception, "waiting", MONDAY)
        with CaptureQueriesContext(connection) as ctx:
            items, _ = keyset_page(base, size=size)
            shown = [(d.procedure.name, d.competent_agency.name, d.receiving_agency.name, d.assignee) for d in items]
        return len(ctx.captured_queries), len(shown)

    small, small_count = run(3)
    large, large_count = run(12)
    assert (small_count, large_count) == (3, 11)  # one was transferred to the specialist
    assert small == large == 2


# --- Index-ordered queue pages ---------------------------------------------------------------


def test_queue_counts_are_one_query_whatever_the_number_of_dossiers(office):
    def run():
        user = type(office.reception).objects.get(pk=office.reception.pk)
        permissions.visible_agency_ids(user)  # loads and caches the user's roles
        with CaptureQueriesContext(connection) as ctx:
            counts = queue_counts(user, MONDAY, cap=99)
        return len(ctx.captured_queries), counts["waiting"]

    office.receive(now=MONDAY)
    small = run()
    for _ in range(8):
        office.receive(now=MONDAY)
    large = run()
    # The reminder policy and the office calendar (for "due soon"), then every queue's capped
    # count in one query.
    assert (small, large) == ((3, 1), (3, 9))


def test_every_queue_is_the_union_of_its_arms(office, pipeline):
    other = Office()
    other.act(other.receive(now=MONDAY)[0], "assign", now=MONDAY)
    now = MONDAY + timedelta(days=30)
    for user in (office.reception, office.specialist, office.leader, office.supervisor):
        for name in selectors.QUEUES:
            arms = selectors.queue_arms(user, name, now)
            from_arms = {pk for arm in arms for pk in Dossier.objects.filter(arm).values_list("pk", flat=True)}
            assert from_arms == set(queue(user, name, now).values_list("pk", flat=True)), (user, name)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="query plans are PostgreSQL's")
def test_a_queue_page_reads_each_arm_from_an_index_in_page_order(office):
    for day in (2, 3, 4):
        for _ in range(4):
            office.receive(now=vn(2026, 3, day, 9, 0))
    base = queue(office.reception, "waiting", MONDAY)
    first, cursor = keyset_page(base, size=5)
    assert cursor is not None
    deep = queue(office.reception, "waiting", MONDAY)
    for after in (None, cursor):
        page = deep if after else base
        with CaptureQueriesContext(connection) as ctx:
            keyset_page(page, after, size=5)
        query, _rows = ctx.captured_queries  # the arms' ids, then the rows by primary key
        with connection.cursor() as cursor_:
            # The test table is tiny, where a sequential scan is cheapest: forbid it to see
            # whether an index serves every arm in (due_at, id) order.
            cursor_.execute("SET LOCAL enable_seqscan = off")
            cursor_.execute("SET LOCAL enable_bitmapscan = off")
            cursor_.execute("EXPLAIN " + query["sql"])
            plan = "\n".join(row[0] for row in cursor_.fetchall())
        arms = len(page.queue_arms) * (2 if after else 1)
        index_scans = plan.count("Index Scan using dossier_") + plan.count("Index Only Scan using dossier_")
        assert index_scans >= arms, plan
        # No arm sorts: the only sorts are of the few rows the arms return (and of the page).
        assert plan.count("Sort Key:") <= 2, plan


def test_the_arms_sql_selects_what_the_orm_selects(office, pipeline):
    """`arms_sql` writes the arms' SQL itself (the ORM is too slow for dozens of arms per page):
    it must select exactly the dossiers the ORM selects, first pages and later ones."""
    other = Office()
    other.act(other.receive(now=MONDAY)[0], "assign", now=MONDAY)
    now = MONDAY + timedelta(days=30)

    def ids(arms, after):
        sql, params = selectors.arms_sql(arms, after, 10_000)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [row[0] for row in cursor.fetchall()]

    for user in (office.reception, office.specialist, office.leader, office.supervisor):
        for name in selectors.QUEUES:
            arms = selectors.queue_arms(user, name, now)
            expected = list(selectors.keyset_order(queue(user, name, now)).values_list("pk", "due_at"))
            if not arms:
                assert not expected, (user, name)
                continue
            assert ids(arms, None) == [pk for pk, _due in expected], (user, name)
            if expected:
                pk, due_at = expected[0]
                assert ids(arms, (due_at, pk)) == [pk for pk, _due in expected[1:]], (user, name)


def test_an_arm_the_sql_writer_does_not_know_is_compiled_by_the_orm(office):
    dossier, _pin = office.receive(now=MONDAY)
    arms = [Q(procedure__code=dossier.procedure.code), Q(status=dossier.status, receiving_agency_id=0)]
    sql, params = selectors.arms_sql(arms, None, 10)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        assert [row[0] for row in cursor.fetchall()] == [dossier.pk]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="extended statistics are PostgreSQL's")
def test_the_planner_knows_how_status_stage_and_agencies_go_together(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT stxname FROM pg_statistic_ext WHERE stxrelid = 'dossiers_dossier'::regclass")
        names = {row[0] for row in cursor.fetchall()}
    assert {"dossier_status_stage_stats", "dossier_returning_status_stats"} <= names


@pytest.mark.skipif(connection.vendor != "postgresql", reason="query plans are PostgreSQL's")
@pytest.mark.parametrize("arms_per_agency", [True, False], ids=["few agencies", "many agencies"])
def test_the_handover_arm_reads_only_dossiers_being_handed_over(office, monkeypatch, arms_per_agency):
    """The "waiting" arm of the hand-overs to accept (status 4, stage handover) reads the partial
    index of the dossiers being handed over (`dossier_handover_idx`), not every dossier in
    processing of the agencies, which the status index would walk and filter (issue 20: 35 ms of
    a province-wide officer's page at 100,000 dossiers, with no hand-over in the queue)."""
    if not arms_per_agency:
        monkeypatch.setattr(selectors, "AGENCY_ARMS_MAX", 0)  # one arm per status, agencies as a filter
    # Dossiers in processing (status 4, like a hand-over) and none handed over, as in the bench
    # data; ANALYZE (it counts this transaction's rows) so the planner knows, as it would at scale.
    for _ in range(20):
        office.act(office.receive(now=MONDAY)[0], "assign", now=MONDAY)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE dossiers_dossier")
    handover = [(status, stage) for status, stage in selectors.waiting_scopes(office.specialist) if stage == "handover"]
    assert handover, selectors.waiting_scopes(office.specialist)
    arms = [arm for arm in selectors.queue_arms(office.specialist, "waiting", MONDAY) if "handover" in str(arm).lower()]
    assert arms
    for arm in arms:
        sql, params = selectors._arm_select(arm, 26)
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_bitmapscan = off")
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "dossier_handover_idx" in plan, plan
        assert "Sort" not in plan, plan


def test_the_tab_counts_are_kept_a_while_and_the_officers_own_action_recounts_them(
    office, settings, django_capture_on_commit_callbacks
):
    """Issue 20: the workspace's tab counts come from the cache for QUEUE_COUNTS_CACHE_SECONDS (no
    query); another officer's action shows when they expire, the officer's own action at once."""
    settings.QUEUE_COUNTS_CACHE_SECONDS = 30
    for user in (office.reception, office.specialist):
        selectors.forget_queue_counts(user.pk)  # the cache outlives earlier tests' rows
    office.receive(now=MONDAY)
    first = selectors.cached_queue_counts(office.specialist, MONDAY)
    with CaptureQueriesContext(connection) as queries:
        assert selectors.cached_queue_counts(office.specialist, MONDAY) == first
    assert len(queries.captured_queries) == 0
    # The desk assigns a dossier to the specialist: the specialist's tabs lag until they expire.
    with django_capture_on_commit_callbacks(execute=True):
        office.act(office.receive(now=MONDAY)[0], "assign", now=MONDAY)
    assert selectors.cached_queue_counts(office.specialist, MONDAY) == first
    assert queue_counts(office.specialist, MONDAY) != first
    selectors.forget_queue_counts(office.specialist.pk)  # what the expiry does
    assert selectors.cached_queue_counts(office.specialist, MONDAY) == queue_counts(office.specialist, MONDAY)
    # The desk's own action recounts the desk's tabs once it is committed.
    before = selectors.cached_queue_counts(office.reception, MONDAY)
    with django_capture_on_commit_callbacks(execute=True):
        office.receive(now=MONDAY)
    assert selectors.cached_queue_counts(office.reception, MONDAY) == queue_counts(office.reception, MONDAY) != before
