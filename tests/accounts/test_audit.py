"""The audit trail: who did what and when for logins, denied requests, admin changes and
transitions; append-only rows; hash chains that reveal tampering; no personal data in logs."""

import io
import logging
import threading
from datetime import timedelta

import pytest
import time_machine
from django.contrib.admin.models import LogEntry
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone

from accounts.models import AppendOnlyError, AuditEntry
from dossiers.models import Dossier, DossierEvent
from motcua.log_privacy import MaskPersonalDataFilter
from procedures.models import Field
from tests.factories import Office, api_token, make_user

PASSWORD = "motcua-demo"


@pytest.fixture
def office(db):
    return Office()


def verify():
    out, err = io.StringIO(), io.StringIO()
    call_command("verify_audit_chain", stdout=out, stderr=err)
    return out.getvalue()


def verify_fails():
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("verify_audit_chain", stdout=out, stderr=err)
    assert excinfo.value.returncode == 1
    return err.getvalue()


def raw_sql(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# --- Who, what, when -------------------------------------------------------------------------


def test_login_and_logout_are_recorded_with_who_where_and_when(client, office):
    client.post(reverse("login"), {"username": office.reception.username, "password": PASSWORD}, REMOTE_ADDR="10.1.2.3")
    client.post(reverse("logout"), REMOTE_ADDR="10.1.2.3")

    login, logout = AuditEntry.objects.order_by("id").filter(kind__in=["login", "logout"])
    assert (login.kind, login.user, login.ip_address, login.path) == (
        "login",
        office.reception,
        "10.1.2.3",
        "/dang-nhap/",
    )
    assert (logout.kind, logout.user) == ("logout", office.reception)
    assert login.created_at <= logout.created_at


def test_a_denied_page_is_recorded_without_its_query_string(client, office):
    client.force_login(office.specialist)  # not a reception officer

    response = client.get(reverse("dossiers:receive") + "?pin=123456")

    assert response.status_code == 403
    entry = AuditEntry.objects.get(kind="forbidden")
    assert (entry.user, entry.path, entry.method, entry.status_code) == (
        office.specialist,
        reverse("dossiers:receive"),
        "GET",
        403,
    )
    assert "123456" not in entry.path


def test_a_denied_api_call_is_recorded(client, office):
    outsider = make_user("nguoingoai")
    token = api_token(outsider)

    response = client.post(
        "/api/v1/dossiers/", {"procedure": office.procedure.code}, HTTP_AUTHORIZATION=f"Token {token}"
    )

    assert response.status_code == 403
    entry = AuditEntry.objects.get(kind="forbidden")
    assert (entry.user, entry.path, entry.method) == (outsider, "/api/v1/dossiers/", "POST")


def test_a_bad_api_token_is_recorded(client, db):
    response = client.get("/api/v1/dossiers/", HTTP_AUTHORIZATION="Token not-a-real-token")

    assert response.status_code == 401
    assert AuditEntry.objects.filter(kind="forbidden", status_code=401, user=None).exists()


def test_an_admin_change_is_recorded_and_chained(client, db):
    admin = make_user("quantri", is_staff=True, is_superuser=True)
    field = Field.objects.create(code="DD", name="Đất đai")
    client.force_login(admin)

    response = client.post(
        reverse("admin:procedures_field_change", args=[field.pk]), {"code": "DD", "name": "Đất đai (sửa)"}
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    log_entry = LogEntry.objects.get(object_id=str(field.pk))
    entry = AuditEntry.objects.get(kind="admin_change")
    assert entry.user == admin
    assert entry.data["log_entry_id"] == log_entry.pk
    assert entry.data["content_type"] == "procedures.field"
    assert "Đất đai (sửa)" in entry.data["object_repr"]
    assert "OK" in verify()


def test_every_transition_is_an_event_with_actor_action_and_time(office):
    dossier, _pin = office.receive()
    office.act(dossier, "assign")

    events = list(DossierEvent.objects.filter(dossier=dossier).order_by("id"))
    assert [(e.action, e.actor) for e in events][-1] == ("assign", office.reception)
    assert all(e.created_at for e in events)
    assert events[0].prev_hash == "" and all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))


# --- Append-only ---------------------------------------------------------------------------


def test_audit_entries_cannot_be_changed_or_deleted_through_the_orm(db):
    entry = AuditEntry.record(AuditEntry.Kind.LOGIN, username="someone")

    entry.username = "someone-else"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).update(username="x")
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.bulk_create([AuditEntry(kind="login")])
    assert AuditEntry.objects.get(pk=entry.pk).username == "someone"


def test_dossier_events_cannot_be_changed_or_deleted_through_the_orm(office):
    dossier, _pin = office.receive()
    event = dossier.events.first()

    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        DossierEvent.objects.filter(pk=event.pk).update(comment="x")
    with pytest.raises(TypeError):
        DossierEvent.objects.filter(pk=event.pk).delete()


