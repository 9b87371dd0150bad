"""API tokens and the second factor (issue 13, findings 1, 6 and 11).

1. A leader's password alone got a token that approved dossiers: two-factor login was bypassed
   through the API. Now a user with two-factor login (or who must have it) gets a token only with
   the current code in `otp`.
6. Tokens never expired, survived a password change and a logout, and logging in again returned
   the same key. Now (django-rest-knox) they expire, are revoked by logout and password change, a
   new key is issued each time, and the admin lists and deletes them.
11. Superusers and staff were not required to use two-factor login.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import AuditEntry
from tests.factories import Office, make_user

PASSWORD = "motcua-demo"
TOKEN_URL = "/api/v1/auth/token/"


@pytest.fixture(autouse=True)
def production_rules(settings):
    settings.REQUIRE_2FA_FOR_LEADERS = True
    settings.REQUIRE_2FA_FOR_STAFF = True


@pytest.fixture
def clock():
    with time_machine.travel(datetime(2026, 3, 2, 2, 0, 5, tzinfo=UTC), tick=False) as traveller:
        yield traveller


@pytest.fixture
def office(db):
    return Office()


def code_for(device):
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def device_for(user):
    return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)


def ask(username, password=PASSWORD, **extra):
    return APIClient().post(TOKEN_URL, {"username": username, "password": password, **extra}, format="json")


def approve(office, token):
    dossier, _pin = office.receive()
    office.act(dossier, "assign")
    office.act(dossier, "propose_result", result="Cấp giấy")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client.post(f"/api/v1/dossiers/{dossier.code}/actions/approve/", {}, format="json")


def test_a_leaders_password_alone_gets_no_token(office, clock):
    without_device = ask(office.leader.username)
    assert without_device.status_code == 403 and "token" not in without_device.json()
    device = device_for(office.leader)
    password_only = ask(office.leader.username)
    assert password_only.status_code == 400 and password_only.json()["otp"]
    wrong = ask(office.leader.username, otp=f"{(int(code_for(device)) + 1) % 10**6:06d}")
    assert wrong.status_code == 400 and "token" not in wrong.json()
    assert not AuthToken.objects.filter(user=office.leader).exists()
    assert AuditEntry.objects.filter(kind="otp_failed", user=office.leader).exists()
    assert AuditEntry.objects.filter(kind="token_refused", user=office.leader).exists()


def test_with_the_second_factor_the_leader_gets_a_token_that_approves(office, clock):
    device = device_for(office.leader)
    response = ask(office.leader.username, otp=code_for(device))
    assert response.status_code == 200, response.content
    assert approve(office, response.json()["token"]).status_code == 200
    # A code is accepted once.
    assert ask(office.leader.username, otp=code_for(device)).status_code == 400
    assert AuditEntry.objects.filter(kind="token_created", user=office.leader).count() == 1


def test_an_officer_without_two_factor_still_gets_a_token_with_the_password(office):
    response = ask(office.reception.username)
    assert response.status_code == 200 and response.json()["token"] and response.json()["expiry"]


def test_tokens_are_hashed_new_each_time_and_expire(office, settings):
    first = ask(office.reception.username).json()["token"]
    second = ask(office.reception.username).json()["token"]
    assert first != second
    stored = AuthToken.objects.filter(user=office.reception)
    assert stored.count() == 2 and not stored.filter(digest__in=[first, second]).exists()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {first}")
    assert client.get("/api/v1/dossiers/").status_code == 200
    ttl = settings.REST_KNOX["TOKEN_TTL"]
    with time_machine.travel(datetime.now(tz=UTC) + ttl + timedelta(minutes=1)):
        assert client.get("/api/v1/dossiers/").status_code == 401


def test_a_password_change_revokes_every_token(office):
    token = ask(office.reception.username).json()["token"]
    office.reception.set_password("a-new-long-passphrase-2026")
    office.reception.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/dossiers/").status_code == 401
    assert AuditEntry.objects.filter(kind="token_revoked", user=office.reception).exists()


def test_api_logout_and_web_logout_revoke_tokens(office, client):
    token = ask(office.reception.username).json()["token"]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.post("/api/v1/auth/logout/").status_code == 204
    assert api.get("/api/v1/dossiers/").status_code == 401

    token = ask(office.reception.username).json()["token"]
    client.post(reverse("login"), {"username": office.reception.username, "password": PASSWORD})
    client.post(reverse("logout"))
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/dossiers/").status_code == 401


def test_the_admin_lists_and_revokes_tokens(office, client):
    admin = make_user("quantri", is_superuser=True, is_staff=True)
    device_for(admin)
    token = ask(office.reception.username).json()["token"]
    client.force_login(admin)
    session = client.session
    # A verified second factor (django-otp keeps the device id in the session).
    device = TOTPDevice.objects.get(user=admin)
    session["otp_device_id"] = device.persistent_id
    session.save()
    page = client.get(reverse("admin:knox_authtoken_changelist"))
    assert page.status_code == 200 and office.reception.username in page.content.decode()
    digest = AuthToken.objects.get(user=office.reception).digest
    response = client.post(reverse("admin:knox_authtoken_delete", args=[digest]), {"post": "yes"})
    assert response.status_code == 302
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/dossiers/").status_code == 401


@pytest.mark.parametrize("kind", ["superuser", "staff"])
def test_superusers_and_staff_must_enrol_in_production(client, db, kind):
    user = make_user(f"nv-{kind}", is_staff=True, is_superuser=kind == "superuser")
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 302
    admin = client.get("/admin/")
    assert admin.status_code == 302 and admin["Location"].startswith(reverse("accounts:two-factor"))
    assert ask(user.username).status_code == 403


def test_staff_two_factor_follows_its_setting(client, db, settings):
    settings.REQUIRE_2FA_FOR_STAFF = False
    user = make_user("nv-thuong", is_staff=True)
    client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert client.get("/admin/").status_code == 200
