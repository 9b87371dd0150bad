"""Lookup enumeration (issue 8, item 4): 1,000 guessed codes and PINs from one client return no
data and get throttled; so do wrong PINs spread over the codes of real dossiers. Made-up codes
count on a separate, larger allowance than wrong PINs (issue 15: a typo is not a guess)."""

import random
from collections import Counter

import pytest
from django.conf import settings
from django.urls import reverse

from dossiers import throttle

GUESSES = 1000
pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def guessed_code(rng, agency_code):
    return f"{agency_code}-{rng.randint(250101, 261231)}-{rng.randint(1, 9999):04d}"


def guessed_pin(rng):
    return f"{rng.randrange(10**6):06d}"


def leaked(response, dossiers):
    body = response.content.decode()
    return any(d.applicant_name in body or d.masked_applicant_name in body for d in dossiers) or (
        response.status_code == 200
    )


def page_leaked(response, dossiers):
    body = response.content.decode()
    return any(d.applicant_name in body or d.masked_applicant_name in body for d in dossiers) or any(
        d.procedure.name in body for d in dossiers
    )


def test_thousand_random_api_guesses_return_nothing_and_are_throttled(client, offices):
    rng = random.Random(8)
    dossiers = [offices.own.dossier, offices.other.dossier]
    real_codes = [d.code for d in dossiers]
    statuses = Counter()
    # Wrong PINs for real codes count towards the address's limit; made-up codes (a citizen's
    # typos, issue 15) towards its separate allowance of UNKNOWN_CODE_FACTOR times that limit.
    tried = Counter()
    for i in range(GUESSES):
        known = i % 3 == 0
        code = rng.choice(real_codes) if known else guessed_code(rng, offices.own.agency.code)
        response = client.get(reverse("api-lookup"), {"code": code, "pin": guessed_pin(rng)})
        assert not leaked(response, dossiers), (i, response.content)
        statuses[response.status_code] += 1
        limit = throttle.max_failures() * (1 if known else throttle.UNKNOWN_CODE_FACTOR)
        if tried[known] >= limit:
            assert response.status_code == 429, (i, response.status_code)
            assert int(response["Retry-After"]) > 0
        else:
            assert response.status_code == 404, (i, response.status_code)
        tried[known] += 1
    unknown_limit = settings.LOOKUP_MAX_FAILURES * throttle.UNKNOWN_CODE_FACTOR
    assert statuses[404] == settings.LOOKUP_MAX_FAILURES + unknown_limit
    assert statuses[429] == GUESSES - statuses[404]
    assert set(statuses) == {404, 429}

    # Once throttled, even the right PIN gets nothing from this client…
    right = client.get(reverse("api-lookup"), {"code": offices.own.dossier.code, "pin": offices.own.pin})
    assert right.status_code == 429
    assert offices.own.dossier.applicant_name not in right.content.decode()
    # …while another client still gets its own dossier.
    other_client = client.get(
        reverse("api-lookup"), {"code": offices.own.dossier.code, "pin": offices.own.pin}, REMOTE_ADDR="10.9.8.7"
    )
    assert other_client.status_code == 200
    assert other_client.json()["code"] == offices.own.dossier.code


def test_wrong_pins_spread_over_real_codes_on_the_public_page_are_throttled(client, offices):
    rng = random.Random(81)
    dossiers = [offices.own.dossier, offices.other.dossier]
    for _i in range(3):
        more, _pin = offices.own.receive(applicant_name=f"Phạm Thị Bí Mật {_i}")
        dossiers.append(more)
    pins = {offices.own.pin, offices.other.pin}
    throttled = 0
    for i in range(GUESSES):
        pin = guessed_pin(rng)
        while pin in pins:
            pin = guessed_pin(rng)
        response = client.get(reverse("dossiers:lookup"), {"ma": rng.choice(dossiers).code, "pin": pin})
        assert response.status_code in (200, 404, 429), response.status_code
        assert not page_leaked(response, dossiers), i
        if i >= settings.LOOKUP_MAX_FAILURES:
            assert response.status_code == 429, (i, response.status_code)
            throttled += 1
    assert throttled == GUESSES - settings.LOOKUP_MAX_FAILURES


def test_rotating_ipv6_addresses_inside_one_subscriber_block_does_not_escape_the_limit(client, offices):
    rng = random.Random(64)
    codes = []
    for i in range(200):
        address = f"2001:db8:1234:5678:{rng.randrange(65536):x}:{rng.randrange(65536):x}::{i:x}"
        response = client.get(
            reverse("api-lookup"),
            {"code": offices.own.dossier.code, "pin": guessed_pin(rng)},
            REMOTE_ADDR=address,
        )
        assert response.status_code != 200
        codes.append(response.status_code)
    assert codes.count(404) == settings.LOOKUP_MAX_FAILURES
    assert codes.count(429) == 200 - settings.LOOKUP_MAX_FAILURES


def test_forged_forwarded_for_headers_do_not_reset_the_limit(client, offices):
    """Without trusted proxies, X-Forwarded-For is the client's to choose and must be ignored."""
    rng = random.Random(4)
    statuses = Counter()
    for i in range(100):
        response = client.get(
            reverse("api-lookup"),
            {"code": offices.own.dossier.code, "pin": guessed_pin(rng)},
            HTTP_X_FORWARDED_FOR=f"203.0.113.{i % 250}",
        )
        statuses[response.status_code] += 1
    assert statuses == Counter({404: settings.LOOKUP_MAX_FAILURES, 429: 100 - settings.LOOKUP_MAX_FAILURES})
