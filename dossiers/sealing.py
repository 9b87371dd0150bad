"""The one interface through which the approval gets its signed result (issue 17).

An action marked `signed` on its `workflow.Action` (the leader's approval) is sealed by the
registered sealer; the signing app registers one at start-up (`SigningConfig.ready`), so the
lifecycle imports nothing of it. `dossier_act()` calls, in this order:

1. `prepare(dossier=, actor=, action=, now=, params=)` *before* it opens the transaction: the
   sealer renders and signs the result. A remote-signing service may wait for the leader's
   confirmation on the phone; no row lock and no SQLite write lock is held meanwhile. A failed
   signature raises `SealError` (a `WorkflowConflict`, HTTP 409 with the service's message) and
   nothing is written: no event, no counter change. It returns a seal, or None (nothing to sign).
2. `commit(dossier, actor, now, seal)` inside the transaction, with the dossier row locked: it
   stores the signed result and returns data for the event (the signed file's SHA-256 goes into
   the dossier's hash chain with it).
3. `discard(seal)` when the transaction failed after a successful signature (a concurrent change):
   the signed file is thrown away.

`public_links(dossier)` gives the citizen's lookup the signed result's download and verification
addresses (`result_url`, `verification_url`; None when there is nothing to offer).
Without a registered sealer nothing is signed and the links are None.
"""

from .workflow import WorkflowConflict


class SealError(WorkflowConflict):
    """The result could not be signed; the message says why, for the leader."""


_sealer = None

NO_LINKS = {"result_url": None, "verification_url": None}


def register(sealer):
    global _sealer
    _sealer = sealer


def prepare(**kwargs):
    return _sealer.prepare(**kwargs) if _sealer is not None else None


def commit(dossier, actor, now, seal):
    return _sealer.commit(dossier, actor, now, seal)


def discard(seal):
    _sealer.discard(seal)


def public_links(dossier):
    return _sealer.public_links(dossier) if _sealer is not None else dict(NO_LINKS)
