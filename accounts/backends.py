from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.db.models import Sum


class AxesBackend(AxesStandaloneBackend):
    """django-axes' lockout check, first in AUTHENTICATION_BACKENDS.

    Every login over HTTP passes the request (Django's LoginView and admin login, DRF's token
    view). Calls without one come from code in the process itself (a management command, the
    test client's `login()`), where there is no client address to throttle: they are let
    through to the next backend instead of failing."""

    # See also accounts.signals.audit_login_failed, which carries the lockout flag set on the
    # 5th failure from DRF's wrapper to the Django request.

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        # DRF's token view passes its Request wrapper: flag the Django request underneath, the
        # one AxesMiddleware looks at when it turns a lockout into the 429 answer.
        request = getattr(request, "_request", request)
        return super().authenticate(request, username=username, password=password, **kwargs)


class LoginThrottleHandler(AxesDatabaseHandler):
    """django-axes' database handler with one limit per lockout parameter.

    AXES_LOCKOUT_PARAMETERS is ["username", "ip_address"]: failures are counted per user name
    (AXES_FAILURE_LIMIT, whatever the address) and per address (AXES_ADDRESS_FAILURE_LIMIT, whatever
    the user name). Axes compares one number with one limit, so the address count is scaled to the
    user-name limit: the address locks at its own limit, the user name at its own."""

    def get_failures(self, request, credentials=None):
        counts = [
            attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        ]
        by_username, by_address = (counts + [0, 0])[:2]
        limit = settings.AXES_FAILURE_LIMIT
        return max(by_username, by_address * limit // max(1, settings.AXES_ADDRESS_FAILURE_LIMIT))
