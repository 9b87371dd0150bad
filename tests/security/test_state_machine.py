"""Random lifecycles (issue 8, item 2): a Hypothesis state machine drives dossiers of two offices
through every workflow action, taken by every role of both offices with random parameters, while
a clock moves forward by random working and non-working intervals (`now=` is passed to the
services). After every step the invariants of DESIGN.md §4 are checked:

- a successful action started from a (status, stage) the table allows, by an actor holding one of
  the (role, agency) pairs of `workflow.actors_for`, and appended exactly one event recording the
  before/after status and stage;
- `available_actions()` agrees with `dossier_act()`: an offered action never meets a 409/403, an
  action not offered always raises;
- a refused action (WorkflowConflict, PermissionDenied, ActionInputError) changed nothing;
- `due_at` never moves backwards, except when the processing period restarts from zero after a
  supplement (Art. 19.5), where it is exactly the deadline engine's date counted from that moment;
  an extension moves it strictly later, keeps the original date and happens at most once; the end
  of a financial-obligation pause moves it by exactly the paused working time;
- every event that closes a step carries the label `judge(event.created_at, event.step_due_at)`;
- the event chain of each dossier is continuous (each event starts where the previous one ended).
"""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from accounts import roles as permissions
from dossiers import workflow
from dossiers.models import Channel, Dossier, judge
from dossiers.services import ActionInputError, WorkflowConflict, available_actions, compute_due, dossier_act
from procedures import deadlines
from tests.factories import Office, vn

ROLES = ("reception", "specialist", "leader", "supervisor")
STATS = {"lifecycles": 0, "steps": 0, "actions_applied": 0, "actions_refused": 0, "clock_moves": 0, "dossiers": 0}
pytestmark = [pytest.mark.django_db, pytest.mark.slow]

# Clock moves: minutes inside a working session, hours (crossing lunch and evenings), whole days
# (weekends and holidays), up to several weeks (past the 15-day supplement limit).
CLOCK_MOVES = st.one_of(
    st.integers(1, 90).map(lambda m: timedelta(minutes=m)),
    st.integers(1, 16).map(lambda h: timedelta(hours=h)),
    st.integers(1, 6).map(lambda d: timedelta(days=d)),
    st.integers(7, 25).map(lambda d: timedelta(days=d)),
)


def fingerprint(dossier):
    fresh = Dossier.objects.get(pk=dossier.pk)
    return {
        "status": fresh.status,
        "stage": fresh.stage,
        "due_at": fresh.due_at,
        "original_due_at": fresh.original_due_at,
        "step_due_at": fresh.step_due_at,
        "received_at": fresh.received_at,
        "finished_at": fresh.finished_at,
        "assignee": fresh.assignee_id,
        "supplement_requests": fresh.supplement_requests,
        "events": fresh.events.count(),
        "pauses": fresh.pauses.count(),
        "open_pauses": fresh.pauses.filter(ended_at__isnull=True).count(),
    }


