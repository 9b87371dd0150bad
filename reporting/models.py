"""Statistics tables (Decision 766 progress table): what `reporting.stats.record()` keeps up to date in
the same transaction as every transition, so that the numbers never need a count over the dossiers.

* `StatFact` — one row per accepted dossier: agency, field, channel, day of acceptance, day and kind
  of the end (finished early / on time / late, refused, withdrawn, stopped) and whether it was late. Lists behind the
  "received" and "finished" numbers read it.
* `StatSpan` — the days during which an accepted, unfinished dossier stayed in one class (in progress
  or paused) with one due day. Lists behind the "in progress" and "paused" numbers at a period's end
  read it.
* `StatCounter` — signed per-day, per-month and all-time deltas per (agency, field). A period's flows are the
  sum of its days; a stock at the end of a day is the sum of all deltas up to that day. The day a
  dossier becomes overdue is known when its due date is set, so that change is written ahead, on
  its future day: nothing here changes with the passing of time.

See docs/statistics.md for the definitions and the design. The tables keep their names from
before the split of the dossiers app (`dossiers_stat…`): migration 0001 is state-only.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from dossiers.models import Channel, Dossier
from procedures.models import Agency, Field


class FinishKind(models.TextChoices):
    EARLY = "early", _("Finished early")
    ON_TIME = "on_time", _("Finished on time")
    LATE = "late", _("Finished late")
    REFUSED = "refused", _("Refused")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    STOPPED = "stopped", _("Stopped")


class StatFact(models.Model):
    dossier = models.OneToOneField(
        Dossier, verbose_name=_("dossier"), primary_key=True, on_delete=models.CASCADE, related_name="stat_fact"
    )
    # The competent agency (cơ quan chủ trì giải quyết) and the procedure's field at acceptance.
    agency = models.ForeignKey(Agency, verbose_name=_("agency"), on_delete=models.PROTECT, related_name="+")
    field = models.ForeignKey(Field, verbose_name=_("field"), on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    received_on = models.DateField(_("received on"))
    finished_on = models.DateField(_("finished on"), null=True, blank=True)
    finish_kind = models.CharField(_("end"), max_length=10, choices=FinishKind.choices, blank=True)
    # Ended late: a late result, or a refusal, withdrawal or stop judged late (`stats.end_is_late`).
    late = models.BooleanField(_("late"), default=False, db_default=False)

    class Meta:
        db_table = "dossiers_statfact"
        verbose_name = _("dossier statistics fact")
        verbose_name_plural = _("dossier statistics facts")
        indexes = [
            models.Index(fields=["agency", "received_on"], name="statfact_received_idx"),
            models.Index(fields=["agency", "finished_on", "finish_kind"], name="statfact_finished_idx"),
            # The service index's "ended late" list: the period's late ends, newest first
            # (reporting.index.costly_dossiers; 19 → 1 ms at 1,000,000 dossiers).
            models.Index(fields=["finished_on", "dossier"], condition=models.Q(late=True), name="statfact_late_idx"),
        ]

    def __str__(self):
        return f"{self.dossier_id} {self.received_on} {self.finish_kind}"


class StatSpan(models.Model):
    """The dossier was open at the end of every day D with start_on <= D < end_on (end_on null:
    still open), paused or not, and overdue at the end of D exactly when due_on <= D."""

    dossier = models.ForeignKey(Dossier, verbose_name=_("dossier"), on_delete=models.CASCADE, related_name="stat_spans")
    start_on = models.DateField(_("from day"))
    end_on = models.DateField(_("until day (excluded)"), null=True, blank=True)
    paused = models.BooleanField(_("paused"), default=False)
    due_on = models.DateField(_("due day"), null=True, blank=True)

    class Meta:
        db_table = "dossiers_statspan"
        verbose_name = _("dossier statistics span")
        verbose_name_plural = _("dossier statistics spans")
        indexes = [models.Index(fields=["dossier", "end_on"], name="statspan_dossier_idx")]
        constraints = [
            # At most one open span per dossier: the one `record()` closes at the next change.
            models.UniqueConstraint(
                fields=["dossier"], condition=models.Q(end_on__isnull=True), name="statspan_one_open"
            )
        ]

    def __str__(self):
        return f"{self.dossier_id} {self.start_on}–{self.end_on or ''}"


class StatCounter(models.Model):
    """Signed deltas, written at three grains (the day, its month and the all-time total) so that any
    range or prefix sum reads few rows."""

    class Grain(models.TextChoices):
        DAY = "d", _("Day")
        MONTH = "m", _("Month")
        TOTAL = "t", _("All time")

    grain = models.CharField(_("grain"), max_length=1, choices=Grain.choices)
    # The day, the first day of the month, or 0001-01-01 for the all-time total.
    day = models.DateField(_("day"))
    agency = models.ForeignKey(Agency, verbose_name=_("agency"), on_delete=models.PROTECT, related_name="+")
    field = models.ForeignKey(Field, verbose_name=_("field"), on_delete=models.PROTECT, related_name="+")
    # Flows: events of that day.
    received_in_person = models.IntegerField(default=0)
    received_online = models.IntegerField(default=0)
    received_post = models.IntegerField(default=0)
    finished_early = models.IntegerField(default=0)
    finished_on_time = models.IntegerField(default=0)
    finished_late = models.IntegerField(default=0)
    refused = models.IntegerField(default=0)
    withdrawn = models.IntegerField(default=0)
    stopped = models.IntegerField(default=0)
    # ... of which judged late (Decision 766: every end of processing is on time or late).
    refused_late = models.IntegerField(default=0, db_default=0)
    withdrawn_late = models.IntegerField(default=0, db_default=0)
    stopped_late = models.IntegerField(default=0, db_default=0)
    # Citizens' ratings (ratings/), written on the day the rated dossier ended: a rating belongs to
    # the period in which its dossier ended; a changed rating moves between the level columns.
    ratings = models.IntegerField(default=0, db_default=0)
    ratings_very_satisfied = models.IntegerField(default=0, db_default=0)
    ratings_unsatisfied = models.IntegerField(default=0, db_default=0)
    # Stocks: changes of the number of open dossiers per class at the end of that day.
    in_progress_on_time = models.IntegerField(default=0)
    in_progress_overdue = models.IntegerField(default=0)
    paused_on_time = models.IntegerField(default=0)
    paused_overdue = models.IntegerField(default=0)

    class Meta:
        db_table = "dossiers_statcounter"
        verbose_name = _("statistics counter")
        verbose_name_plural = _("statistics counters")
        constraints = [
            models.UniqueConstraint(fields=["grain", "day", "agency", "field"], name="statcounter_unique"),
        ]
        indexes = [models.Index(fields=["agency", "grain", "day"], name="statcounter_agency_idx")]

    def __str__(self):
        return f"{self.grain} {self.day} {self.agency_id}/{self.field_id}"


class StatStep(models.Model):
    """One workflow step of a dossier as held by one agency (inter-agency routing): when it began,
    its deadline, when it ended and how (early / on time / late). `reporting.handling` keeps it in
    the transaction of every transition and reads it for the per-agency accountability table: each
    agency's on-time rate for its own steps, and which agency held a late dossier when it went late."""

    dossier = models.ForeignKey(Dossier, verbose_name=_("dossier"), on_delete=models.CASCADE, related_name="+")
    agency = models.ForeignKey(Agency, verbose_name=_("agency"), on_delete=models.PROTECT, related_name="+")
    stage = models.CharField(_("stage"), max_length=20)
    started_at = models.DateTimeField(_("started at"))
    due_at = models.DateTimeField(_("step deadline"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    outcome = models.CharField(_("step result"), max_length=10, blank=True)

    class Meta:
        verbose_name = _("step held by an agency")
        verbose_name_plural = _("steps held by agencies")
        indexes = [
            models.Index(fields=["agency", "ended_at"], name="statstep_agency_end_idx"),
            models.Index(fields=["dossier", "started_at"], name="statstep_dossier_idx"),
        ]

    def __str__(self):
        return f"{self.dossier_id} {self.agency_id} {self.stage}"
