"""The lifecycle's one hook: `dossier_transition`.

`dossiers.services.dossier_create()` and `dossier_act()` send it for every event they write,
*inside* the transition's transaction, after the dossier row and its `DossierEvent` are saved.
Receivers write their own rows in that transaction (the notifications outbox, the statistics
counters), so a receiver that raises rolls the whole transition back: nothing is half-done.
Receivers must not call the broker or any outside service; they write rows that a Celery task
delivers later.

The lifecycle app imports none of its listeners (import-linter enforces it, see
docs/architecture.md); each listener connects itself in its `AppConfig.ready()`:
- `notifications.outbox.on_dossier_event` — citizen and officer notifications (outbox rows);
- `reporting.stats.on_dossier_event` — the Decision 766 counters;
- `interop.outbox.on_transition` — the national portal's sync rows (sent by `interop.sync`);
- `signing.services.on_dossier_event` — a proposed result's document (and number), and how the
  result was handed over (refuses an electronic hand-over without a signed result). The signature
  itself is not a listener: the approval calls the signing app before its transaction
  (`dossiers.sealing`).
`tests/dossiers/test_signals.py` checks that exactly these are connected.
"""

from django.dispatch import Signal

# Sent with sender=Dossier and the keyword arguments `dossier` (locked, saved) and `event`.
dossier_transition = Signal()


def transition(dossier, event):
    """Tell the listeners about `event` (plain `send`: a listener's error propagates)."""
    dossier_transition.send(sender=type(dossier), dossier=dossier, event=event)


# Sent with sender=Dossier and `dossier` when the public lookup of its code has just been locked
# (too many wrong PINs, dossiers.throttle): the desk should know, the citizen may call. Outside any
# transition; `notifications.security.on_lookup_locked` tells the receiving agency's reception.
lookup_locked = Signal()
