"""What the sandbox does with each service call: the national side's behaviour, storing what it
receives in its own tables, with the faults of `SandboxFaults` injected around it."""

import random
import time

from django.db import IntegrityError, transaction
from django.db.models import F as Col
from django.urls import reverse
from django.utils import timezone

from interop import fields as F

from .models import SandboxCatalogueEntry, SandboxDossier, SandboxFaults, SandboxProgress, SandboxSubmission


def _sync_dossier(body):
    for state in body.get(F.DATA) or []:
        code = str(state.get(F.D_CODE) or "")
        if not code:
            continue
        with transaction.atomic():
            row, _new = SandboxDossier.objects.select_for_update().get_or_create(national_code=code)
            version = str(state.get(F.D_UPDATED_AT) or "")
            # The newest state wins: a late (re-ordered or repeated) older one changes nothing.
            if not row.version or version >= row.version:
                row.data, row.status, row.version = state, str(state.get(F.D_STATUS) or ""), version
            row.deliveries += 1
            row.updated_at = timezone.now()
            row.save()
    return {}


def _update_progress(body):
    for entry in body.get(F.DATA) or []:
        key = str(entry.get(F.P_KEY) or "")
        code = str(entry.get(F.P_CODE) or "")
        if not key or not code:
            continue
        try:
            with transaction.atomic():
                SandboxProgress.objects.create(national_code=code, key=key, data=entry)
        except IntegrityError:  # a repeat of an entry already held: dropped, counted
            SandboxProgress.objects.filter(key=key).update(repeats=Col("repeats") + 1)
    return {}


def _lookup(body):
    code = str(body.get(F.LOOKUP_CODE) or "")
    row = SandboxDossier.objects.filter(national_code=code).first()
    if row is None:
        return {F.RESULT: []}
    entries = [p.data for p in SandboxProgress.objects.filter(national_code=code).order_by("id")]
    return {F.RESULT: [{**row.data, F.L_PROGRESS: entries}]}


def _file_url(request, file_id):
    return request.build_absolute_uri(reverse("sandbox_dvcqg:file", args=[file_id]))


def _submissions(body, request):
    rows = list(SandboxSubmission.objects.filter(acknowledged_at__isnull=True).order_by("id")[:100])
    result = []
    for row in rows:
        data = dict(row.data)
        data[F.D_FILES] = [
            {F.FILE_NAME: item.get(F.FILE_NAME), F.FILE_URL: _file_url(request, item["file_id"])}
            for item in row.data.get(F.D_FILES) or []
        ]
        result.append(data)
    return {F.RESULT: result}


def _acknowledge(body):
    for item in body.get(F.DATA) or []:
        SandboxSubmission.objects.filter(national_code=str(item.get(F.D_CODE) or "")).update(
            acknowledged_at=timezone.now(), our_code=str(item.get(F.D_RECEIPT_NUMBER) or "")
        )
    return {}


def _catalogue(body):
    return {F.RESULT: [entry.data for entry in SandboxCatalogueEntry.objects.all()]}


def _procedure(body):
    entry = SandboxCatalogueEntry.objects.filter(code=str(body.get(F.PROCEDURE_CODE_PARAM) or "")).first()
    return {F.RESULT: [entry.data] if entry else []}


HANDLERS = {
    F.SYNC_DOSSIER: lambda body, request: _sync_dossier(body),
    F.UPDATE_PROGRESS: lambda body, request: _update_progress(body),
    F.LOOKUP_DOSSIER: lambda body, request: _lookup(body),
    F.FETCH_SUBMISSIONS: _submissions,
    F.ACK_SUBMISSION: lambda body, request: _acknowledge(body),
    F.LIST_PROCEDURES: lambda body, request: _catalogue(body),
    F.GET_PROCEDURE: lambda body, request: _procedure(body),
}
WRITES = (F.SYNC_DOSSIER, F.UPDATE_PROGRESS, F.ACK_SUBMISSION)


class Fault(Exception):
    """Answer with this HTTP status without doing the work."""

    def __init__(self, status):
        self.status = status


def _take_held():
    with transaction.atomic():
        faults = SandboxFaults.objects.select_for_update().get(pk=1)
        held, faults.held = faults.held, None
        faults.save(update_fields=["held"])
    return held


def _apply_held(request):
    held = _take_held()
    if held:
        HANDLERS[held["service"]](held["body"], request)


def handle(service, body, request):
    """The answer to one integration call (with its faults). Returns (payload, delay seconds)."""
    handler = HANDLERS.get(service)
    if handler is None:
        return {F.ERROR_CODE: "404", F.MESSAGE: f"unknown service {service}"}, 0
    faults = SandboxFaults.get()
    SandboxFaults.objects.filter(pk=1).update(calls=Col("calls") + 1)
    if faults.down:
        raise Fault(503)
    if random.random() < faults.fail_rate:
        SandboxFaults.objects.filter(pk=1).update(faults=Col("faults") + 1)
        raise Fault(500)
    if service in WRITES and random.random() < faults.reorder_rate and faults.held is None:
        # Answer now, do it after the next call: out of order.
        SandboxFaults.objects.filter(pk=1).update(held={"service": service, "body": body}, faults=Col("faults") + 1)
        return {F.ERROR_CODE: "00"}, 0
    if service not in WRITES:
        _apply_held(request)  # a read sees everything that was answered before it
    answer = handler(body, request)
    if service in WRITES:
        _apply_held(request)
        if random.random() < faults.duplicate_rate:
            SandboxFaults.objects.filter(pk=1).update(faults=Col("faults") + 1)
            handler(body, request)  # delivered twice
    delay = 0
    if random.random() < faults.timeout_rate:
        SandboxFaults.objects.filter(pk=1).update(faults=Col("faults") + 1)
        delay = faults.delay_seconds  # done, but answered too late
    return {F.ERROR_CODE: "00", **answer}, delay


def pause(seconds):
    if seconds:
        time.sleep(seconds)
