from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


class ProceduresConfig(AppConfig):
    name = "procedures"
    verbose_name = _("Procedure catalogue")

    def ready(self):
        from . import search
        from .models import Procedure

        # This process's search index follows its own changes at once (others within
        # SEARCH_INDEX_CHECK_SECONDS).
        post_save.connect(search.invalidate, sender=Procedure, dispatch_uid="procedures.search.saved")
        post_delete.connect(search.invalidate, sender=Procedure, dispatch_uid="procedures.search.deleted")
