"""The lifecycle's one hook (dossiers/signals.py): exactly the documented listeners hear every
transition, inside its transaction, so a failing listener leaves nothing half-done."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from dossiers.models import Dossier, DossierEvent, Status
from dossiers.services import dossier_act
from dossiers.signals import dossier_transition
from notifications.models import Notification
from reporting.models import StatFact
from tests.factories import Office

pytestmark = pytest.mark.django_db


def test_exactly_the_documented_listeners_are_connected():
    names = sorted(f"{r.__module__}.{r.__qualname__}" for r in dossier_transition._live_receivers(Dossier)[0])
    assert [n for n in names if not n.startswith("interop.")] == [
        "notifications.outbox.on_transition",
        "reporting.stats.on_dossier_event",
        "signing.services.on_dossier_event",
    ]
    # The hook's docstring lists them: the documentation and the wiring agree.
    from dossiers import signals

    assert "notifications.outbox.on_dossier_event" in signals.__doc__
    assert "reporting.stats.on_dossier_event" in signals.__doc__
    assert "signing.services.on_dossier_event" in signals.__doc__


def test_listeners_write_in_the_transition_transaction():
    dossier, _pin = Office().receive()
    assert StatFact.objects.filter(dossier=dossier).exists()
    assert Notification.objects.filter(dossier=dossier).exists()


def test_a_failing_listener_rolls_the_transition_back():
    office = Office()
    dossier, _pin = office.receive()
    events = DossierEvent.objects.filter(dossier=dossier).count()

    def broken(sender, **kwargs):
        raise ImproperlyConfigured("listener down")

    dossier_transition.connect(broken, dispatch_uid="test-broken")
    try:
        with pytest.raises(ImproperlyConfigured):
            dossier_act(dossier=dossier, actor=office.reception, action="assign")
    finally:
        dossier_transition.disconnect(dispatch_uid="test-broken")
    dossier.refresh_from_db()
    assert dossier.status == Status.RECEIVED
    assert DossierEvent.objects.filter(dossier=dossier).count() == events
