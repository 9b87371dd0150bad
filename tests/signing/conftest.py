"""Signing fixtures: a test CA made here (signing.pki, with `cryptography`), the `local` back end
with a leader's PKCS#12 file, and the `csc` back end against the project's sandbox, served by a
real HTTP server (pytest-django's live_server) whose CA is the test CA."""

import pytest

from signing import pki
from tests.factories import Office

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
    ca = pki.make_ca("Một Cửa Test Root CA")
    path = tmp_path / "test-ca.pem"
    path.write_bytes(ca.cert_pem)
    ca.path = path
    return ca


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
def sandbox_dir(tmp_path, test_ca):
    """The sandbox's folder holding the test CA (so its certificates chain to it)."""
    folder = tmp_path / "sandbox"
    folder.mkdir()
    (folder / "ca.pem").write_bytes(test_ca.cert_pem)
    (folder / "ca.key").write_bytes(test_ca.key_pem)
    return folder


@pytest.fixture
def csc_signing(settings, live_server, sandbox_dir, test_ca, transactional_db):
    """The `csc` back end talking HTTP to the sandbox on the live server; it confirms by itself
    after a moment (the "phone"), with a short confirmation timeout for the fault tests."""
    settings.RESULT_SIGNING_BACKEND = "csc"
    settings.SIGNING_CSC_SANDBOX = True
    settings.SIGNING_SANDBOX_DIR = str(sandbox_dir)
    settings.SIGNING_CSC_URL = f"{live_server.url}/sandbox/csc/csc/v1"
    settings.SIGNING_CSC_API_KEY = "sandbox-api-key"
    settings.SIGNING_SANDBOX_AUTO_CONFIRM_SECONDS = 0.5
    settings.SIGNING_SANDBOX_FAULT = ""
    settings.SIGNING_CONFIRM_TIMEOUT = 4
    settings.SIGNING_CONFIRM_POLL_SECONDS = 0.2
    settings.SIGNING_TRUST_ROOTS = [str(test_ca.path)]
    settings.SIGNING_TSA_URL = f"{live_server.url}/sandbox/csc/tsa"
    settings.SITE_URL = live_server.url
    from django.core.cache import cache

    cache.delete("signing-sandbox-fault")
    return live_server