def test_the_admin_shows_the_audit_logs_read_only(client, db):
    admin = make_user("quantri", is_staff=True, is_superuser=True)
    client.force_login(admin)
    entry = AuditEntry.record(AuditEntry.Kind.LOGIN, user=admin)
    LogEntry.objects.log_actions(
        user_id=admin.pk, queryset=[admin], action_flag=2, change_message="[]", single_object=True
    )
    log_entry = LogEntry.objects.first()

    for name, pk in (("accounts_auditentry", entry.pk), ("admin_logentry", log_entry.pk)):
        assert client.get(reverse(f"admin:{name}_changelist")).status_code == 200
        page = client.get(reverse(f"admin:{name}_change", args=[pk]))
        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode()
        assert client.post(reverse(f"admin:{name}_delete", args=[pk]), {"post": "yes"}).status_code == 403
        assert client.get(reverse(f"admin:{name}_add")).status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists() and LogEntry.objects.filter(pk=log_entry.pk).exists()


# --- Hash chains -----------------------------------------------------------------------------


def activity(client, office):
    client.post(reverse("login"), {"username": office.reception.username, "password": PASSWORD})
    client.post(reverse("login"), {"username": office.reception.username, "password": "wrong"})
    dossier, _pin = office.receive()
    office.act(dossier, "assign")
    office.act(dossier, "propose_result", result="Cấp giấy khai sinh")
    return dossier


def test_untouched_chains_verify(client, office):
    activity(client, office)

    output = verify()

    assert "OK" in output
    assert AuditEntry.objects.count() >= 2


def test_an_audit_entry_changed_with_raw_sql_is_named(client, office):
    activity(client, office)
    victim = AuditEntry.objects.order_by("id").first()
    table = AuditEntry._meta.db_table

    raw_sql(f"UPDATE {table} SET username = %s WHERE id = %s", ["innocent", victim.pk])  # noqa: S608

    assert f"entry {victim.pk} " in verify_fails()


def test_a_deleted_audit_entry_breaks_the_chain(client, office):
    activity(client, office)
    first, second, *_rest = AuditEntry.objects.order_by("id")
    table = AuditEntry._meta.db_table

    raw_sql(f"DELETE FROM {table} WHERE id = %s", [first.pk])  # noqa: S608

    assert f"entry {second.pk} " in verify_fails()


def test_a_dossier_event_changed_with_raw_sql_is_named(client, office):
    dossier = activity(client, office)
    victim = dossier.events.order_by("id")[1]
    table = DossierEvent._meta.db_table

    raw_sql(f"UPDATE {table} SET comment = %s WHERE id = %s", ["backdated", victim.pk])  # noqa: S608

    errors = verify_fails()
    assert f"event {victim.pk} of dossier {dossier.pk}" in errors


def test_a_deleted_dossier_event_breaks_its_dossier_chain(client, office):
    dossier = activity(client, office)
    first, second, *_rest = dossier.events.order_by("id")
    table = DossierEvent._meta.db_table

    raw_sql(f"DELETE FROM {table} WHERE id = %s", [first.pk])  # noqa: S608

    assert f"event {second.pk} of dossier {dossier.pk}" in verify_fails()


def test_the_heads_option_prints_each_chain_head(client, office):
    dossier = activity(client, office)

    output = io.StringIO()
    call_command("verify_audit_chain", "--heads", stdout=output)

    assert AuditEntry.objects.order_by("-id").first().hash in output.getvalue()
    assert dossier.events.order_by("-id").first().hash in output.getvalue()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)")
