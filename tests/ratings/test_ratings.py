"""Citizens' ratings (ratings/): only the holder, only after the end, once (changeable for a while),
throttled like the lookup, counted in the progress table, read by the agency's leaders."""

from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from procedures.models import Role
from ratings import links
from ratings.models import Rating, RatingRevision
from reporting import stats
from tests.factories import Office, make_user

URL = "/api/v1/ratings/"


def returned(office, now=None):
    now = now or timezone.now() - timedelta(hours=3)
    dossier, pin = office.to_approval(now=now)
    office.act(dossier, "approve", now=now + timedelta(minutes=5))
    dossier = office.act(dossier, "return_result", now=now + timedelta(minutes=10), collected_by="Chủ hồ sơ")
    return dossier, pin


def post(data, client=None):
    return (client or APIClient()).post(URL, data, format="json")


@pytest.fixture
def office(db):
    return Office()


def test_a_rating_is_refused_before_the_end(office):
    dossier, pin = office.to_approval(now=timezone.now() - timedelta(hours=1))
    response = post({"code": dossier.code, "pin": pin, "level": "satisfied"})
    assert response.status_code == 409
    assert "ended" in response.json()["detail"] or response.json()["detail"]
    assert not Rating.objects.exists() and not RatingRevision.objects.exists()


