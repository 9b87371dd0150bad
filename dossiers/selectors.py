"""Reads for the officer workspace: the queues and keyset pagination.

Every queue is a filter of `Dossier.objects.visible_to(user)` (the one scoping rule). "Waiting
for me" is derived from the workflow table, so it can never disagree with the actions the
dossier page offers. Lists are ordered by (due_at, id), dossiers without a due date last, and
paginated by keyset: a page costs one query whatever the size of the table, and there is no
COUNT(*) anywhere.
"""

import base64
import binascii
from datetime import datetime

from django.db.models import F, Q
from django.utils import timezone

from procedures import deadlines
from procedures.models import Role

from . import permissions, workflow
from .models import PAUSED_STATUSES, Dossier, Stage, Status

QUEUES = ("waiting", "mine", "due_soon", "overdue", "supplement")
DEFAULT_QUEUE = "waiting"
PAGE_SIZE = 25

# The actions that move a dossier on to its next step. A dossier is "waiting for" whoever may
# take one of them now; optional actions (extend, reassign, withdraw, stop…) do not make a
# dossier wait for someone, and paused dossiers wait for the applicant (see the "supplement" queue).
WAITING_ACTIONS = ("receive", "assign", "propose_result", "approve", "return_result")

# What the templates touch on a list row: no query per row.
LIST_RELATED = ("procedure", "receiving_agency", "competent_agency", "returning_agency", "assignee")


class InvalidCursor(ValueError):
    """A pagination cursor that was not produced by `keyset_page` (HTTP 400)."""


def visible(user):
    return Dossier.objects.visible_to(user).select_related(*LIST_RELATED)


def waiting_filter(user):
    """Q of the dossiers whose (status, stage) lets one of the user's (role, agency) pairs take a
    `WAITING_ACTIONS` action, or None when there are none (e.g. a supervisor)."""
    roles = permissions.user_roles(user)
    condition = None
    for name in WAITING_ACTIONS:
        action = workflow.ACTIONS[name]
        for status, stage in sorted(action.sources):
            for role, scope in workflow.actors_for(action, stage):
                agency_ids = sorted(agency_id for r, agency_id in roles if r == role)
                if not agency_ids:
                    continue
                part = Q(status=status, stage=stage, **{f"{scope}_agency_id__in": agency_ids})
                condition = part if condition is None else condition | part
    return condition


def due_soon_end(now, calendar=None):
    """The moment one working day (the office sessions of one day) after `now`."""
    calendar = calendar or deadlines.get_calendar()
    day_minutes = sum(
        (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute) for start, end in calendar.sessions
    )
    return deadlines.add_working_minutes(now, day_minutes, calendar=calendar)


def filter_queue(queryset, user, name, now=None):
    """Apply queue `name` to a queryset that is already scoped to `user`."""
    now = now or timezone.now()
    if name == "mine":
        return queryset.open().filter(assignee=user)
    if name == "waiting":
        condition = waiting_filter(user)
        return queryset.filter(condition) if condition is not None else queryset.none()
    if name == "due_soon":
        # The clock stands still while a dossier is paused: its due date is not "soon".
        return queryset.due_within(now, due_soon_end(now)).exclude(status__in=PAUSED_STATUSES)
    if name == "overdue":
        return queryset.overdue(now)
    if name == "supplement":
        return queryset.filter(status=Status.AWAITING_SUPPLEMENT)
    raise ValueError(f"Unknown queue {name!r}; expected one of {', '.join(QUEUES)}.")


def queue(user, name, now=None):
    """The dossiers of queue `name` for `user`, within `visible_to(user)`, in page order."""
    return filter_queue(visible(user), user, name, now)


def approvals(user):
    """Dossiers awaiting the approval of one of the user's leader agencies."""
    agency_ids = permissions.agencies_with_role(user, Role.LEADER)
    return visible(user).filter(status=Status.PROCESSING, stage=Stage.APPROVAL, competent_agency_id__in=agency_ids)


def queue_counts(user, now=None, cap=99):
    """{queue name: number of dossiers, at most cap + 1} — one small LIMITed query per queue,
    never a COUNT(*) over the table. The template shows "99+" when the cap is exceeded."""
    now = now or timezone.now()
    base = Dossier.objects.visible_to(user).order_by()
    return {name: len(filter_queue(base, user, name, now).values_list("pk", flat=True)[: cap + 1]) for name in QUEUES}


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
    `(items, next_cursor)`; next_cursor is None on the last page. One query: one row more than
    the page is fetched to know whether another page follows. Raises InvalidCursor."""
    queryset = keyset_order(queryset)
    if after:
        due_at, pk = decode_cursor(after)
        if due_at is None:
            queryset = queryset.filter(due_at__isnull=True, id__gt=pk)
        else:
            queryset = queryset.filter(Q(due_at__gt=due_at) | Q(due_at=due_at, id__gt=pk) | Q(due_at__isnull=True))
    rows = list(queryset[: size + 1])
    items = rows[:size]
    next_cursor = encode_cursor(items[-1].due_at, items[-1].pk) if len(rows) > size else None
    return items, next_cursor
