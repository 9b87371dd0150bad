"""`manage.py signing_sandbox` (make run): the sandbox's CA and TSA, a test certificate per leader,
the demo leaders' title; idempotent. And the signed result speaks the site's language whatever the
leader's screen uses."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from procedures.models import Role
from signing.models import SandboxCredential, SignerProfile
from signing.services import signer_identity
from tests.factories import make_user


def test_signing_sandbox_prepares_the_demo_leaders_once(settings, tmp_path, office):
    settings.SIGNING_CSC_SANDBOX = True
    settings.SIGNING_SANDBOX_DIR = str(tmp_path / "sandbox")
    demo_leader = make_user("lanhdao", agency=office.agency, role=Role.LEADER)
    SignerProfile.objects.create(user=office.leader, title="Phó Chủ tịch UBND xã")
    out = StringIO()
    call_command("signing_sandbox", stdout=out)
    assert "2 new test certificates, 1 demo signer titles, 2 leaders" in out.getvalue()
    assert {"ca.pem", "ca.key", "tsa.pem", "tsa.key"} <= {p.name for p in (tmp_path / "sandbox").iterdir()}
    assert SignerProfile.objects.get(user=demo_leader).title == "Giám đốc"
    assert SignerProfile.objects.get(user=office.leader).title == "Phó Chủ tịch UBND xã"  # the admin's title stays
    assert set(SandboxCredential.objects.values_list("user_id", flat=True)) == {"lanhdao", office.leader.username}
    call_command("signing_sandbox", stdout=out)
    assert "0 new test certificates, 0 demo signer titles, 2 leaders" in out.getvalue()
    assert SandboxCredential.objects.count() == 2


def test_signing_sandbox_refuses_without_the_sandbox(settings, db):
    settings.SIGNING_CSC_SANDBOX = False
    with pytest.raises(CommandError, match="SIGNING_CSC_SANDBOX is off"):
        call_command("signing_sandbox")


def test_the_default_title_is_in_the_sites_language_whatever_the_screens(office):
    with translation.override("en"):
        _profile, _name, title = signer_identity(office.leader, office.agency)
    with translation.override("vi"):
        expected = translation.gettext("Leader of %(agency)s") % {"agency": office.agency.name}
    assert title == expected and not title.startswith("Leader")
