from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SigningConfig(AppConfig):
    """Signed electronic results (issue 17): the result document, PAdES signing through a local
    PKCS#12 file or a remote CSC service, public verification by QR code, the citizen's download,
    and the digitisation of received documents. It sits above the lifecycle: the approval calls it
    through `dossiers.sealing`, and it hears of transitions through `dossiers.signals`."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "signing"
    verbose_name = _("Signed electronic results")

    def ready(self):
        from dossiers import sealing
        from dossiers.signals import dossier_transition

        from . import services

        sealing.register(services.Sealer())
        dossier_transition.connect(services.on_dossier_event, dispatch_uid="signing.services")
