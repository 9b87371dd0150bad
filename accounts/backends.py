from axes.backends import AxesStandaloneBackend


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