@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_keep_one_valid_chain():
    def writer(n):
        try:
            for i in range(10):
                AuditEntry.record(AuditEntry.Kind.FORBIDDEN, username=f"w{n}-{i}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert AuditEntry.objects.count() == 40
    assert len(set(AuditEntry.objects.values_list("prev_hash", flat=True))) == 40  # no fork
    assert "OK" in verify()


# --- No personal data in logs -----------------------------------------------------------------


@pytest.fixture
def captured_log():
    """What the configured log handlers write (with their filters), not pytest's own capture."""
    handlers = [
        h for h in logging.getLogger().handlers if any(isinstance(f, MaskPersonalDataFilter) for f in h.filters)
    ]
    assert handlers, "the console handler must carry the masking filter"
    buffer = io.StringIO()
    # The stream is swapped without `setStream`, which flushes the old one first: under
    # pytest-xdist the handler may hold a capture stream that pytest has already closed.
    previous = [h.stream for h in handlers]
    for handler in handlers:
        handler.stream = buffer
    root_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        logging.getLogger().setLevel(root_level)
        for handler, stream in zip(handlers, previous, strict=True):
            handler.stream = stream


def test_no_identity_number_phone_or_pin_reaches_the_logs(client, office, captured_log, settings):
    settings.SMS_BACKEND = "notifications.sms.ConsoleSMSBackend"
    token = api_token(office.reception)
    created = client.post(
        "/api/v1/dossiers/",
        {
            "procedure": office.procedure.code,
            "applicant_name": "Trần Thị Bình",
            "applicant_id_number": "036188001234",
            "applicant_phone": "0987654321",
            "applicant_email": "binh@example.com",
            "applicant_address": "Xóm 2",
            "channel": "in_person",
            "documents": [],
        },
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token}",
    )
    assert created.status_code == 201, created.content
    code, pin = created.json()["code"], created.json()["pin"]
    assert client.get("/api/v1/lookup/", {"code": code, "pin": pin}).status_code == 200
    assert client.get("/tra-cuu/", {"ma": code, "pin": pin}).status_code == 200
    client.get("/api/v1/lookup/", {"code": code, "pin": "000000"})
    from notifications.delivery import deliver_pending

    deliver_pending()
    # What runserver logs for every request, and an error that quotes a value.
    logging.getLogger("django.server").info('"GET /tra-cuu/?ma=%s&pin=%s HTTP/1.1" 200 1234', code, pin)
    logging.getLogger("dossiers").error("could not reach %s about %s", "0987654321", "036188001234")

    output = captured_log.getvalue()
    assert "could not reach" in output and code in output  # the log works, codes stay readable
    for secret in ("036188001234", "0987654321", "987654321", pin):
        assert secret not in output


def test_anonymous_denials_do_not_flood_the_audit_log(client, db):
    """Issue 13, finding 12: each anonymous denied request added an audit row under the global
    chain lock. Now one row per address and status per minute; logged-in users' denials all count."""
    for _ in range(50):
        assert client.get("/api/v1/dossiers/", HTTP_AUTHORIZATION="Token not-a-real-token").status_code == 401
    assert AuditEntry.objects.filter(kind="forbidden", status_code=401, user=None).count() == 1
    other = client.get("/api/v1/dossiers/", HTTP_AUTHORIZATION="Token nope", REMOTE_ADDR="10.9.9.9")
    assert other.status_code == 401
    assert AuditEntry.objects.filter(kind="forbidden", user=None).count() == 2
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        client.get("/api/v1/dossiers/", HTTP_AUTHORIZATION="Token not-a-real-token")
    assert AuditEntry.objects.filter(kind="forbidden", user=None).count() == 3


def test_every_denial_of_a_logged_in_user_is_recorded(client, office):
    outsider = make_user("nguoingoai2")
    token = api_token(outsider)
    for _ in range(3):
        client.post("/api/v1/dossiers/", {}, HTTP_AUTHORIZATION=f"Token {token}")
    assert AuditEntry.objects.filter(kind="forbidden", user=outsider).count() == 3


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("status", 9),
        ("stage", "closed"),
        ("due_at", "2030-01-01 00:00:00"),
        ("applicant_name", "Người Khác"),
        ("result_summary", "Cấp giấy (sửa)"),
    ],
)
def test_a_dossier_row_changed_with_raw_sql_is_named(client, office, column, value):
    """Issue 13, finding 8: a raw UPDATE of the dossier row went unnoticed (and the API served the
    forged state). The newest event vouches for the row's state."""
    dossier = activity(client, office)
    assert "OK" in verify()
    raw_sql(f"UPDATE {Dossier._meta.db_table} SET {column} = %s WHERE id = %s", [value, dossier.pk])  # noqa: S608

    assert f"dossier {dossier.pk} ({dossier.code}): the dossier row was changed outside the workflow" in verify_fails()


def test_deleting_the_newest_event_is_detected_without_saved_heads(client, office):
    """Issue 13, finding 8: deleting the newest event left a shorter valid chain."""
    dossier = activity(client, office)
    newest = dossier.events.order_by("-id").first()
    raw_sql(f"DELETE FROM {DossierEvent._meta.db_table} WHERE id = %s", [newest.pk])  # noqa: S608

    assert f"dossier {dossier.pk} ({dossier.code}): its newest events were deleted" in verify_fails()


def test_every_event_of_a_full_lifecycle_vouches_for_the_row(client, office):
    dossier, _pin = office.receive()
    for action, extra in (("assign", {}), ("propose_result", {"result": "Cấp giấy"}), ("approve", {})):
        office.act(dossier, action, **extra)
    dossier.refresh_from_db()
    events = list(dossier.events.order_by("id"))
    assert all(event.state_hash for event in events)
    assert dossier.chain_head == events[-1].hash
    assert "OK" in verify()
