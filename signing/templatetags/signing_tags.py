"""The signing app's blocks on the lifecycle's pages (the lifecycle's templates load them; its
Python code imports nothing of this app)."""

from django import template
from django.conf import settings

from ..models import Digitisation, ResultDocument
from ..views import may_digitise, may_prepare_result

register = template.Library()


@register.inclusion_tag("signing/_result_panel.html", takes_context=True)
def result_panel(context, dossier, approval=False):
    """The result document of `dossier`: number, signed or not, preview / download, upload."""
    user = context["request"].user
    document = ResultDocument.objects.current(dossier)
    return {
        "dossier": dossier,
        "document": document,
        "enabled": bool(settings.RESULT_SIGNING_BACKEND),
        "approval": approval,
        "may_upload": may_prepare_result(user, dossier) and not (document and document.is_signed),
        "request": context["request"],
    }


@register.inclusion_tag("signing/_digitisation_panel.html", takes_context=True)
def digitisation_panel(context, dossier):
    user = context["request"].user
    return {
        "dossier": dossier,
        "digitisation": Digitisation.objects.filter(dossier=dossier).first(),
        "may_digitise": may_digitise(user, dossier),
    }
