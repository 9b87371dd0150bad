"""Outbound sync with the national portal: rows written inside the transition, sent in order over
real HTTP to the sandbox (a live server), with its faults; then the reconciliation."""

import json
import socket
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from dossiers.models import DossierEvent
from interop import sync
from interop.models import SyncItem, SyncState
from interop.reconcile import reconcile
from interop.sandbox.models import SandboxDossier, SandboxFaults, SandboxProgress
from tests.factories import Office


def lifecycle(office, n):
    """n dossiers through 5 transitions each: received, assigned, proposed, approved, returned."""
    for _ in range(n):
        dossier, _pin = office.receive()
        yield dossier
        office.act(dossier, "assign")
        yield dossier
        office.act(dossier, "propose_result", result="Cấp giấy khai sinh")
        yield dossier
        office.act(dossier, "approve")
        yield dossier
        office.act(dossier, "return_result", collected_by="Nguyễn Văn An", method="in_person")
        yield dossier


def drain(now, passes=40):
    """Send until nothing is left, moving the clock past every back-off."""
    for _ in range(passes):
        now += timedelta(hours=2)
        sync.send_pending(now)
        if not sync.unsent().exists():
            return now
    return now


@pytest.mark.slow
def test_a_burst_of_500_transitions_against_a_faulty_portal_ends_in_sync(sandbox, settings):
    """30 % of calls fail (500), some time out after doing the work, some are delivered twice or
    applied out of order; after recovery nothing is mismatched or failed and the national side
    holds exactly one progress entry per event."""
    settings.DVCQG_TIMEOUT = 0.8
    sandbox.faults(fail_rate=0.3, timeout_rate=0.02, delay_seconds=1.2, duplicate_rate=0.1, reorder_rate=0.1)
    office = Office()
    now = timezone.now()
    for n, _dossier in enumerate(lifecycle(office, 100), start=1):
        if n % 50 == 0:
            now += timedelta(minutes=30)
            sync.send_pending(now)
    assert SyncItem.objects.count() == 500
    faults = SandboxFaults.get()
    assert faults.faults > 50  # the faults did happen

    sandbox.faults()  # recovery
    drain(now)

    report = reconcile().as_dict()
    assert report == {
        "in_sync": 100,
        "pending": 0,
        "failed": 0,
        "mismatched": 0,
        "mismatched_codes": [],
        "problems": {},
    }
    keys = set(SyncItem.objects.values_list("key", flat=True))
    held = list(SandboxProgress.objects.values_list("key", flat=True))
    assert len(held) == len(set(held)) == 500 and set(held) == keys
    assert sum(SandboxProgress.objects.values_list("repeats", flat=True)) > 0  # repeats came and were dropped
    assert set(SandboxDossier.objects.values_list("status", flat=True)) == {"10"}


def test_sync_rows_are_written_in_the_transition_and_no_network_call_happens_there(transactional_db, settings):
    """The portal is "down" (a socket that accepts and closes): transitions write one row per event
    and never connect; only the sender does, and its failure is kept apart from the dossier."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted = []

    def serve():
        while True:
            try:
                conn, _addr = listener.accept()
            except OSError:
                return
            accepted.append(1)
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    settings.DVCQG_URL = f"http://127.0.0.1:{listener.getsockname()[1]}/dvcqg"
    settings.DVCQG_TIMEOUT = 1
    try:
        office = Office()
        dossier, _pin = office.receive()
        office.act(dossier, "assign")
        office.act(dossier, "propose_result", result="Cấp giấy khai sinh")
        assert accepted == []  # nothing left the process during the transitions
        rows = list(SyncItem.objects.filter(dossier=dossier).order_by("id"))
        events = list(DossierEvent.objects.filter(dossier=dossier).exclude(action="attach").order_by("id"))
        assert [row.event_id for row in rows] == [event.pk for event in events]
        assert all(row.state == SyncState.PENDING for row in rows)

        outcome = sync.send_pending()
        assert accepted  # the sender, and only it, called the portal
        assert outcome.sent == 0 and outcome.retried == 1
        first, *later = SyncItem.objects.filter(dossier=dossier).order_by("id")
        assert first.attempts == 1 and first.last_error and first.next_attempt_at > timezone.now()
        assert all(row.attempts == 0 for row in later)  # held back behind the first: order kept
        dossier.refresh_from_db()
        assert dossier.status == 4  # the dossier's status is not the sync's
    finally:
        listener.close()


def test_rows_that_give_up_are_failed_shown_and_retried(sandbox, settings, client):
    settings.DVCQG_MAX_ATTEMPTS = 2
    sandbox.faults(down=True)
    office = Office()
    dossier, _pin = office.receive()
    now = timezone.now()
    sync.send_pending(now)
    sync.send_pending(now + timedelta(hours=1))
    row = SyncItem.objects.get(dossier=dossier)
    assert row.state == SyncState.FAILED and "503" in row.last_error

    client.force_login(office.reception)
    page = client.get("/can-bo/dong-bo-dvcqg/")
    assert dossier.code in page.content.decode()
    detail = client.get(dossier.get_absolute_url()).content.decode()
    assert "503" in detail

    sandbox.faults()
    assert client.post(f"/can-bo/ho-so/{dossier.code}/dong-bo-lai/").status_code == 302
    assert sync.send_pending().sent == 1
    assert reconcile().as_dict()["in_sync"] == 1


def test_reconcile_command_reports_mismatches_and_exits_non_zero(sandbox, capsys):
    office = Office()
    dossier, _pin = office.receive()
    office.act(dossier, "assign")
    sync.send_pending()
    call_command("dvcqg_reconcile", "--json")
    assert json.loads(capsys.readouterr().out)["in_sync"] == 1

    drifted = SandboxDossier.objects.get(national_code=dossier.code)  # the portal's copy drifted
    drifted.data = {**drifted.data, "TrangThaiHoSo": "3"}
    drifted.save()
    with pytest.raises(SystemExit) as exit_info:
        call_command("dvcqg_reconcile", "--json")
    assert exit_info.value.code == 1
    out = json.loads(capsys.readouterr().out)
    assert out["mismatched"] == 1 and out["mismatched_codes"] == [dossier.code]
    assert {"in_sync", "pending", "failed", "mismatched"} <= set(out)


def test_interop_listens_to_the_lifecycle_through_the_documented_hook():
    from dossiers import signals
    from dossiers.models import Dossier

    names = {f"{r.__module__}.{r.__qualname__}" for r in signals.dossier_transition._live_receivers(Dossier)[0]}
    assert "interop.outbox.on_transition" in names
    assert "interop.outbox.on_transition" in signals.__doc__
