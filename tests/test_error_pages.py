"""`make run`'s demo mode (DEBUG on, FRIENDLY_ERROR_PAGES on): our error pages, not Django's
debug pages; with the setting off a developer gets Django's debug pages (issue 15, item 7)."""

import logging
from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.urls import path

from motcua.urls import urlpatterns as project_urls


@contextmanager
def mock_log():
    """The records of the django.request logger (pytest's logging plugin is off in this suite)."""
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def broken(request):
    raise RuntimeError("boom")


urlpatterns = [path("hong/", broken), *project_urls]


@pytest.mark.django_db
@override_settings(DEBUG=True, FRIENDLY_ERROR_PAGES=True)
def test_demo_mode_shows_our_404_for_an_unknown_path_and_an_unknown_procedure(client):
    for url in ("/khong-co-trang-nay/", "/thu-tuc/9.999999/"):
        response = client.get(url)
        assert response.status_code == 404
        assert "Không tìm thấy trang" in response.content.decode()
        assert "DEBUG = True" not in response.content.decode()


@pytest.mark.django_db
@override_settings(DEBUG=True, FRIENDLY_ERROR_PAGES=True)
def test_demo_mode_still_redirects_to_the_path_with_a_slash(client):
    assert client.get("/thu-tuc")["Location"] == "/thu-tuc/"


@pytest.mark.django_db
@override_settings(DEBUG=True, FRIENDLY_ERROR_PAGES=True, ROOT_URLCONF=__name__)
def test_demo_mode_shows_our_500_and_logs_the_error(client):
    client.raise_request_exception = False
    with mock_log() as logged:
        response = client.get("/hong/")

    assert response.status_code == 500
    assert "Lỗi máy chủ" in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert any("boom" in str(record.exc_info) for record in logged)


@pytest.mark.django_db
@override_settings(DEBUG=True, FRIENDLY_ERROR_PAGES=False)
def test_developers_keep_djangos_debug_pages(client):
    response = client.get("/khong-co-trang-nay/")

    assert response.status_code == 404
    assert "DEBUG = True" in response.content.decode()


@pytest.mark.django_db
@override_settings(DEBUG=True, FRIENDLY_ERROR_PAGES=True)
def test_a_views_own_404_answer_is_kept(client):
    response = client.get("/tra-cuu/", {"ma": "KHONG-CO", "pin": "123456"})

    assert response.status_code == 404
    assert "Không tìm thấy trang" not in response.content.decode()


@pytest.mark.django_db
def test_the_embedded_database_gives_no_covering_index_warning(capsys, settings):
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("the warning is about SQLite")
    call_command("check", "--database", "default")

    assert "W040" not in capsys.readouterr().err
