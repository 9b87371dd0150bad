"""The sandbox of the national portal, under /sandbox/dvcqg/ (mounted only when DVCQG_SANDBOX is
on): the JSON services of `interop.fields` (`/auth`, `/integration`), the files of online
submissions, a page to watch its state, make an online submission and set its faults, and the
OIDC provider (`oidc.py`)."""

import hashlib
import hmac
import json

from django.conf import settings
from django.contrib import messages
from django.db.models import Sum
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from interop import fields as F

from . import seed, services
from .citizens import CITIZENS
from .models import (
    SandboxCatalogueEntry,
    SandboxDossier,
    SandboxFaults,
    SandboxFile,
    SandboxProgress,
    SandboxSubmission,
)


def _session_for(username):
    return hmac.new(settings.SECRET_KEY.encode(), f"dvcqg-sandbox:{username}".encode(), hashlib.sha256).hexdigest()


def _json_body(request):
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


@csrf_exempt
@require_POST
def auth(request):
    body = _json_body(request) or {}
    username, password = str(body.get(F.USERNAME, "")), str(body.get(F.PASSWORD, ""))
    if (
        not settings.DVCQG_USERNAME
        or username != settings.DVCQG_USERNAME
        or not hmac.compare_digest(password, settings.DVCQG_PASSWORD)
    ):
        return JsonResponse({F.ERROR_CODE: "403", F.MESSAGE: "sai tài khoản"})
    return JsonResponse({F.ERROR_CODE: "00", F.SESSION: _session_for(username)})


@csrf_exempt
@require_POST
def integration(request):
    body = _json_body(request)
    if body is None:
        return JsonResponse({F.ERROR_CODE: "400", F.MESSAGE: "not a JSON object"}, status=400)
    if not hmac.compare_digest(str(body.get(F.SESSION, "")), _session_for(settings.DVCQG_USERNAME)):
        return JsonResponse({F.ERROR_CODE: "401", F.MESSAGE: "phiên làm việc không hợp lệ"})
    try:
        answer, delay = services.handle(str(body.get(F.SERVICE, "")), body, request)
    except services.Fault as fault:
        return JsonResponse({F.ERROR_CODE: str(fault.status), F.MESSAGE: "lỗi giả lập"}, status=fault.status)
    services.pause(delay)
    return JsonResponse(answer)


def file(request, pk):
    if not hmac.compare_digest(request.GET.get(F.SESSION, ""), _session_for(settings.DVCQG_USERNAME)):
        raise Http404
    row = SandboxFile.objects.filter(pk=pk).first()
    if row is None:
        raise Http404
    return HttpResponse(bytes(row.content), content_type=row.content_type)


FAULT_FIELDS = ("fail_rate", "timeout_rate", "delay_seconds", "duplicate_rate", "reorder_rate")


@never_cache
def index(request):
    faults = SandboxFaults.get()
    return render(
        request,
        "interop/sandbox/index.html",
        {
            "faults": faults,
            "fault_fields": [(name, getattr(faults, name)) for name in FAULT_FIELDS],
            "dossiers": SandboxDossier.objects.count(),
            "progress": SandboxProgress.objects.count(),
            "repeats": SandboxProgress.objects.aggregate(n=Sum("repeats"))["n"] or 0,
            "submissions": SandboxSubmission.objects.order_by("-id")[:20],
            "catalogue": SandboxCatalogueEntry.objects.count(),
            "citizens": sorted(CITIZENS.items()),
            "procedures": seed.online_procedures(),
        },
    )


@require_POST
def set_faults(request):
    faults = SandboxFaults.get()
    for name in FAULT_FIELDS:
        try:
            value = float(request.POST.get(name, getattr(faults, name)))
        except ValueError:
            messages.error(request, f"{name}: không phải là số")
            return redirect("sandbox_dvcqg:index")
        setattr(faults, name, max(0.0, min(value, 60.0 if name == "delay_seconds" else 1.0)))
    faults.down = request.POST.get("down") == "on"
    faults.save()
    messages.success(request, "Đã lưu cấu hình lỗi giả lập.")
    return redirect("sandbox_dvcqg:index")


@require_POST
def submit(request):
    citizen = request.POST.get("citizen", "")
    procedure_code = request.POST.get("procedure", "")
    if citizen not in CITIZENS or procedure_code not in dict(seed.online_procedures()):
        messages.error(request, "Chọn công dân và thủ tục.")
        return redirect("sandbox_dvcqg:index")
    row = seed.make_submission(citizen, procedure_code)
    messages.success(request, f"Đã nộp hồ sơ trực tuyến {row.national_code}.")
    return redirect("sandbox_dvcqg:index")


@require_POST
def load_catalogue(request):
    count = seed.load_catalogue()
    messages.success(request, f"Danh mục quốc gia: {count} thủ tục (có vài khác biệt để thử đối chiếu).")
    return redirect("sandbox_dvcqg:index")
