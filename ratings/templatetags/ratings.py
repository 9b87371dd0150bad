"""`{% dossier_rating dossier %}`: the citizen's rating on the officer's dossier page (read-only)."""

from django import template

from ratings.models import CRITERIA, Level, Rating

register = template.Library()


@register.inclusion_tag("ratings/includes/dossier_rating.html")
def dossier_rating(dossier):
    rating = Rating.objects.filter(pk=dossier.pk).first()
    levels = dict(Level.choices)
    criteria = []
    if rating is not None:
        criteria = [
            {"label": label, "value": levels[rating.criteria[key]]} for key, label in CRITERIA if key in rating.criteria
        ]
    return {
        "rating": rating,
        "level": levels.get(rating.level) if rating else None,
        "criteria": criteria,
        "unsatisfied": rating is not None and rating.level == Level.UNSATISFIED,
    }
