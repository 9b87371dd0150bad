"""Reads for the officer workspace: the queues and keyset pagination.

Every queue is a filter of `Dossier.objects.visible_to(user)` (the one scoping rule). "Waiting
for me" is derived from the workflow table, so it can never disagree with the actions the
dossier page offers. Lists are ordered by (due_at, id), dossiers without a due date last, and
paginated by keyset: a page costs two queries whatever the size of the table, and there is no
COUNT(*) over the table anywhere.

How a page stays cheap with a million dossiers: a queue is also described as a list of disjoint
"arms" (`queue_arms`), each an equality on one agency column (or on the assignee) and one status,
which an index keyed by (that column, status, due_at, id) returns already in page order. A page
reads the first rows of each arm in that order (at most a page per arm), keeps the first page of
them, then loads those rows with the full queue filter: the cost follows the page size, not the
number of dossiers in the queue. Users with many agencies get one arm per status with the agency
list as a filter, read through the (status, due_at, id) index instead.
"""

import base64
import binascii
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import F, Q
from django.utils import timezone

from accounts import roles as permissions
from procedures import deadlines
from procedures.models import Role

from . import policy, workflow
from .models import (
    OPEN_STATUSES,
    RUNNING_STATUSES,
    Consultation,
    Dossier,
    Stage,
    Status,
    participation_q,
    scope_q,
)

QUEUES = ("waiting", "mine", "due_soon", "overdue", "supplement")
DEFAULT_QUEUE = "waiting"
PAGE_SIZE = 25

# What the templates touch on a list row: no query per row.
LIST_RELATED = ("procedure", "receiving_agency", "competent_agency", "returning_agency", "handling_agency", "assignee")


class InvalidCursor(ValueError):
    """A pagination cursor that was not produced by `keyset_page` (HTTP 400)."""


# Up to this many agencies in one agency column, a queue gets one arm per agency (an exact range
# of the (agency, status, due_at, id) index each); above, one arm per status with the agency list
# as a filter, read in order through the (status, due_at, id) index.
AGENCY_ARMS_MAX = 3

AGENCY_COLUMNS = ("receiving", "competent", "returning")


def visible(user):
    return Dossier.objects.visible_to(user).select_related(*LIST_RELATED)


def waiting_scopes(user):
    """{(status, stage): {agency column: agency ids}}: the (status, stage) pairs in which one of
    the user's (role, agency) pairs may take an awaited action (`Action.awaited`), and where.
    Paused dossiers wait for the applicant (see the "supplement" queue)."""
    roles = permissions.user_roles(user)
    scopes = {}
    for name in workflow.AWAITED_ACTIONS:
        action = workflow.ACTIONS[name]
        for status, stage in sorted(action.sources):
            for role, scope in workflow.actors_for(action, stage):
                agency_ids = {agency_id for r, agency_id in roles if r == role}
                if agency_ids:
                    scopes.setdefault((status, stage), {}).setdefault(scope, set()).update(agency_ids)
    return scopes


def waiting_filter(user):
    """Q of the dossiers whose (status, stage) lets one of the user's (role, agency) pairs take a
    awaited action, or None when there are none (e.g. a supervisor). The workspace's "Waiting for
    me" tab and the morning digest both use it."""
    condition = None
    for (status, stage), columns in sorted(waiting_scopes(user).items()):
        for column, agency_ids in sorted(columns.items()):
            part = Q(status=status, stage=stage, **{f"{column}_agency_id__in": sorted(agency_ids)})
            condition = part if condition is None else condition | part
    return condition


def due_soon_end(now, calendar=None):
    """The end of the "due soon" window at `now` (`DossierQuerySet.due_soon`), with the reminder
    policy's number of working days."""
    return deadlines.due_soon_end(now, policy.due_soon_working_days(), calendar)