class DossierLifecycles(RuleBasedStateMachine):
    offices = None  # set by the test: (own, other)

    @initialize(
        start=st.datetimes(
            min_value=vn(2026, 1, 2, 0, 0).replace(tzinfo=None), max_value=vn(2026, 12, 20).replace(tzinfo=None)
        ),
        channel=st.sampled_from(list(Channel.values)),
        incomplete=st.booleans(),
    )
    def start(self, start, channel, incomplete):
        STATS["lifecycles"] += 1
        self.now = start.replace(tzinfo=vn(2026, 1, 1).tzinfo)
        self.dossiers = []
        self.receive(channel, incomplete, 0)

    @rule(channel=st.sampled_from(list(Channel.values)), incomplete=st.booleans(), office=st.integers(0, 1))
    def receive(self, channel, incomplete, office):
        if len(self.dossiers) >= 4:
            return
        dossier, _pin = self.offices[office].receive(
            now=self.now, channel=channel, missing_documents=["Giấy chứng sinh"] if incomplete else None
        )
        STATS["dossiers"] += 1
        self.dossiers.append(dossier)

    @rule(delta=CLOCK_MOVES)
    def move_clock(self, delta):
        STATS["clock_moves"] += 1
        self.now += delta

    @rule(
        index=st.integers(0, 3),
        action=st.sampled_from(sorted(workflow.ACTIONS)),
        role=st.sampled_from(ROLES),
        office=st.integers(0, 1),
        comment=st.sampled_from(["", "Lý do: thiếu giấy tờ"]),
        missing=st.sampled_from([[], ["Giấy chứng sinh", "Tờ khai"]]),
        assignee=st.sampled_from(["", "own-specialist", "other-specialist", "khong-ton-tai"]),
        new_due_days=st.integers(-3, 30),
        collected_by=st.sampled_from(["", "Nguyễn Văn An"]),
        method=st.sampled_from(["in_person", "post", "bang-bo-cau"]),
    )
    def act(self, index, action, role, office, comment, missing, assignee, new_due_days, collected_by, method):
        dossier = Dossier.objects.get(pk=self.dossiers[index % len(self.dossiers)].pk)
        actor = getattr(self.offices[office], role)
        self.attempt(dossier, actor, action, role, comment, missing, assignee, new_due_days, collected_by, method)

    @rule(
        data=st.data(),
        comment=st.sampled_from(["", "Lý do: thiếu giấy tờ", "Đồng ý"]),
        missing=st.sampled_from([[], ["Giấy chứng sinh"]]),
        assignee=st.sampled_from(["", "own-specialist", "khong-ton-tai"]),
        new_due_days=st.integers(-1, 30),
        collected_by=st.sampled_from(["", "Nguyễn Văn An"]),
        method=st.sampled_from(["in_person", "post"]),
    )
    def act_offered(self, data, comment, missing, assignee, new_due_days, collected_by, method):
        """An action some officer is offered right now (so lifecycles get far)."""
        choices = []
        for dossier in Dossier.objects.filter(pk__in=[d.pk for d in self.dossiers]).order_by("pk"):
            for office in self.offices:
                for role in ROLES:
                    actor = getattr(office, role)
                    choices += [(dossier, actor, role, a) for a in available_actions(actor, dossier, now=self.now)]
        if not choices:
            return
        dossier, actor, role, action = data.draw(st.sampled_from(choices))
        self.attempt(dossier, actor, action, role, comment, missing, assignee, new_due_days, collected_by, method)

    def attempt(self, dossier, actor, action, role, comment, missing, assignee, new_due_days, collected_by, method):
        STATS["steps"] += 1
        spec = workflow.ACTIONS[action]
        offered = action in available_actions(actor, dossier, now=self.now)
        names = {"own-specialist": self.offices[0].specialist, "other-specialist": self.offices[1].specialist}
        values = {
            "missing_documents": missing,
            "assignee": names[assignee].username if assignee in names else assignee,
            "result": "Cấp giấy khai sinh",
            "new_due_at": (self.now + timedelta(days=new_due_days)).date().isoformat(),
            "collected_by": collected_by,
            "method": method,
            "result_form": "paper",
            "documents": [],
            # Inter-agency routing: the other office's opinion (its own: a 400), the tax office's notice.
            "agencies": [self.offices[1].agency.code],
            "days": "2",
            "consultation": "",
            "tax_agency": "",
            "amount": "150.000",
            "notice_number": "TB-01",
        }
        params = {name: values[name] for name in spec.params}
        before = fingerprint(dossier)
        open_pause = dossier.pauses.filter(ended_at__isnull=True).first()
        try:
            dossier_act(dossier=dossier, actor=actor, action=action, comment=comment, now=self.now, **params)
        except (WorkflowConflict, PermissionDenied, ActionInputError) as exc:
            STATS["actions_refused"] += 1
            assert fingerprint(dossier) == before, f"refused {action} changed the dossier"
            assert not (offered and isinstance(exc, (WorkflowConflict, PermissionDenied))), (
                f"{action} was offered to {role} but refused: {exc}"
            )
            return
        STATS["actions_applied"] += 1
        assert offered, f"{action} by {role} succeeded although available_actions() did not offer it"
        after = fingerprint(dossier)
        fresh = Dossier.objects.get(pk=dossier.pk)
        # Only allowed transitions, by an allowed actor.
        assert (before["status"], before["stage"]) in spec.sources
        if spec.scope in workflow.CONSULTED_SCOPES:
            # The answer of a consulted agency: the request it answered was addressed to it.
            assert fresh.consultations.filter(answered_by=actor, answered_at=self.now).exists()
        else:
            assert permissions.may_take(actor, fresh, workflow.actors_for(spec, before["stage"]))
        # Exactly one event, recording the change.
        assert after["events"] == before["events"] + 1
        event = fresh.events.order_by("-created_at", "-id").first()
        assert event.action == action and event.created_at == self.now and event.actor == actor
        assert (event.from_status, event.from_stage) == (before["status"], before["stage"])
        assert (event.to_status, event.to_stage) == (after["status"], after["stage"])
        if spec.target is not None and action != "supplement_received":
            assert after["status"] == spec.target
        if spec.target_stage is not None:
            assert after["stage"] == spec.target_stage
        # Deadlines.
        old, new = before["due_at"], after["due_at"]
        if action == "extend":
            assert before["original_due_at"] is None and after["original_due_at"] == old
            assert new > old
        else:
            assert after["original_due_at"] == before["original_due_at"]
        if action == "supplement_received" or (action == "receive" and old is None):
            assert new == compute_due(fresh, self.now), "the period must restart from this moment"
        elif action == "obligation_fulfilled":
            minutes = deadlines.working_minutes_between(open_pause.started_at, self.now) if open_pause else 0
            assert new == (deadlines.add_working_minutes(old, minutes) if old else old)
            assert old is None or new >= old
        elif action != "extend":
            assert new == old, f"{action} moved the due date"
        # Step label.
        if event.step_due_at is not None:
            assert event.step_outcome == judge(event.created_at, event.step_due_at)
        else:
            assert event.step_outcome == ""

    @invariant()
    def event_chains_are_continuous(self):
        for dossier in getattr(self, "dossiers", []):
            fresh = Dossier.objects.get(pk=dossier.pk)
            events = list(fresh.events.exclude(action="attach").order_by("created_at", "id"))
            assert events[0].from_status is None
            for previous, event in zip(events, events[1:], strict=False):
                assert event.from_status == previous.to_status and event.from_stage == previous.to_stage
                assert event.created_at >= previous.created_at
            assert (events[-1].to_status, events[-1].to_stage) == (fresh.status, fresh.stage)
            assert fresh.supplement_requests == sum(e.action == "request_supplement" for e in events)
            if not fresh.is_open:
                assert fresh.stage in ("closed", "return")


def test_random_lifecycles_keep_the_workflow_invariants(db):
    DossierLifecycles.offices = (Office(code="000.55.66.H56"), Office(code="000.77.88.H56"))
    for key in STATS:
        STATS[key] = 0
    run_state_machine_as_test(
        DossierLifecycles,
        settings=settings(
            max_examples=40,
            stateful_step_count=30,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    print(f"\nstate machine: {STATS}")
    assert STATS["lifecycles"] >= 40
    assert STATS["actions_applied"] >= 20 and STATS["actions_refused"] >= 20
