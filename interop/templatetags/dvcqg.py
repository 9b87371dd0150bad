"""Template tags of the integration, used by the lifecycle's templates (which must not import
`interop` in Python): the sync panel of the dossier page, the national reference of a dossier and
the citizen's sign-in link."""

from django import template
from django.conf import settings

from .. import citizen
from ..models import InboundSubmission
from ..sync import dossier_sync_state

register = template.Library()


@register.inclusion_tag("interop/includes/sync_panel.html", takes_context=True)
def dvcqg_sync_panel(context, dossier):
    """The dossier's sync state with the national portal (2 queries), apart from its status."""
    reference = InboundSubmission.objects.filter(dossier_id=dossier.pk).values_list("national_code", flat=True).first()
    return {
        "dossier": dossier,
        "sync": dossier_sync_state(dossier),
        "reference": reference,
        "request": context.get("request"),
    }


@register.simple_tag
def dvcqg_enabled():
    """Whether this installation synchronises with a national portal (DVCQG_URL is set)."""
    return bool(settings.DVCQG_URL)


@register.simple_tag
def dvcqg_reference(dossier):
    """The dossier's national reference (an online submission from the portal), or ""."""
    return InboundSubmission.objects.filter(dossier_id=dossier.pk).values_list("national_code", flat=True).first() or ""


@register.inclusion_tag("interop/includes/citizen_sign_in.html", takes_context=True)
def dvcqg_citizen_sign_in(context):
    request = context.get("request")
    return {
        "configured": citizen.configured(),
        "citizen": citizen.signed_in_citizen(request) if request is not None else None,
    }