def filter_queue(queryset, user, name, now=None, *, soon_end=None):
    """Apply queue `name` to a queryset that is already scoped to `user`."""
    now = now or timezone.now()
    if name == "mine":
        return queryset.open().filter(assignee=user)
    if name == "waiting":
        condition = waiting_filter(user)
        return queryset.filter(condition) if condition is not None else queryset.none()
    if name == "due_soon":
        # The clock stands still while a dossier is paused: its due date is not "soon".
        return queryset.due_soon(now, end=soon_end)
    if name == "overdue":
        return queryset.overdue(now)
    if name == "supplement":
        return queryset.filter(status=Status.AWAITING_SUPPLEMENT)
    raise ValueError(f"Unknown queue {name!r}; expected one of {', '.join(QUEUES)}.")


# --- Arms: a queue as disjoint index ranges ---------------------------------------------------


def column_arms(condition, columns):
    """Arms of `condition` for the dossiers whose agency in one of `columns` ([(agency column,
    agency ids)]) is listed. A dossier may match several arms (received and handled by the same
    agency): `arms_sql` drops the repeats, which come out next to each other in page order."""
    arms = []
    for column, agency_ids in columns:
        ids = sorted(agency_ids)
        if not ids:
            continue
        if len(ids) <= AGENCY_ARMS_MAX:
            arms.extend(condition & Q(**{f"{column}_agency_id": agency_id}) for agency_id in ids)
        else:
            arms.append(condition & Q(**{f"{column}_agency_id__in": ids}))
    return arms


def visibility_q(agency_ids):
    """`visible_to` as a Q over the agency ids of `visible_agency_ids` (None: every dossier)."""
    if agency_ids is None:
        return Q()
    return scope_q(agency_ids)


def visible_arms(user, statuses, condition=None):
    """Arms of the visible dossiers in `statuses` (one status per arm) matching `condition`: one
    per (agency column, agency, status) for a few agencies, else one per status."""
    agency_ids = permissions.visible_agency_ids(user)
    arms = []
    for status in statuses:
        part = Q(status=status) if condition is None else Q(status=status) & condition
        if agency_ids is not None and len(agency_ids) <= AGENCY_ARMS_MAX:
            arms.extend(column_arms(part, [(column, agency_ids) for column in AGENCY_COLUMNS]))
            # Dossiers handed to (or consulted with) the user's agencies: one arm through the
            # participation table's (agency, dossier) index.
            arms.append(part & participation_q(agency_ids))
        elif agency_ids is None or agency_ids:
            arms.append(part & visibility_q(agency_ids))
    return arms


def queue_arms(user, name, now=None, *, soon_end=None):
    """Queue `name` as a list of Q "arms", each an equality on one status and one agency
    column or the assignee, so an index returns it in (due_at, id) order. Within
    `visible_to(user)`, their union is exactly `filter_queue(..., name)`; the arms of the
    "waiting" queue only list the user's own agencies, always visible to them."""
    now = now or timezone.now()
    if name == "mine":
        visibility = visibility_q(permissions.visible_agency_ids(user))
        return [Q(assignee_id=user.pk, status=status) & visibility for status in OPEN_STATUSES]
    if name == "waiting":
        arms = []
        for (status, stage), columns in sorted(waiting_scopes(user).items()):
            arms.extend(column_arms(Q(status=status, stage=stage), sorted(columns.items())))
        return arms
    if name == "due_soon":
        end = soon_end or due_soon_end(now)
        return visible_arms(user, RUNNING_STATUSES, Q(due_at__gte=now, due_at__lt=end))
    if name == "overdue":
        return visible_arms(user, RUNNING_STATUSES, Q(due_at__lt=now))
    if name == "supplement":
        return visible_arms(user, (Status.AWAITING_SUPPLEMENT,))
    raise ValueError(f"Unknown queue {name!r}; expected one of {', '.join(QUEUES)}.")


