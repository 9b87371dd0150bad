"""`manage.py signing_sandbox`: get the CSC sandbox ready for `make run` (docs/signing.md).

Only while SIGNING_CSC_SANDBOX is on. It makes the sandbox's CA and timestamp certificate (once,
before the web server's threads could race to make them on first use), a test certificate at the
sandbox for every active leader, and gives the demo leaders (procedures/demo.py) a signer profile
with the title printed under their name, unless one is set already (the admin's edits win).
Idempotent: a second run changes nothing.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from procedures.demo import DEMO_USERS
from procedures.models import Role
from signing import sandbox
from signing.models import SandboxCredential, SignerProfile

# The demo leaders sign as the head of their agency (Decree 30/2020: the title above the signature;
# the agency is in the document's header).
DEMO_TITLE = "Giám đốc"


class Command(BaseCommand):
    help = "Prepare the CSC signing sandbox: its CA and timestamp certificate, a test certificate per leader."

    def handle(self, *args, **options):
        if not settings.SIGNING_CSC_SANDBOX:
            raise CommandError("SIGNING_CSC_SANDBOX is off: the signing sandbox is not served here.")
        sandbox._tsa()  # the CA and the TSA's certificate, in SIGNING_SANDBOX_DIR
        demo_leaders = {user.username for user in DEMO_USERS if user.role == Role.LEADER}
        leaders = (
            get_user_model()
            .objects.filter(is_active=True, memberships__role=Role.LEADER)
            .distinct()
            .order_by("username")
        )
        profiles = {p.user_id: p for p in SignerProfile.objects.filter(user__in=leaders)}
        made = titled = 0
        for user in leaders:
            profile = profiles.get(user.pk)
            if user.username in demo_leaders and not (profile and profile.title):
                profile, _created = SignerProfile.objects.update_or_create(user=user, defaults={"title": DEMO_TITLE})
                titled += 1
            user_id = (profile.csc_user_id if profile else "") or user.username
            if not SandboxCredential.objects.filter(user_id=user_id).exists():
                sandbox.credential_for(user_id)
                made += 1
        self.stdout.write(
            f"signing sandbox: CA {sandbox.ca_path()}, {made} new test certificates, "
            f"{titled} demo signer titles, {leaders.count()} leaders"
        )
