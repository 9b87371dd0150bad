from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RatingsConfig(AppConfig):
    """Citizens' ratings of the handling of their dossier (Decree 118/2025 Art. 30–33): the one-tap
    rating from the lookup page, the receipt's QR or the final message's link, the API, the leaders'
    list of low ratings and comments. It sits above the lifecycle (it reads dossiers and the lookup's
    code + PIN check) and below the statistics, which count ratings through `signals.rating_saved`."""

    name = "ratings"
    verbose_name = _("Citizen ratings")