def with_arms(queryset, arms, loader=None):
    """Attach the arms to the queryset that `keyset_page` receives (they do not survive a clone:
    a queryset filtered further is paginated the plain way). `loader` — the user's visible
    dossiers, without the queue's filter — loads the rows of the ids the arms give: the arms
    already are the queue (a test checks that their union is exactly the queue), and compiling and
    planning the queue's whole filter again cost more than reading the page."""
    queryset.queue_arms = arms
    queryset.queue_loader = loader
    return queryset


# The lookups an arm may use, as SQL operators (see `_where`).
_OPERATORS = {"exact": "=", "gt": ">", "gte": ">=", "lt": "<"}


class _NotSimple(Exception):
    """A condition `_where` does not translate; the ORM compiles that arm instead."""


def _placeholder(value, params):
    """Integers (ids, statuses) are written into the SQL: a province-wide officer's arms repeat the
    same agency lists dozens of times, and binding hundreds of parameters on the client cost more
    than the query. `int()` of an int is the number's own digits, nothing else; every other value
    stays a parameter."""
    if type(value) is int:
        return str(int(value))
    params.append(value)
    return "%s"


def _where(condition, params):
    """SQL of a Q object over plain Dossier columns (exact, in, isnull, gt, gte, lt, AND / OR /
    NOT), appending its values to `params`, or _NotSimple. Arms are rebuilt for every page and
    every tab count, dozens per request for a province-wide officer: compiling each through the
    ORM's query machinery cost more than reading the rows."""
    parts = []
    for child in condition.children:
        if isinstance(child, Q):
            sql = _where(child, params)
        elif not isinstance(child, tuple):
            raise _NotSimple(child)  # an expression (the participation's EXISTS): the ORM compiles it
        else:
            name, value = child
            column, _sep, lookup = name.partition("__")
            field = Dossier._meta.get_field(column)
            if (field.is_relation and column != field.attname) or lookup not in ("", "isnull", "in", *_OPERATORS):
                raise _NotSimple(name)
            quoted = f'"{field.column}"'
            if lookup == "isnull":
                sql = f"{quoted} IS {'' if value else 'NOT '}NULL"
            elif lookup == "in":
                values = [field.get_db_prep_value(item, connection) for item in value]
                sql = f"{quoted} IN ({', '.join(_placeholder(v, params) for v in values)})" if values else "1 = 0"
            else:
                placeholder = _placeholder(field.get_db_prep_value(value, connection), params)
                sql = f"{quoted} {_OPERATORS[lookup or 'exact']} {placeholder}"
        parts.append(f"({sql})")
    if not parts:
        return "1 = 1"
    joined = f" {condition.connector} ".join(parts)
    return f"NOT ({joined})" if condition.negated else joined


def _page_order(prefix=""):
    """SQL of the page order, (due_at, id) with undated dossiers last, on columns `prefix`due_at
    and `prefix`id (the same order as `keyset_order`)."""
    due, pk = f"{prefix}due_at", f"{prefix}id"
    if connection.features.supports_order_by_nulls_modifier:
        return f"{due} ASC NULLS LAST, {pk} ASC"
    return f"{due} IS NULL, {due} ASC, {pk} ASC"


def _arm_select(condition, limit):
    """(sql, params): the ids and due dates of the first `limit` dossiers matching `condition`, in
    page order."""
    order = _page_order()
    params = []
    try:
        where = _where(condition, params)
    except _NotSimple:
        queryset = keyset_order(Dossier.objects.filter(condition)).values_list("id", "due_at")[:limit]
        return queryset.query.sql_with_params()
    table = connection.ops.quote_name(Dossier._meta.db_table)
    return f'SELECT "id", "due_at" FROM {table} WHERE {where} ORDER BY {order} LIMIT {int(limit)}', params  # noqa: S608


