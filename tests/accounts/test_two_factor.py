"""TOTP two-factor login: enrolment with a real code, the code step after the password,
leaders forced to enrol, and no way around the code step (admin login, API with a session)."""

import re
from base64 import b32decode
from datetime import UTC, datetime

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuditEntry
from tests.factories import Office, make_user

PASSWORD = "motcua-demo"
WORKSPACE = "/can-bo/"


@pytest.fixture
def office(db):
    return Office()


@pytest.fixture(autouse=True)
def leaders_must_enrol(settings):
    settings.REQUIRE_2FA_FOR_LEADERS = True


@pytest.fixture(autouse=True)
def clock():
    """Frozen time (codes change every 30 s): tests move it on with `clock.shift(30)`."""
    with time_machine.travel(datetime(2026, 3, 2, 2, 0, 5, tzinfo=UTC), tick=False) as traveller:
        yield traveller


def code_for(device, offset=0):
    """The code an authenticator app would show now (offset in 30-second steps)."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=offset):06d}"


def wrong(code):
    return f"{(int(code) + 1) % 1_000_000:06d}"


def password_login(client, user, next_url=WORKSPACE):
    return client.post(reverse("login"), {"username": user.username, "password": PASSWORD, "next": next_url})


def enrol(client, user):
    """Turn two-factor login on through the page, as the officer would."""
    page = client.get(reverse("accounts:two-factor"))
    assert page.status_code == 200
    secret = re.search(r"<code>([A-Z2-7 ]+)</code>", page.content.decode()).group(1).replace(" ", "")
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert b32decode(secret) == device.bin_key  # the key shown by hand is the QR's key
    response = client.post(reverse("accounts:two-factor"), {"token": code_for(device), "next": WORKSPACE})
    assert response.status_code == 302, response.content.decode()
    device.refresh_from_db()
    assert device.confirmed
    return device


def test_an_officer_turns_two_factor_on_with_a_code_from_the_qr_key(client, office):
    password_login(client, office.specialist)

    page = client.get(reverse("accounts:two-factor"))
    assert "<svg" in page.content.decode()  # the QR code, inline (no data: URI needed under the CSP)
    device = enrol(client, office.specialist)

    assert device.user == office.specialist
    assert AuditEntry.objects.filter(kind="otp_enrolled", user=office.specialist).exists()
    assert client.get(WORKSPACE).status_code == 200


def test_a_wrong_code_does_not_turn_two_factor_on(client, office):
    password_login(client, office.specialist)
    client.get(reverse("accounts:two-factor"))
    device = TOTPDevice.objects.get(user=office.specialist)
    response = client.post(reverse("accounts:two-factor"), {"token": wrong(code_for(device))})

    assert response.status_code == 400
    device.refresh_from_db()
    assert not device.confirmed


def test_after_the_password_a_user_with_a_device_must_enter_a_code(client, office, clock):
    password_login(client, office.specialist)
    device = enrol(client, office.specialist)
    client.post(reverse("logout"))

    response = password_login(client, office.specialist)
    assert response.status_code == 302
    gated = client.get(WORKSPACE)
    assert gated.status_code == 302
    assert gated.url.startswith(reverse("accounts:otp-verify"))

    clock.shift(30)  # the app shows the next code
    answer = client.post(reverse("accounts:otp-verify"), {"token": code_for(device), "next": WORKSPACE})

    assert answer.status_code == 302 and answer.url == WORKSPACE
    assert client.get(WORKSPACE).status_code == 200
    assert AuditEntry.objects.filter(kind="otp_verified", user=office.specialist).exists()


def test_a_wrong_code_keeps_the_session_out_and_is_audited(client, office, clock):
    password_login(client, office.specialist)
    device = enrol(client, office.specialist)
    client.post(reverse("logout"))
    password_login(client, office.specialist)

    clock.shift(30)
    response = client.post(reverse("accounts:otp-verify"), {"token": wrong(code_for(device))})

    assert response.status_code == 400
    assert client.get(WORKSPACE).status_code == 302
    assert AuditEntry.objects.filter(kind="otp_failed", user=office.specialist).count() == 1


def test_a_code_cannot_be_used_twice(client, office, clock):
    password_login(client, office.specialist)
    device = enrol(client, office.specialist)
    client.post(reverse("logout"))
    password_login(client, office.specialist)
    clock.shift(30)
    code = code_for(device)
    assert client.post(reverse("accounts:otp-verify"), {"token": code}).status_code == 302
    client.post(reverse("logout"))

    password_login(client, office.specialist)
    replay = client.post(reverse("accounts:otp-verify"), {"token": code})

    assert replay.status_code == 400


def test_repeated_wrong_codes_are_throttled(client, office, clock):
    password_login(client, office.specialist)
    device = enrol(client, office.specialist)
    client.post(reverse("logout"))
    password_login(client, office.specialist)
    clock.shift(30)
    good = code_for(device)
    client.post(reverse("accounts:otp-verify"), {"token": wrong(good)})

    # Right after a failure the device refuses even the right code (django-otp back-off: 1 s,
    # then 2, 4, 8 ... seconds).
    refused = client.post(reverse("accounts:otp-verify"), {"token": good})
    assert refused.status_code == 400
    assert client.get(WORKSPACE).status_code == 302

    clock.shift(2)
    assert client.post(reverse("accounts:otp-verify"), {"token": good}).status_code == 302


def test_a_leader_without_a_device_is_sent_to_enrolment_and_cannot_reach_the_workspace(client, office):
    password_login(client, office.leader)

    response = client.get(WORKSPACE)
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:two-factor"))
    assert client.get(reverse("dossiers:approvals")).status_code == 302

    enrol(client, office.leader)
    assert client.get(WORKSPACE).status_code == 200


def test_the_leader_requirement_follows_the_setting(client, office, settings):
    settings.REQUIRE_2FA_FOR_LEADERS = False
    password_login(client, office.leader)

    assert client.get(WORKSPACE).status_code == 200


def test_a_leader_cannot_turn_two_factor_off(client, office, clock):
    password_login(client, office.leader)
    device = enrol(client, office.leader)
    clock.shift(30)

    client.post(reverse("accounts:two-factor"), {"action": "disable", "token": code_for(device)})

    assert TOTPDevice.objects.filter(user=office.leader, confirmed=True).exists()


def test_an_officer_turns_two_factor_off_with_a_current_code(client, office, clock):
    password_login(client, office.specialist)
    device = enrol(client, office.specialist)
    clock.shift(30)

    response = client.post(reverse("accounts:two-factor"), {"action": "disable", "token": code_for(device)})

    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=office.specialist).exists()
    assert AuditEntry.objects.filter(kind="otp_removed", user=office.specialist).exists()


def test_a_password_only_session_cannot_replace_the_device(client, office):
    password_login(client, office.specialist)
    enrol(client, office.specialist)
    client.post(reverse("logout"))
    password_login(client, office.specialist)

    response = client.get(reverse("accounts:two-factor"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:otp-verify"))
    assert TOTPDevice.objects.filter(user=office.specialist).count() == 1


def test_the_admin_login_does_not_skip_the_code(client, db):
    admin = make_user("quantri", is_staff=True, is_superuser=True)
    device = TOTPDevice.objects.create(user=admin, name="authenticator", confirmed=True)

    client.post(reverse("admin:login"), {"username": "quantri", "password": PASSWORD, "next": "/admin/"})
    response = client.get("/admin/")

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:otp-verify"))
    client.post(reverse("accounts:otp-verify"), {"token": code_for(device)})
    assert client.get("/admin/").status_code == 200


def test_the_api_with_a_password_only_session_answers_403_json(client, office):
    TOTPDevice.objects.create(user=office.specialist, name="authenticator", confirmed=True)
    password_login(client, office.specialist)

    response = client.get("/api/v1/dossiers/")

    assert response.status_code == 403
    assert "detail" in response.json()


def test_the_code_step_ignores_an_offsite_next_url(client, office, clock):
    password_login(client, office.specialist)
    device = enrol(client, office.specialist)
    client.post(reverse("logout"))
    password_login(client, office.specialist)
    clock.shift(30)

    response = client.post(reverse("accounts:otp-verify"), {"token": code_for(device), "next": "https://evil.example/"})

    assert response.status_code == 302
    assert response.url == settings.LOGIN_REDIRECT_URL  # the officers' landing page, on this site
