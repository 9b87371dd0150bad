"""Sessions end with the browser and after one working day at most; password rules are on."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from tests.factories import Office

WORKSPACE = "/can-bo/"


@pytest.fixture
def office(db):
    return Office()


def test_the_session_cookie_lasts_until_the_browser_closes(client, office):
    response = client.post(reverse("login"), {"username": office.reception.username, "password": "motcua-demo"})

    cookie = response.cookies["sessionid"]
    assert not cookie["expires"] and not cookie["max-age"]
    assert cookie["httponly"]


def test_a_session_expires_after_eight_hours(client, office):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client.post(reverse("login"), {"username": office.reception.username, "password": "motcua-demo"})
        assert client.get(WORKSPACE).status_code == 200

        clock.shift(timedelta(hours=7, minutes=50))
        assert client.get(WORKSPACE).status_code == 200

        clock.shift(timedelta(minutes=20))  # 8 h 10 min after the login
        response = client.get(WORKSPACE)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("password", ["12345678", "password1", "short", "canbo-tiepnhan"])
def test_weak_passwords_are_refused(db, password):
    office_user = Office().reception
    office_user.username = "canbo-tiepnhan"

    with pytest.raises(ValidationError):
        validate_password(password, user=office_user)


def test_a_long_uncommon_password_is_accepted(db):
    validate_password("Ngay-mai-troi-se-nang-2026!", user=Office().reception)
