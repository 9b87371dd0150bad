"""Delivering the outbox (dossiers/delivery.py) through the real e-mail backends and SMS
gateways (dossiers/mail.py, dossiers/sms.py), retries and back-off, and the admin pages for
notifications, templates and the reminder policy (dossiers/admin_notifications.py).

The HTTP SMS gateway is a real HTTP server on 127.0.0.1 started by the test."""

import json
import threading
import time
from datetime import timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection, connections
from django.urls import reverse

from notifications import delivery, mail
from notifications.models import Notification, NotificationChannel, NotificationTemplate, ReminderPolicy
from notifications.outbox import DEFAULT_TEXTS, default_text
from tests.factories import Office, vn

T = vn(2026, 3, 2, 9, 0)


class Gateway:
    """A tiny SMS gateway: records every request; answers `status` after `delay` seconds."""

    def __init__(self):
        self.requests = []
        self.status = 200
        self.delay = 0.0
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                gateway.requests.append({"headers": dict(self.headers), "json": body})
                time.sleep(gateway.delay)
                self.send_response(gateway.status)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/sms"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def keys(self):
        return [r["json"]["idempotency_key"] for r in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway(settings):
    gw = Gateway()
    settings.SMS_BACKEND = "notifications.sms.HTTPSMSBackend"
    settings.SMS_GATEWAY_URL = gw.url
    settings.SMS_GATEWAY_TOKEN = "s3cret-token"
    settings.SMS_GATEWAY_TIMEOUT = 2.0
    yield gw
    gw.close()


@pytest.fixture
def office(db):
    return Office()


def rows(channel):
    return Notification.objects.filter(channel=channel)


# --- E-mail -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_email_is_sent_once_with_a_message_id_derived_from_the_outbox_key(office, mailoutbox):
    dossier, _pin = office.receive(now=T)
    row = rows(NotificationChannel.EMAIL).get(dossier=dossier)
    assert row.state == Notification.State.PENDING

    sent, failed = delivery.deliver_pending(T)
    assert (sent, failed) == (2, 0)  # the e-mail and the SMS (console backend)
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["an@example.com"]
    assert message.subject == f"Hồ sơ {dossier.code} đã được tiếp nhận"
    assert message.message()["Message-ID"] == delivery.message_id(row)
    assert delivery.message_id(row).startswith("<citizen.received.")
    row.refresh_from_db()
    assert (row.state, row.attempts, row.sent_at is not None) == (Notification.State.SENT, 1, True)

    assert delivery.deliver_pending(T + timedelta(minutes=1)) == (0, 0)
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_rows_are_not_sent_before_their_time(office, mailoutbox):
    office.receive(now=T)
    assert delivery.deliver_pending(T - timedelta(seconds=1)) == (0, 0)
    assert mailoutbox == []


@pytest.mark.django_db
def test_file_backend_keeps_one_copy_of_a_message_sent_again_after_a_crash(office, settings, tmp_path):
    settings.EMAIL_BACKEND = "notifications.mail.IdempotentFileEmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    office.receive(now=T)
    delivery.deliver_pending(T)
    row = rows(NotificationChannel.EMAIL).get()
    # A worker killed after the SMTP hand-over but before its commit leaves the row pending:
    Notification.objects.filter(pk=row.pk).update(state=Notification.State.PENDING, attempts=0)
    delivery.deliver_pending(T + timedelta(minutes=1))

    journal = (tmp_path / mail.JOURNAL).read_text().split()
    assert journal == [delivery.message_id(row)] * 2  # handed over twice…
    files = list(tmp_path.glob("*.eml"))
    assert len(files) == 1  # …kept once
    stored = message_from_bytes(files[0].read_bytes())
    assert stored["Message-ID"] == delivery.message_id(row)
    assert stored["To"] == "an@example.com"


# --- SMS ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_console_sms_backend_logs_a_masked_number_and_the_key(office, caplog):
    caplog.set_level("INFO", logger="motcua.sms")
    office.receive(now=T)
    delivery.deliver_pending(T)
    row = rows(NotificationChannel.SMS).get()
    assert row.state == Notification.State.SENT
    [record] = [r for r in caplog.records if r.name == "motcua.sms"]
    text = record.getMessage()
    assert "091****678" in text and "0912345678" not in text
    assert row.dedupe_key in text


@pytest.mark.django_db
def test_http_sms_gateway_receives_the_message_and_its_idempotency_key(office, gateway):
    dossier, _pin = office.receive(now=T)
    assert delivery.deliver_pending(T) == (2, 0)
    row = rows(NotificationChannel.SMS).get()
    [request] = gateway.requests
    assert request["json"]["to"] == "0912345678"
    assert request["json"]["idempotency_key"] == row.dedupe_key
    assert request["headers"]["Idempotency-Key"] == row.dedupe_key
    assert request["headers"]["Authorization"] == "Bearer s3cret-token"
    assert dossier.code in request["json"]["text"]
    row.refresh_from_db()
    assert row.state == Notification.State.SENT


@pytest.mark.django_db
def test_failures_are_retried_with_back_off_then_given_up_and_visible_in_the_admin(office, gateway, admin_client):
    ReminderPolicy.objects.update_or_create(pk=ReminderPolicy.get().pk, defaults={"max_attempts": 3})
    gateway.status = 503
    office.receive(now=T)
    sms = rows(NotificationChannel.SMS).get()

    assert delivery.deliver_pending(T) == (1, 1)  # the e-mail goes, the SMS fails
    sms.refresh_from_db()
    assert (sms.state, sms.attempts, sms.next_attempt_at) == ("pending", 1, T + timedelta(minutes=2))
    assert "503" in sms.last_error

    assert delivery.deliver_pending(T + timedelta(minutes=1)) == (0, 0)  # still waiting
    assert len(gateway.requests) == 1
    delivery.deliver_pending(T + timedelta(minutes=2))
    sms.refresh_from_db()
    assert (sms.state, sms.attempts, sms.next_attempt_at) == ("pending", 2, T + timedelta(minutes=6))
    delivery.deliver_pending(T + timedelta(minutes=6))
    sms.refresh_from_db()
    assert (sms.state, sms.attempts) == ("failed", 3)
    delivery.deliver_pending(T + timedelta(days=1))
    assert len(gateway.requests) == 3  # given up: no fourth try

    changelist = reverse("admin:notifications_notification_changelist")
    response = admin_client.get(changelist, {"state__exact": "failed"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "HTTPError" in page and "503" in page
    assert "091****678" in page and "0912345678" not in page

    response = admin_client.post(changelist, {"action": "retry_now", "_selected_action": [sms.pk]})
    assert response.status_code == 302
    sms.refresh_from_db()
    assert sms.state == "pending"
    gateway.status = 200
    delivery.deliver_pending(sms.next_attempt_at)
    sms.refresh_from_db()
    assert sms.state == "sent"
    assert gateway.keys() == [sms.dedupe_key] * 4


@pytest.mark.django_db
def test_a_slow_gateway_times_out_instead_of_blocking_delivery(office, gateway, settings):
    settings.SMS_GATEWAY_TIMEOUT = 0.3
    gateway.delay = 2
    office.receive(now=T)
    started = time.monotonic()
    delivery.deliver_pending(T)
    assert time.monotonic() - started < 1.5
    sms = rows(NotificationChannel.SMS).get()
    assert sms.state == "pending" and sms.attempts == 1 and "timed out" in sms.last_error


@pytest.mark.django_db
def test_misconfigured_gateway_url_is_a_visible_failure(office, settings):
    settings.SMS_BACKEND = "notifications.sms.HTTPSMSBackend"
    settings.SMS_GATEWAY_URL = "file:///etc/passwd"
    office.receive(now=T)
    delivery.deliver_pending(T)
    sms = rows(NotificationChannel.SMS).get()
    assert sms.state == "pending" and "SMS_GATEWAY_URL" in sms.last_error


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_delivering_at_once_send_each_row_once(gateway):
    if connection.vendor != "postgresql":
        pytest.skip("Needs PostgreSQL: SQLite serialises the delivery transactions.")
    gateway.delay = 0.02
    office = Office()
    for _ in range(10):
        office.receive(now=T)
    barrier = threading.Barrier(3)
    errors = []

    def worker():
        try:
            barrier.wait(timeout=30)
            delivery.deliver_pending(T)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    keys = gateway.keys()
    assert len(keys) == len(set(keys)) == 10
    assert set(keys) == set(rows(NotificationChannel.SMS).values_list("dedupe_key", flat=True))
    assert not Notification.objects.exclude(state="sent").exists()


# --- Templates ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_admin_template_is_used_and_a_broken_one_falls_back_to_the_default(office):
    NotificationTemplate.objects.update_or_create(
        kind="citizen.received", channel="sms", defaults={"subject": "HS {{ code }}", "body": "Đã nhận"}
    )
    # Saved before validation existed (or by a script): it does not compile.
    NotificationTemplate.objects.update_or_create(
        kind="citizen.received", channel="email", defaults={"subject": "{% if %}", "body": "{{ code|no_such_filter }}"}
    )
    dossier, _pin = office.receive(now=T)
    sms = rows(NotificationChannel.SMS).get()
    assert (sms.subject, sms.body) == (f"HS {dossier.code}", "Đã nhận")
    email = rows(NotificationChannel.EMAIL).get()
    assert email.subject == f"Hồ sơ {dossier.code} đã được tiếp nhận"  # the default text
    assert email.body.startswith("Kính gửi Nguyễn Văn An,")


@pytest.mark.django_db
def test_templates_cannot_reach_project_templates_or_libraries(office):
    NotificationTemplate.objects.update_or_create(
        kind="citizen.received", channel="email", defaults={"subject": "{% include 'base.html' %}", "body": "x"}
    )
    office.receive(now=T)
    assert rows(NotificationChannel.EMAIL).get().subject.startswith("Hồ sơ ")


@pytest.mark.django_db
def test_inactive_templates_are_ignored(office):
    NotificationTemplate.objects.update_or_create(
        kind="citizen.received", channel="sms", defaults={"subject": "X", "body": "Y", "active": False}
    )
    office.receive(now=T)
    assert rows(NotificationChannel.SMS).get().body.startswith("Hen tra ket qua")  # the unaccented SMS default


# --- Admin pages --------------------------------------------------------------------------------


ADD = "admin:notifications_notificationtemplate_add"


@pytest.mark.django_db
def test_template_admin_prefills_the_default_text_and_lists_placeholders(admin_client):
    response = admin_client.get(reverse(ADD), {"kind": "citizen.refused"})
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.initial["kind"] == "citizen.refused"
    assert form.initial["subject"] == DEFAULT_TEXTS["citizen.refused"][0]
    page = response.content.decode()
    assert "{{ lookup_url }}" in page and "{{ missing_documents }}" in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "code", "detail"),
    [
        ("Hồ sơ {% if code %}", "syntax", "endif"),
        ("Hồ sơ {{ ma_ho_so }}", "placeholder", "ma_ho_so"),
        ("{% load static %}{% static 'x' %}", "syntax", "static"),
        ("{% include 'base.html' %}", "render", "base.html"),
    ],
)
def test_template_admin_rejects_broken_texts_with_a_readable_error(admin_client, body, code, detail):
    NotificationTemplate.objects.filter(kind="citizen.received", channel="email").delete()
    before = NotificationTemplate.objects.count()
    data = {"kind": "citizen.received", "channel": "email", "subject": "Hồ sơ {{ code }}", "body": body, "active": "on"}
    response = admin_client.post(reverse(ADD), data)
    assert response.status_code == 200
    [error] = response.context["adminform"].form.errors.as_data()["body"]
    assert error.code == code
    assert detail in " ".join(error.messages)
    assert NotificationTemplate.objects.count() == before


@pytest.mark.django_db
def test_template_admin_saves_a_valid_text_and_previews_it_with_the_newest_dossier(admin_client, office):
    dossier, _pin = office.receive(now=T)
    NotificationTemplate.objects.filter(kind="citizen.received", channel="sms").delete()
    data = {
        "kind": "citizen.received",
        "channel": "sms",
        "subject": "HS {{ code }}",
        "body": "Hẹn trả {{ due_at|default:'—' }}",
        "active": "on",
    }
    response = admin_client.post(reverse(ADD), data)
    assert response.status_code == 302
    row = NotificationTemplate.objects.get(kind="citizen.received", channel="sms")
    page = admin_client.get(reverse("admin:notifications_notificationtemplate_change", args=[row.pk])).content.decode()
    assert f"HS {dossier.code}" in page
    assert "Hẹn trả 11:30 05/03/2026" in page


@pytest.mark.django_db
def test_create_the_missing_templates_from_the_defaults(admin_client):
    NotificationTemplate.objects.update_or_create(
        kind="digest", channel="email", defaults={"subject": "Mine", "body": "Mine"}
    )
    url = reverse("admin:notifications_notificationtemplate_create_defaults")
    assert admin_client.get(url).status_code == 405
    changelist = admin_client.get(reverse("admin:notifications_notificationtemplate_changelist")).content.decode()
    assert url in changelist  # the button
    assert admin_client.post(url).status_code == 302
    # Citizen kinds × (e-mail, SMS) + officer kinds × (in app, e-mail): two rows per kind, one existed.
    every_default = 2 * len(DEFAULT_TEXTS)
    assert every_default >= 22 + 6  # 11 kinds before issue 14, then online_intake, correction, fee
    assert NotificationTemplate.objects.count() == every_default
    assert NotificationTemplate.objects.get(kind="digest", channel="email").subject == "Mine"
    assert (
        NotificationTemplate.objects.get(kind="citizen.refused", channel="sms").body
        == default_text("citizen.refused", "sms")[1]
    )
    admin_client.post(url)
    assert NotificationTemplate.objects.count() == every_default


@pytest.mark.django_db
def test_reminder_policy_admin_is_a_single_editable_row(admin_client):
    policy = ReminderPolicy.get()
    ReminderPolicy.objects.filter(pk=policy.pk).update(last_scan_at=T)
    response = admin_client.get(reverse("admin:notifications_reminderpolicy_changelist"))
    change = reverse("admin:notifications_reminderpolicy_change", args=[policy.pk])
    assert response.status_code == 302 and response["Location"] == change
    assert admin_client.get(reverse("admin:notifications_reminderpolicy_add")).status_code == 403
    assert admin_client.get(reverse("admin:notifications_reminderpolicy_delete", args=[policy.pk])).status_code == 403

    form = admin_client.get(change).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data = {k: ("on" if v is True else v) for k, v in data.items() if v is not False}
    data.update(scan_interval_minutes="30", digest_time="08:00")
    response = admin_client.post(change, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    policy.refresh_from_db()
    assert (policy.scan_interval_minutes, policy.digest_time.strftime("%H:%M")) == (30, "08:00")
    assert policy.last_scan_at == T  # the tick's claim column is not written back by the form


@pytest.mark.django_db
def test_outbox_and_reminders_are_read_only_in_the_admin(admin_client, office):
    office.receive(now=T)
    row = Notification.objects.first()
    assert admin_client.get(reverse("admin:notifications_notification_add")).status_code == 403
    assert admin_client.get(reverse("admin:notifications_notification_delete", args=[row.pk])).status_code == 403
    assert (
        admin_client.post(
            reverse("admin:notifications_notification_change", args=[row.pk]), {"subject": "x"}
        ).status_code
        == 403
    )
    assert admin_client.get(reverse("admin:notifications_reminder_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:notifications_reminder_add")).status_code == 403


@pytest.mark.django_db
def test_the_default_templates_exist_from_the_migration_and_sms_ones_fit_one_message(django_db_setup):
    import importlib

    from django.apps import apps
    from django.db import connection

    from notifications.delivery import sms_text

    NotificationTemplate.objects.all().delete()  # as after a flush: the migration fills it again
    migration = importlib.import_module("notifications.migrations.0005_default_templates")

    class Editor:
        pass

    editor = Editor()
    editor.connection = connection
    migration.create_default_templates(apps, editor)
    migration.create_default_templates(apps, editor)  # idempotent
    assert NotificationTemplate.objects.count() == 2 * len(DEFAULT_TEXTS)
    for row in NotificationTemplate.objects.filter(channel="sms"):
        text = sms_text(Notification(subject=row.subject, body=row.body))
        assert text.isascii(), f"{row.kind}: SMS defaults are written without diacritics"
        assert len(text) <= 110, f"{row.kind}: room for the placeholders in one GSM-7 message"