def test_a_rating_is_accepted_once_after_the_end_then_changed_within_the_window(office):
    dossier, pin = returned(office)
    response = post(
        {
            "code": dossier.code,
            "pin": pin,
            "level": "unsatisfied",
            "criteria": {"attitude": "satisfied", "total_time": "unsatisfied"},
            "comment": "Phải đi lại hai lần.",
        }
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["level"] == "unsatisfied" and body["criteria"]["attitude"] == "satisfied"
    assert Rating.objects.get(pk=dossier.pk).needs_attention
    # The same dossier again: one rating, changed (200), both submissions audited.
    response = post({"code": dossier.code, "pin": pin, "level": "very_satisfied"})
    assert response.status_code == 200
    assert Rating.objects.count() == 1
    rating = Rating.objects.get()
    assert rating.level == "very_satisfied" and rating.changes == 1
    assert list(RatingRevision.objects.order_by("at", "pk").values_list("level", flat=True)) == [
        "unsatisfied",
        "very_satisfied",
    ]


def test_after_the_change_window_the_rating_cannot_change(office, settings):
    dossier, pin = returned(office)
    assert post({"code": dossier.code, "pin": pin, "level": "satisfied"}).status_code == 201
    Rating.objects.filter(pk=dossier.pk).update(
        created_at=timezone.now() - timedelta(days=settings.RATING_CHANGE_DAYS, minutes=1)
    )
    response = post({"code": dossier.code, "pin": pin, "level": "unsatisfied"})
    assert response.status_code == 409
    assert Rating.objects.get().level == "satisfied"


def test_a_wrong_pin_gets_the_same_answer_as_an_unknown_code(office):
    dossier, pin = returned(office)
    wrong = "000000" if pin != "000000" else "111111"
    bad_pin = post({"code": dossier.code, "pin": wrong, "level": "satisfied"})
    unknown = post({"code": dossier.code + "9", "pin": pin, "level": "satisfied"})
    assert bad_pin.status_code == unknown.status_code == 404
    assert bad_pin.json() == unknown.json()
    assert not Rating.objects.exists()


def test_bad_input_gets_readable_400s(office):
    dossier, pin = returned(office)
    assert post({"code": dossier.code, "pin": pin, "level": "great"}).status_code == 400
    response = post({"code": dossier.code, "pin": pin, "level": "satisfied", "criteria": {"nope": "satisfied"}})
    assert response.status_code == 400 and "nope" in str(response.json())
    assert not Rating.objects.exists()


@override_settings(LOOKUP_MAX_FAILURES=3)
def test_ratings_are_throttled_like_the_lookup(office):
    dossier, pin = returned(office)
    for _ in range(3):
        assert post({"code": dossier.code, "pin": "999999x", "level": "satisfied"}).status_code == 404
    response = post({"code": dossier.code, "pin": pin, "level": "satisfied"})
    assert response.status_code == 429 and response["Retry-After"]
    assert not Rating.objects.exists()


def test_the_progress_table_counts_ratings_on_the_day_the_dossier_ended(office):
    dossier, pin = returned(office)
    other, other_pin = returned(office)
    post({"code": dossier.code, "pin": pin, "level": "unsatisfied"})
    post({"code": other.code, "pin": other_pin, "level": "very_satisfied"})
    client = APIClient()
    client.force_authenticate(office.supervisor)
    total = client.get("/api/v1/stats/").json()["total"]
    assert total["ratings"] == 2 and total["satisfaction_rate"] == 50.0
    # A change moves the rating between the levels; rebuilding from the events and ratings agrees.
    post({"code": dossier.code, "pin": pin, "level": "satisfied"})
    assert client.get("/api/v1/stats/").json()["total"]["satisfaction_rate"] == 100.0

    def rating_rows():
        rows = stats.StatCounter.objects.values_list("grain", "day", "ratings", "ratings_unsatisfied")
        return sorted(row for row in rows if row[2] or row[3])

    before = rating_rows()
    assert before
    stats.rebuild()
    assert rating_rows() == before


def test_one_tap_from_the_lookup_page_and_the_link_of_the_final_message(office):
    dossier, pin = returned(office)
    page = Client().get(f"/tra-cuu/?ma={dossier.code}&pin={pin}")
    assert b'name="level" value="very_satisfied"' in page.content
    response = Client().post("/danh-gia/", {"ma": dossier.code, "pin": pin, "level": "satisfied"})
    assert response.status_code == 200 and Rating.objects.get().level == "satisfied"
    assert response["Cache-Control"].startswith("no-store") or "no-store" in response["Cache-Control"]
    # The details form adds criteria and a comment to the same rating.
    response = Client().post(
        "/danh-gia/",
        {
            "ma": dossier.code,
            "pin": pin,
            "level": "satisfied",
            "details": "1",
            "criterion_attitude": "unsatisfied",
            "comment": "Cán bộ chưa nhiệt tình.",
        },
    )
    assert response.status_code == 200
    rating = Rating.objects.get()
    assert rating.criteria == {"attitude": "unsatisfied"} and rating.needs_attention
    # The signed link of the final message rates without code and PIN.
    path = links.rating_url(dossier).removeprefix("http://testserver").split("://", 1)[-1]
    path = path[path.index("/danh-gia/") :]
    assert Client().get(path).status_code == 200
    assert Client().post(path, {"level": "very_satisfied"}).status_code == 200
    assert Rating.objects.get().level == "very_satisfied"
    assert Client().get("/danh-gia/forged:token:x/").status_code == 404
    # A wrong PIN on the page: the lookup's answer.
    assert Client().post("/danh-gia/", {"ma": dossier.code, "pin": "12", "level": "satisfied"}).status_code == 404


def test_the_link_before_the_end_says_when_rating_opens(office):
    dossier, _pin = office.to_approval(now=timezone.now() - timedelta(hours=1))
    path = links.rating_url(dossier)
    path = path[path.index("/danh-gia/") :]
    response = Client().get(path)
    assert response.status_code == 200 and b'name="level"' not in response.content
    assert Client().post(path, {"level": "satisfied"}).status_code == 409


def test_low_ratings_and_comments_reach_the_leader_with_the_dossier_and_no_one_else(office):
    dossier, pin = returned(office)
    kept, kept_pin = returned(office)
    post({"code": dossier.code, "pin": pin, "level": "unsatisfied", "comment": "Chậm."})
    post({"code": kept.code, "pin": kept_pin, "level": "very_satisfied"})
    client = Client()
    client.force_login(office.leader)
    page = client.get("/can-bo/danh-gia/")
    assert page.status_code == 200
    assert dossier.code.encode() in page.content and b"Ch\xe1\xba\xadm." in page.content
    assert kept.code.encode() not in page.content
    detail = client.get(f"/can-bo/ho-so/{dossier.code}/")
    assert "Chậm." in detail.content.decode()
    # Another commune's leader sees nothing of it; a specialist is not shown the list.
    other = Office()
    client.force_login(other.leader)
    assert dossier.code.encode() not in client.get("/can-bo/danh-gia/").content
    client.force_login(office.specialist)
    assert client.get("/can-bo/danh-gia/").status_code == 403


def test_officers_cannot_change_ratings_in_the_admin(office):
    dossier, pin = returned(office)
    post({"code": dossier.code, "pin": pin, "level": "unsatisfied"})
    admin = make_user("quantri", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    page = client.get(f"/admin/ratings/rating/{dossier.pk}/change/")
    assert page.status_code == 200 and b'name="level"' not in page.content
    assert client.get("/admin/ratings/rating/add/").status_code == 403


def test_the_final_messages_carry_the_rating_link(office):
    from notifications.models import Notification

    dossier, _pin = returned(office)
    bodies = " ".join(Notification.objects.filter(dossier=dossier).values_list("body", flat=True))
    assert "/danh-gia/" in bodies
    assert Role.LEADER


def test_the_leaders_list_costs_the_same_queries_whatever_the_number_of_ratings(office):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    dossier, pin = returned(office)
    post({"code": dossier.code, "pin": pin, "level": "unsatisfied", "comment": "Chậm."})
    client = Client()
    client.force_login(office.leader)
    assert client.get("/can-bo/danh-gia/").status_code == 200  # warm the session and caches
    with CaptureQueriesContext(connection) as small:
        assert client.get("/can-bo/danh-gia/").status_code == 200
    for i in range(6):
        more, more_pin = returned(office)
        post({"code": more.code, "pin": more_pin, "level": "unsatisfied", "comment": f"Lần {i}."})
    with CaptureQueriesContext(connection) as large:
        page = client.get("/can-bo/danh-gia/")
    assert page.content.decode().count("Lần ") == 6
    assert len(large.captured_queries) == len(small.captured_queries)


def test_the_rating_forms_work_when_the_browser_posts_them_with_a_null_origin(office):
    """A browser may post the rating forms with `Origin: null` (a page cached from when the lookup
    sent `Referrer-Policy: no-referrer`, a privacy extension): the rating forms carry their own
    credential and must not need the CSRF check."""
    dossier, pin = returned(office)
    client = Client(enforce_csrf_checks=True)
    response = client.post("/danh-gia/", {"ma": dossier.code, "pin": pin, "level": "satisfied"}, HTTP_ORIGIN="null")
    assert response.status_code == 200 and Rating.objects.get(pk=dossier.pk).level == "satisfied"
    link = f"/danh-gia/{links.make_token(dossier)}/"
    response = client.post(link, {"level": "very_satisfied"}, HTTP_ORIGIN="null")
    assert response.status_code == 200 and Rating.objects.get(pk=dossier.pk).level == "very_satisfied"
    # Without the right PIN nothing changes, CSRF or not.
    assert client.post("/danh-gia/", {"ma": dossier.code, "pin": "000000", "level": "unsatisfied"}).status_code == 404
    assert Rating.objects.get(pk=dossier.pk).level == "very_satisfied"


def test_a_citizen_signed_in_with_the_national_account_rates_their_own_dossier_in_one_tap(office):
    import re

    from interop.citizen import SESSION_KEY

    dossier, _pin = returned(office)  # the applicant's ID number is the factory's 001099012345
    client = Client(enforce_csrf_checks=True)
    session = client.session
    session[SESSION_KEY] = {"id_number": "001099012345", "name": "Nguyễn Văn An"}
    session.save()
    page = client.get(f"/cong-dan/ho-so/{dossier.code}/").content.decode()
    assert page.count('name="level"') == 3 and 'name="pin"' not in page
    action = f"/cong-dan/ho-so/{dossier.code}/danh-gia/"
    assert f'action="{action}"' in page
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = client.post(action, {"level": "very_satisfied", "csrfmiddlewaretoken": token})
    assert response.status_code == 200
    rating = Rating.objects.get(pk=dossier.pk)
    assert rating.level == "very_satisfied" and RatingRevision.objects.get(dossier=dossier).channel == "citizen"
    # The session is the credential here, so the CSRF check applies: a forged post changes nothing.
    assert client.post(action, {"level": "unsatisfied"}).status_code == 403
    assert Rating.objects.get(pk=dossier.pk).level == "very_satisfied"
    # Another citizen's dossier answers as an unknown code; without a signed-in citizen, 403.
    other = Office()
    theirs, _pin = other.to_approval()
    other.act(theirs, "approve")
    other.act(theirs, "return_result", collected_by="Chủ hồ sơ")
    from dossiers.models import Dossier

    Dossier.objects.filter(pk=theirs.pk).update(applicant_id_number="079088001122")
    data = {"level": "unsatisfied", "csrfmiddlewaretoken": token}
    assert client.post(f"/cong-dan/ho-so/{theirs.code}/danh-gia/", data).status_code == 404
    assert client.post("/cong-dan/ho-so/KHONG-CO/danh-gia/", data).status_code == 404
    anonymous = Client()
    assert anonymous.post(action, {"level": "unsatisfied"}).status_code == 403
    assert not Rating.objects.filter(pk=theirs.pk).exists()
    assert Rating.objects.get(pk=dossier.pk).level == "very_satisfied"
