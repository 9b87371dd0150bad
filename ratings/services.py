"""Rating a dossier: the one function that writes ratings (`rate`), and the checks of its input.

The rules (docs/ratings.md): only the holder rates (code + PIN, or the signed link of the final
message — the views check that); only after the end (returned, refused, withdrawn or stopped); one
rating per dossier, which the holder may change for RATING_CHANGE_DAYS after the first rating; each
submission is kept as a `RatingRevision`; the statistics hear of it in the same transaction.
"""

import ipaddress
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.network import client_ip
from dossiers.models import Dossier, Status

from .models import CRITERIA_KEYS, Level, Rating, RatingRevision
from .signals import rating_saved

# The statuses after which a dossier may be rated: its handling has ended for the citizen.
RATEABLE_STATUSES = (Status.RETURNED, Status.REFUSED, Status.WITHDRAWN, Status.STOPPED)
MAX_COMMENT_LENGTH = 1000


class RatingError(Exception):
    """A rating that cannot be taken now (HTTP 409); `message` is for the citizen."""

    def __init__(self, message):
        self.message = message
        super().__init__(str(message))


class RatingInputError(ValueError):
    """Invalid input: `errors` maps field → [messages] (HTTP 400)."""

    def __init__(self, errors):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in errors.items()))


NOT_ENDED_MESSAGE = _(
    "You can rate the handling of this dossier once it has ended: when the result has been handed over, "
    "or the dossier was refused, withdrawn or stopped."
)
CLOSED_MESSAGE = _("This dossier has already been rated, and the time to change the rating has passed.")


def clean_input(level, criteria=None, comment=""):
    """(level, criteria, comment) checked and normalised, or RatingInputError."""
    errors = {}
    if level not in Level.values:
        errors["level"] = [_("Choose one of: very satisfied, satisfied, not satisfied.")]
    criteria = criteria or {}
    if not isinstance(criteria, dict):
        errors["criteria"] = [_("The criteria must be an object of criterion → level.")]
        criteria = {}
    cleaned = {}
    for key, value in criteria.items():
        if key not in CRITERIA_KEYS:
            errors.setdefault("criteria", []).append(_("Unknown criterion “%(key)s”.") % {"key": str(key)[:40]})
        elif value in ("", None):
            continue
        elif value not in Level.values:
            errors.setdefault("criteria", []).append(
                _("The level of “%(key)s” must be very satisfied, satisfied or not satisfied.") % {"key": key}
            )
        else:
            cleaned[key] = value
    comment = "" if comment is None else str(comment)
    comment = comment.replace("\x00", "").strip()
    if len(comment) > MAX_COMMENT_LENGTH:
        errors["comment"] = [
            _("Keep the comment under %(max)d characters (it has %(n)d).")
            % {"max": MAX_COMMENT_LENGTH, "n": len(comment)}
        ]
    if errors:
        raise RatingInputError(errors)
    return level, cleaned, comment


def changeable_until(rating):
    return rating.created_at + timedelta(days=settings.RATING_CHANGE_DAYS)


def _address(request):
    if request is None:
        return None
    raw = client_ip(request)
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


def rate(*, dossier, level, criteria=None, comment="", channel, request=None, now=None):
    """Rate `dossier` (or change its rating): (rating, created). RatingInputError for bad input,
    RatingError before the end or after the change window. One transaction with the dossier row
    locked, so two submissions of one dossier never both create a rating."""
    level, criteria, comment = clean_input(level, criteria, comment)
    now = now or timezone.now()
    with transaction.atomic():
        status = Dossier.objects.select_for_update().values_list("status", flat=True).get(pk=dossier.pk)
        if status not in RATEABLE_STATUSES:
            raise RatingError(NOT_ENDED_MESSAGE)
        rating = Rating.objects.filter(pk=dossier.pk).first()
        previous = None
        attention = level == Level.UNSATISFIED or bool(comment)
        if rating is None:
            rating = Rating.objects.create(
                dossier_id=dossier.pk,
                level=level,
                criteria=criteria,
                comment=comment,
                needs_attention=attention,
                created_at=now,
                updated_at=now,
            )
        else:
            if now > changeable_until(rating):
                raise RatingError(CLOSED_MESSAGE)
            previous = rating.level
            rating.level, rating.criteria, rating.comment = level, criteria, comment
            rating.needs_attention, rating.updated_at = attention, now
            rating.changes += 1
            rating.save(update_fields=["level", "criteria", "comment", "needs_attention", "updated_at", "changes"])
        RatingRevision.objects.create(
            dossier_id=dossier.pk,
            at=now,
            level=level,
            criteria=criteria,
            comment=comment,
            channel=channel,
            ip_address=_address(request),
        )
        rating_saved.send(sender=Rating, rating=rating, previous_level=previous)
    return rating, previous is None
