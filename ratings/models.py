"""A citizen's rating of the handling of one dossier, and its append-only history.

The criteria are those of the evaluation of the handling of administrative procedures (Decree
61/2018 Art. 31, kept by Decree 118/2025; docs/statistics.md says which sources could be checked),
each rated on the same three levels as the overall rating.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from dossiers.models import Dossier


class Level(models.TextChoices):
    VERY_SATISFIED = "very_satisfied", _("Very satisfied")
    SATISFIED = "satisfied", _("Satisfied")
    UNSATISFIED = "unsatisfied", _("Not satisfied")


# (key, label) in the order of the decree; the API's `criteria` keys.
CRITERIA = (
    ("total_time", _("Total handling time compared with the time set by law")),
    ("agency_time", _("Time taken by each agency that handled the dossier")),
    ("agencies_contacted", _("Number of agencies you had to contact to complete the dossier")),
    ("contacts", _("Number of times you had to contact the desk to complete the dossier")),
    ("one_stop", _("Reception, handling and return of the result at the one-stop desk")),
    ("attitude", _("Attitude of the officers")),
    ("publicity", _("Publication of the procedure")),
    ("feedback", _("How your comments and complaints were received and answered")),
    ("online", _("Progress and quality of the online public service")),
)
CRITERIA_KEYS = tuple(key for key, _label in CRITERIA)


class Channel(models.TextChoices):
    LOOKUP = "lookup", _("Lookup page (code and PIN)")
    LINK = "link", _("Link in the final message")
    API = "api", _("API (code and PIN)")
    CITIZEN = "citizen", _("My dossiers (signed in with the national account)")


class Rating(models.Model):
    """One per dossier. The citizen may change it for RATING_CHANGE_DAYS after the first rating;
    officers can read it but never change it (the admin is read-only)."""

    dossier = models.OneToOneField(
        Dossier, verbose_name=_("dossier"), primary_key=True, on_delete=models.CASCADE, related_name="rating"
    )
    level = models.CharField(_("overall level"), max_length=20, choices=Level.choices)
    criteria = models.JSONField(_("criteria"), default=dict, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    # Unsatisfied, or with a comment: shown to the agency's leaders.
    needs_attention = models.BooleanField(_("needs attention"), default=False)
    created_at = models.DateTimeField(_("rated at"))
    updated_at = models.DateTimeField(_("last changed at"))
    changes = models.PositiveIntegerField(_("changes"), default=0)

    class Meta:
        verbose_name = _("citizen rating")
        verbose_name_plural = _("citizen ratings")
        indexes = [
            models.Index(fields=["needs_attention", "updated_at"], name="rating_attention_idx"),
            # The service index's "rated not satisfied" list: the unsatisfied ratings' dossiers,
            # read without the table on PostgreSQL (reporting.index.costly_dossiers; one in ten
            # ratings: 20 → 2 ms for 290,000 ratings).
            models.Index(
                fields=["dossier"],
                include=["updated_at"],
                condition=models.Q(level=Level.UNSATISFIED),
                name="rating_unsatisfied_idx",
            ),
        ]

    def __str__(self):
        return f"{self.dossier_id} {self.level}"


class RatingRevision(models.Model):
    """Append-only: every submission of a rating, as submitted (the audit of ratings)."""

    dossier = models.ForeignKey(Dossier, verbose_name=_("dossier"), on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(_("at"))
    level = models.CharField(_("overall level"), max_length=20, choices=Level.choices)
    criteria = models.JSONField(_("criteria"), default=dict, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    ip_address = models.GenericIPAddressField(_("address"), null=True, blank=True)

    class Meta:
        verbose_name = _("rating revision")
        verbose_name_plural = _("rating revisions")
        indexes = [models.Index(fields=["dossier", "at"], name="ratingrevision_dossier_idx")]

    def __str__(self):
        return f"{self.dossier_id} {self.at:%Y-%m-%d %H:%M} {self.level}"
