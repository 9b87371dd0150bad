"""Friendly error pages with DEBUG on (`make run`'s demo mode: settings.FRIENDLY_ERROR_PAGES).

With DEBUG off Django already renders templates/404.html and 500.html. With DEBUG on it shows
its technical pages (English, with settings and a traceback): right for a developer, alarming
for a demo audience. This middleware, when FRIENDLY_ERROR_PAGES is on, answers with our pages
instead: a view's Http404 or exception (the exception is still logged with its traceback, in
var/ or the console), and a path no URL matches. Views that answer 404 themselves (the lookup's
"no dossier matches") are left alone. Turn the setting off (FRIENDLY_ERROR_PAGES=0 make run) to
get Django's debug pages back.
"""

import logging

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404
from django.shortcuts import render

logger = logging.getLogger("django.request")


class FriendlyErrorPagesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def _active(self):
        return settings.DEBUG and settings.FRIENDLY_ERROR_PAGES

    def __call__(self, request):
        response = self.get_response(request)
        # No view ran (no URL matched): Django's debug 404 page; CommonMiddleware (outside) can
        # still redirect to the path with a slash.
        if self._active() and response.status_code == 404 and getattr(request, "resolver_match", None) is None:
            return render(request, "404.html", status=404)
        return response

    def process_exception(self, request, exception):
        if not self._active():
            return None
        if isinstance(exception, PermissionDenied):
            return None  # Django renders our 403 page whatever DEBUG is
        if isinstance(exception, Http404):
            return render(request, "404.html", status=404)
        if isinstance(exception, (BadRequest, SuspiciousOperation)):
            return render(request, "400.html", status=400)
        logger.error("Internal Server Error: %s", request.path, exc_info=exception, extra={"request": request})
        return render(request, "500.html", status=500)
