# Placeholder: printed forms are being written.
from django.http import HttpResponse


def form_pdf(request, code, form):
    return HttpResponse(status=501)
