"""Signing fixtures: a test CA made here (signing.pki, with `cryptography`), the `local` back end
with a leader's PKCS#12 file, and the `csc` back end against the project's sandbox, served by a
real HTTP server (pytest-django's live_server) whose CA is the test CA."""

import pytest

from signing import pki
from tests.factories import Office

from .helpers import make_test_ca, use_csc_sandbox

PASSPHRASE = "test-passphrase"


@pytest.fixture(autouse=True)
def _english():
    """Messages are matched in English here (the Vietnamese catalogue is checked elsewhere)."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def test_ca(tmp_path):
    """A root CA made for this test; its certificate is SIGNING_TRUST_ROOTS' only entry."""
    return make_test_ca(tmp_path)


@pytest.fixture
def office(db):
    office = Office()
    office.leader.first_name, office.leader.last_name = "Trần", "Thị Bình"
    office.leader.save()
    return office


@pytest.fixture
def local_signing(settings, tmp_path, test_ca, office):
    """The `local` back end: the leader's own PKCS#12 file, issued by the test CA."""
    folder = tmp_path / "keystores"
    folder.mkdir()
    leaf = pki.issue(test_ca, "Trần Thị Bình", organisation="UBND xã Thử Nghiệm")
    (folder / f"{office.leader.username}.p12").write_bytes(pki.pkcs12_bytes(leaf, test_ca, PASSPHRASE))
    settings.RESULT_SIGNING_BACKEND = "local"
    settings.SIGNING_LOCAL_KEYSTORE_DIR = str(folder)
    settings.SIGNING_LOCAL_PASSPHRASE = PASSPHRASE
    settings.SIGNING_TRUST_ROOTS = [str(test_ca.path)]
    settings.SIGNING_CSC_SANDBOX = False
    settings.SIGNING_TSA_URL = ""
    settings.SITE_URL = "http://testserver"
    return leaf


@pytest.fixture
def csc_signing(settings, live_server, tmp_path, test_ca, transactional_db):
    """The `csc` back end talking HTTP to the sandbox on the live server; it confirms by itself
    after a moment (the "phone"), with a short confirmation timeout for the fault tests."""
    use_csc_sandbox(settings, live_server.url, tmp_path, test_ca)
    return live_server
