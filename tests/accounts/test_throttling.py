"""Login throttling (django-axes): 5 failures for one user name (from any address), or 10 from one
address (any user names), lock out for 15 minutes with a friendly 429 page; the API token endpoint
counts too."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEntry
from tests.factories import make_user

PASSWORD = "motcua-demo"


@pytest.fixture
def officer(db):
    return make_user("canbo")


def attempt(client, username="canbo", password="wrong-password", ip="10.0.0.1"):  # noqa: S107
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_the_fifth_failure_locks_out_with_a_429_page(client, officer):
    for _ in range(4):
        assert attempt(client).status_code == 200  # the form again, with its error

    fifth = attempt(client)

    assert fifth.status_code == 429
    page = fifth.content.decode()
    assert "15" in page  # the wait, in minutes
    assert "<form" not in page.split("<main", 1)[1]  # no login form to keep guessing in


def test_a_locked_out_pair_is_refused_even_with_the_right_password(client, officer):
    for _ in range(5):
        attempt(client)

    response = attempt(client, password=PASSWORD)

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_locked_user_name_is_locked_from_every_address(client, officer):
    """Issue 13, finding 10: the lock was per (user name, address); the right password from another
    address passed right after a lockout."""
    make_user("other")
    for _ in range(5):
        attempt(client)

    from_elsewhere = attempt(client, password=PASSWORD, ip="10.0.0.2")
    assert from_elsewhere.status_code == 429  # same user, another address
    assert "_auth_user_id" not in client.session
    other_user = attempt(client, username="other", password=PASSWORD)
    assert other_user.status_code == 302  # same address, another user: below the address limit


def test_password_spraying_from_one_address_is_locked_out(client, db, settings):
    """Issue 13, finding 10: one wrong password for each of 12 user names was never blocked. The
    address locks at AXES_ADDRESS_FAILURE_LIMIT (10) failures whatever the user names."""
    users = [make_user(f"nguoi{n}") for n in range(12)]
    statuses = [attempt(client, username=user.username).status_code for user in users]
    assert statuses[: settings.AXES_ADDRESS_FAILURE_LIMIT - 1] == [200] * (settings.AXES_ADDRESS_FAILURE_LIMIT - 1)
    assert set(statuses[settings.AXES_ADDRESS_FAILURE_LIMIT - 1 :]) == {429}
    # The right password of a thirteenth user, from that address: refused too.
    make_user("nguoi13")
    assert attempt(client, username="nguoi13", password=PASSWORD).status_code == 429
    # From another address the users still log in (none reached the per-user limit).
    assert attempt(client, username="nguoi0", password=PASSWORD, ip="10.0.0.3").status_code == 302


def test_the_lock_ends_after_the_cool_off(client, officer):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(5):
            attempt(client)
        clock.shift(timedelta(minutes=14))
        assert attempt(client, password=PASSWORD).status_code == 429
        clock.shift(timedelta(minutes=16))
        assert attempt(client, password=PASSWORD).status_code == 302


def test_a_successful_login_resets_the_count(client, officer):
    for _ in range(4):
        attempt(client)
    assert attempt(client, password=PASSWORD).status_code == 302
    client.post(reverse("logout"))

    for _ in range(4):
        assert attempt(client).status_code == 200
    assert attempt(client).status_code == 429


def test_the_api_token_endpoint_is_throttled_too(client, officer):
    url = reverse("api-token")
    statuses = [
        client.post(url, {"username": "canbo", "password": "nope"}, REMOTE_ADDR="10.0.0.9").status_code
        for _ in range(5)
    ]
    assert statuses == [400, 400, 400, 400, 429]

    right = client.post(url, {"username": "canbo", "password": PASSWORD}, REMOTE_ADDR="10.0.0.9")

    assert right.status_code == 429
    assert "token" not in right.json() and right.json()["detail"]
    other_address = client.post(url, {"username": "canbo", "password": PASSWORD}, REMOTE_ADDR="10.0.0.10")
    assert other_address.status_code == 429  # the user name is locked wherever the request comes from


def test_failures_and_the_lockout_are_audited_without_the_password(client, officer):
    for _ in range(5):
        attempt(client, password="s3cret-guess")

    failed = AuditEntry.objects.filter(kind="login_failed", username="canbo")
    assert failed.count() == 5
    assert {entry.ip_address for entry in failed} == {"10.0.0.1"}
    assert AuditEntry.objects.filter(kind="locked_out", username="canbo").exists()
    dumped = "".join(str(entry.data) + entry.username + entry.path for entry in AuditEntry.objects.all())
    assert "s3cret-guess" not in dumped


def test_a_user_name_that_does_not_exist_is_throttled_as_well(client, db):
    for _ in range(5):
        attempt(client, username="khongco")

    assert attempt(client, username="khongco").status_code == 429