def arms_sql(arms, after, limit):
    """(sql, params) selecting the ids of the first `limit` dossiers of the arms' union after the
    keyset position `after` ((due_at, id) or None), in page order: the first `limit` rows of each
    arm (an index range in page order), then the first `limit` of those."""
    if after is None:
        windows = [Q()]
    elif after[0] is None:
        windows = [Q(due_at__isnull=True, id__gt=after[1])]
    else:
        due_at, pk = after
        # `due_at >= …` is the index range; the undated tail follows the dated dossiers.
        windows = [Q(due_at__gte=due_at) & (Q(due_at__gt=due_at) | Q(id__gt=pk)), Q(due_at__isnull=True)]
    parts, params = [], []
    for arm in arms:
        for window in windows:
            # Each arm is an ordered, LIMITed index range read on its own (a subquery with a LIMIT
            # is planned alone): at most `limit` rows per arm, whatever the size of the queue.
            sql, arm_params = _arm_select(arm & window, limit)
            parts.append(f"SELECT * FROM ({sql}) a{len(parts)}")  # noqa: S608 (compiled SQL)
            params.extend(arm_params)
    order = _page_order("u.")
    union = " UNION ALL ".join(parts)
    # Only compiled SQL and constants are joined here; every value stays a parameter.
    # DISTINCT: a dossier received and handled by the same agency comes out of two arms.
    sql = f"SELECT v.id FROM (SELECT DISTINCT u.due_at, u.id FROM ({union}) u ORDER BY {order} LIMIT {int(limit)}) v"  # noqa: S608
    return sql, params


def queue(user, name, now=None):
    """The dossiers of queue `name` for `user`, within `visible_to(user)`, in page order."""
    now = now or timezone.now()
    base = visible(user)
    soon_end = due_soon_end(now) if name == "due_soon" else None
    queryset = filter_queue(base, user, name, now, soon_end=soon_end)
    return with_arms(queryset, queue_arms(user, name, now, soon_end=soon_end), loader=base)


def approvals(user):
    """Dossiers awaiting the approval of one of the user's leader agencies."""
    agency_ids = permissions.agencies_with_role(user, Role.LEADER)
    base = visible(user)
    condition = Q(status=Status.PROCESSING, stage=Stage.APPROVAL)
    # The agency holding the approval step (the competent one, or a department a step was handed to).
    queryset = base.filter(condition, handling_agency_id__in=agency_ids)
    return with_arms(queryset, column_arms(condition, [("handling", agency_ids)]), loader=base)


# The consultations page lists at most this many answered requests (newest first).
ANSWERED_CONSULTATIONS = 25


def consultations_for(user, *, answered=False):
    """The requests for an opinion or a financial obligation's notice addressed to the agencies
    where `user` is a specialist or a leader (the ones who answer), on dossiers they see: open
    ones by deadline, or the latest answered ones (`ANSWERED_CONSULTATIONS`)."""
    agency_ids = sorted(
        {agency_id for role, agency_id in permissions.user_roles(user) if role in (Role.SPECIALIST, Role.LEADER)}
    )
    if not agency_ids:
        return Consultation.objects.none()
    queryset = Consultation.objects.filter(
        agency_id__in=agency_ids, dossier__in=Dossier.objects.visible_to(user).values("pk")
    ).select_related("dossier", "dossier__procedure", "agency", "requesting_agency", "answered_by")
    if answered:
        return queryset.filter(answered_at__isnull=False).order_by("-answered_at", "-pk")[:ANSWERED_CONSULTATIONS]
    return queryset.filter(answered_at__isnull=True).order_by("due_at", "pk")


def queue_counts(user, now=None, cap=99):
    """{queue name: number of dossiers, at most cap + 1} — one query for every queue, each count
    over at most cap + 1 ids read from the queue's arms, never a COUNT(*) over the table. The
    template shows "99+" when the cap is exceeded."""
    now = now or timezone.now()
    counts, selects, params = {}, [], []
    for name in QUEUES:
        arms = queue_arms(user, name, now)
        if not arms:
            counts[name] = 0
            continue
        sql, arm_params = arms_sql(arms, None, cap + 1)
        selects.append((name, f"(SELECT COUNT(*) FROM ({sql}) c)"))  # noqa: S608 (compiled SQL, parameters)
        params.extend(arm_params)
    if selects:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(sql for _name, sql in selects)}", params)
            row = cursor.fetchone()
        counts.update(zip([name for name, _sql in selects], row, strict=True))
    return {name: counts[name] for name in QUEUES}


