from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _


class LanguageMiddleware:
    """Vietnamese unless the visitor chose another language with the switch (the language
    cookie). Unlike Django's LocaleMiddleware it ignores the browser's Accept-Language: a
    public-service portal in Vietnam speaks Vietnamese first, whatever the phone's UI language."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.supported = {code for code, _ in settings.LANGUAGES}

    def __call__(self, request):
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if language not in self.supported:
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        patch_vary_headers(response, ("Cookie",))
        response.headers.setdefault("Content-Language", language)
        return response


class RequestGuardMiddleware:
    """Refuses, before anything reads the request, what the rest of the stack must never see:

    - a body announced larger than REQUEST_MAX_BODY_BYTES (413, from Content-Length; the body
      is not read, so a 200 MB upload costs nothing);
    - a NUL byte in the path, a query parameter (name or value), a form field of a url-encoded
      POST or the Authorization header (400). PostgreSQL refuses NUL in text parameters, so one
      reaching a query was a 500; no legitimate input contains one.

    Both answers are readable: JSON `{"detail"}` under /api/, the 400 page elsewhere."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.REQUEST_MAX_BODY_BYTES:
            return self.refuse(request, 413, self.too_large_message())
        if self.has_nul(request):
            return self.refuse(request, 400, _("The request contains a character that is not allowed (NUL)."))
        return self.get_response(request)

    @staticmethod
    def too_large_message():
        return _("The request is too large (more than %(limit)s).") % {
            "limit": filesizeformat(settings.REQUEST_MAX_BODY_BYTES)
        }

    @staticmethod
    def has_nul(request):
        if "\x00" in request.path_info or "\x00" in request.META.get("HTTP_AUTHORIZATION", ""):
            return True
        sources = [request.GET]
        if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
            sources.append(request.POST)
        return any(
            "\x00" in key or any("\x00" in value for value in values) for q in sources for key, values in q.lists()
        )

    @staticmethod
    def refuse(request, status, message):
        if request.path_info.startswith("/api/"):
            return JsonResponse({"detail": str(message)}, status=status)
        return render(request, "400.html", {"message": message}, status=status)
