"""The hook the statistics hear ratings through (the same pattern as `dossiers.signals`).

`rating_saved` (`rating=`, `previous_level=`: the level before a change, None for a new rating) is
sent inside the rating's transaction, after the rating and its revision are written: a receiver
that fails rolls the rating back. `reporting.stats.on_rating_saved` keeps the rating counters.
"""

from django.dispatch import Signal

rating_saved = Signal()
