from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportingConfig(AppConfig):
    """The Decision 766 progress table, its counters, dashboards, exports and the register book.
    It hears about transitions through `dossiers.signals.dossier_transition`."""

    name = "reporting"
    verbose_name = _("Statistics")

    def ready(self):
        from dossiers.signals import dossier_transition

        from . import stats

        dossier_transition.connect(stats.on_dossier_event, dispatch_uid="reporting.stats")
        from ratings.signals import rating_saved

        rating_saved.connect(stats.on_rating_saved, dispatch_uid="reporting.stats.ratings")
