from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class InteropConfig(AppConfig):
    """The National Public Service Portal (DVCQG) integration: it hears of every transition
    through `dossiers.signals.dossier_transition` (inside the transaction) and writes sync rows;
    Celery sends them. The lifecycle never imports it."""

    name = "interop"
    verbose_name = _("National Public Service Portal")

    def ready(self):
        from dossiers import citizens
        from dossiers.signals import dossier_transition

        from . import citizen, outbox

        dossier_transition.connect(outbox.on_transition, dispatch_uid="interop.outbox")
        # The ratings app asks who is signed in without importing this app (dossiers/citizens.py).
        citizens.register(lambda request: (citizen.signed_in_citizen(request) or {}).get("id_number"))
        checks.register(sandbox_in_production, checks.Tags.security, deploy=True)


def sandbox_in_production(app_configs, **kwargs):
    from django.conf import settings

    if settings.DVCQG_SANDBOX and not settings.DEBUG:
        return [
            checks.Warning(
                "DVCQG_SANDBOX is on: /sandbox/dvcqg/ lets anyone sign in as a test citizen.",
                hint="Turn DVCQG_SANDBOX off and point DVCQG_URL and DVCQG_OIDC_ISSUER at the real portal.",
                id="interop.W001",
            )
        ]
    return []
