# Placeholder: the officer workspace views are being written.
from django.http import HttpResponse


def _todo(request, *args, **kwargs):
    return HttpResponse(status=501)


workspace = receive = procedure_suggest = approvals = detail = receipt = act = attachment_download = _todo
