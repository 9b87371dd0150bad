"""Sample dossiers for the demo: varied states through the real services, created once."""

import io
import re

import pytest
from django.utils import timezone, translation

from dossiers.demo import SAMPLE_NOTE, seed_sample_dossiers
from dossiers.models import Dossier, Stage, Status
from dossiers.services import available_actions
from procedures.models import Membership, Role
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_office(catalogue):
    """The demo officers of DESIGN.md §5 in the catalogue's commune."""
    users = {}
    for username, role in [
        ("tiepnhan", Role.RECEPTION),
        ("chuyenvien", Role.SPECIALIST),
        ("lanhdao", Role.LEADER),
        ("giamsat", Role.SUPERVISOR),
    ]:
        users[username] = make_user(username)
        Membership.objects.create(user=users[username], agency=catalogue.commune, role=role)
    return catalogue, users


def test_sample_dossiers_cover_the_states_a_demo_needs_and_are_created_once(demo_office):
    catalogue, users = demo_office
    out = io.StringIO()
    with translation.override("en"):
        created = seed_sample_dossiers(out)
    dossiers = list(Dossier.objects.filter(note=SAMPLE_NOTE))
    assert created == len(dossiers) >= 10
    assert all(d.receiving_agency == catalogue.commune for d in dossiers)

    states = {(d.status, d.stage) for d in dossiers}
    for state in [
        (Status.RECEIVED, Stage.INTAKE),
        (Status.SUBMITTED_ONLINE, Stage.INTAKE),
        (Status.PROCESSING, Stage.PROCESSING),
        (Status.PROCESSING, Stage.APPROVAL),
        (Status.AWAITING_SUPPLEMENT, Stage.INTAKE),
        (Status.AWAITING_OBLIGATION, Stage.PROCESSING),
        (Status.RESULT_READY, Stage.RETURN),
        (Status.RETURNED, Stage.CLOSED),
        (Status.REFUSED, Stage.CLOSED),
    ]:
        assert state in states, state
    now = timezone.now()
    assert sum(d.is_overdue(now) for d in dossiers) >= 1
    assert all(d.submitted_at < now for d in dossiers)
    assert len({d.submitted_at.date() for d in dossiers}) >= 4  # spread over several days
    # Every dossier has its audit trail, one event per service call.
    assert all(d.events.exists() for d in dossiers)

    # The leader has something to approve on the phone.
    waiting = [d for d in dossiers if d.stage == Stage.APPROVAL]
    assert waiting and all("approve" in available_actions(users["lanhdao"], d) for d in waiting)

    # The printed code and PIN open the public lookup.
    match = re.search(r"code (\S+) and PIN (\d{6})", out.getvalue())
    assert match, out.getvalue()
    shown = Dossier.objects.get(code=match.group(1))
    assert shown.status == Status.RECEIVED
    assert shown.check_pin(match.group(2))

    again = io.StringIO()
    with translation.override("en"):
        assert seed_sample_dossiers(again) == 0
    assert Dossier.objects.count() == len(dossiers)
    assert "already exist" in again.getvalue()
    # ... and the second run (make run's banner) shows the same code and PIN again.
    assert f"code {match.group(1)} and PIN {match.group(2)}" in again.getvalue()


def test_samples_seeded_before_the_pin_was_remembered_get_a_new_pin_shown(demo_office, settings, tmp_path):
    with translation.override("en"):
        seed_sample_dossiers(io.StringIO())
        settings.DEMO_SAMPLE_FILE = str(tmp_path / "missing" / "demo-sample.txt")
        again = io.StringIO()
        seed_sample_dossiers(again)

    match = re.search(r"code (\S+) and PIN (\d{6})", again.getvalue())
    assert match and Dossier.objects.get(code=match.group(1)).check_pin(match.group(2))


def test_sample_dossiers_are_skipped_without_the_demo_users(catalogue):
    out = io.StringIO()
    assert seed_sample_dossiers(out) == 0
    assert not Dossier.objects.exists()
    assert "tiepnhan" in out.getvalue()


def test_sample_dossiers_are_skipped_when_the_commune_has_no_procedure(demo_office):
    catalogue, _users = demo_office
    for procedure in [catalogue.birth, catalogue.birth_foreign, catalogue.birth_again, catalogue.marriage]:
        procedure.agencies.clear()
    catalogue.certified_copy.agencies.clear()
    out = io.StringIO()
    with translation.override("en"):
        assert seed_sample_dossiers(out) == 0
    assert not Dossier.objects.exists()
    assert "no published procedure" in out.getvalue()
