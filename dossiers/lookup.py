# Placeholder: the citizen lookup is being written.
from django.http import HttpResponse


def lookup_page(request):
    return HttpResponse(status=501)