def cached_queue_counts(user, now=None, cap=99):
    """`queue_counts`, kept QUEUE_COUNTS_CACHE_SECONDS per user (0: always counted). The tabs'
    numbers may lag that long behind other officers' actions; the list itself is always read
    live. Issue 20: planning the counts' dozens of arms took ~20 ms of PostgreSQL per page for a
    province-wide officer, more than the page's own rows."""
    seconds = settings.QUEUE_COUNTS_CACHE_SECONDS
    if seconds <= 0:
        return queue_counts(user, now, cap)
    key = f"queue-counts:{user.pk}:{cap}"
    counts = cache.get(key)
    if counts is None:
        counts = queue_counts(user, now, cap)
        cache.set(key, counts, seconds)
    return counts


def forget_queue_counts(user_id, cap=99):
    """Drop a user's cached tab counts (after their own action, so their tabs follow at once)."""
    if settings.QUEUE_COUNTS_CACHE_SECONDS > 0:
        cache.delete(f"queue-counts:{user_id}:{cap}")


# --- Keyset pagination ---------------------------------------------------------------------

_NULL = "-"


def encode_cursor(due_at, pk):
    raw = f"{due_at.isoformat() if due_at else _NULL}|{pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor):
    """(due_at or None, id) from a cursor; InvalidCursor when it is not one of ours."""
    try:
        text = str(cursor)
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        due_text, pk_text = raw.split("|")
        pk = int(pk_text)
        due_at = None if due_text == _NULL else datetime.fromisoformat(due_text)
    except (ValueError, TypeError, UnicodeDecodeError, binascii.Error) as exc:
        raise InvalidCursor(str(cursor)) from exc
    if pk < 1 or (due_at is not None and timezone.is_naive(due_at)):
        raise InvalidCursor(str(cursor))
    return due_at, pk


def keyset_order(queryset):
    return queryset.order_by(F("due_at").asc(nulls_last=True), "id")


def keyset_page(queryset, after=None, size=PAGE_SIZE):
    """One page of `queryset` ordered by (due_at, id), dossiers without a due date last.

    `after` is the cursor of the previous page (None for the first). Returns
    `(items, next_cursor)`; next_cursor is None on the last page. One row more than
    the page is fetched to know whether another page follows. Raises InvalidCursor.

    A queryset from `queue` or `approvals` carries its arms: the page's ids are then read from the
    arms in index order (see `arms_sql`, a first query) and the rows loaded, within the user's
    visible dossiers, by those ids (a second)."""
    position = decode_cursor(after) if after else None
    arms = getattr(queryset, "queue_arms", None)
    if arms is not None:
        if not arms:
            return [], None
        ids_sql, params = arms_sql(arms, position, size + 1)
        # Two small queries rather than one: planning the page's joins around the arms' union as a
        # sub-query cost several times their execution (7 ms against 2 ms for a province officer).
        with connection.cursor() as cursor:
            cursor.execute(ids_sql, params)
            ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            return [], None
        loader = getattr(queryset, "queue_loader", None)
        queryset = keyset_order(queryset if loader is None else loader).filter(pk__in=ids)
    else:
        queryset = keyset_order(queryset)
        if position is not None:
            due_at, pk = position
            if due_at is None:
                queryset = queryset.filter(due_at__isnull=True, id__gt=pk)
            else:
                queryset = queryset.filter(Q(due_at__gt=due_at) | Q(due_at=due_at, id__gt=pk) | Q(due_at__isnull=True))
    rows = list(queryset[: size + 1])
    items = rows[:size]
    next_cursor = encode_cursor(items[-1].due_at, items[-1].pk) if len(rows) > size else None
    return items, next_cursor
