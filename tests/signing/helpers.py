"""Shared by the signing tests and the browser tests: the `csc` back end pointed at the project's
sandbox on a live server, with a test CA made here (signing.pki) as the sandbox's CA and the only
trust root."""

from django.core.cache import cache

from signing import pki
from signing.sandbox import FAULT_KEY


def make_test_ca(folder, name="Một Cửa Test Root CA"):
    """A root CA whose certificate is written to `folder`/test-ca.pem (`ca.path`)."""
    ca = pki.make_ca(name)
    ca.path = folder / "test-ca.pem"
    ca.path.write_bytes(ca.cert_pem)
    return ca


def use_csc_sandbox(settings, base_url, folder, ca, *, auto_confirm=0.5):
    """RESULT_SIGNING_BACKEND=csc against the sandbox at `base_url`, whose CA (in `folder`/sandbox)
    is `ca`, with its TSA. `auto_confirm` seconds: the sandbox's "phone" confirms by itself (0:
    only a tap on Confirm at /sandbox/csc/ does)."""
    sandbox = folder / "sandbox"
    sandbox.mkdir(exist_ok=True)
    (sandbox / "ca.pem").write_bytes(ca.cert_pem)
    (sandbox / "ca.key").write_bytes(ca.key_pem)
    settings.RESULT_SIGNING_BACKEND = "csc"
    settings.SIGNING_CSC_SANDBOX = True
    settings.SIGNING_SANDBOX_DIR = str(sandbox)
    settings.SIGNING_CSC_URL = f"{base_url}/sandbox/csc/csc/v1"
    settings.SIGNING_CSC_API_KEY = "sandbox-api-key"
    settings.SIGNING_SANDBOX_AUTO_CONFIRM_SECONDS = auto_confirm
    settings.SIGNING_SANDBOX_FAULT = ""
    settings.SIGNING_CONFIRM_TIMEOUT = 4
    settings.SIGNING_CONFIRM_POLL_SECONDS = 0.2
    settings.SIGNING_TRUST_ROOTS = [str(ca.path)]
    settings.SIGNING_TSA_URL = f"{base_url}/sandbox/csc/tsa"
    settings.SITE_URL = base_url
    cache.delete(FAULT_KEY)
    return sandbox
