"""Our dossiers, events and procedures in the national portal's fields (the names are in
`interop.fields`; this module only decides which of our values goes where).

`dossier_state` and `progress_entry` are built inside the transition (from the locked dossier row
and its new event only: no query); `complete` adds, when the row is sent, what needs a query and
never changes (the national codes, the agency, the field)."""

from django.conf import settings

from dossiers import workflow

from . import fields as F


def national_code(dossier):
    """The dossier's code on the national side: the national reference of an online submission
    received from the portal; otherwise our first identifier (its code, or the provisional
    reference it had before acceptance: stable for the dossier's whole life)."""
    from .models import InboundSubmission

    reference = InboundSubmission.objects.filter(dossier_id=dossier.pk).values_list("national_code", flat=True).first()
    return reference or dossier.pin_key


def national_procedure_code(procedure):
    from .models import ProcedureMapping

    mapped = ProcedureMapping.objects.filter(procedure_id=procedure.pk).values_list("national_code", flat=True).first()
    return mapped or procedure.code


def item_key(event):
    """The progress entry's idempotency key: this installation's unit code and the event's id."""
    return f"{settings.DVCQG_UNIT_CODE}-{event.pk}"


def _person(user):
    if user is None:
        return "Hệ thống"
    return user.get_full_name() or user.get_username()


def progress_text(event):
    """What was done, in the control slip's words (Vietnamese, as every printed form), with the
    officer's comment."""
    spec = workflow.event_spec(event.action)
    label = (spec.print_label or str(spec.label)) if spec is not None else event.action
    return f"{label}: {event.comment}" if event.comment else label


def dossier_state(dossier, event):
    """The dossier as DongBoHoSoMC sends it, at `event` (without its codes: see `complete`)."""
    snapshot = dossier.procedure_snapshot or {}
    fee = snapshot.get("fee_vnd")
    return {
        F.D_RECEIPT_NUMBER: dossier.code if dossier.received_at else "",
        F.D_PROCEDURE_NAME: snapshot.get("name", ""),
        F.D_APPLICANT: dossier.applicant_name,
        F.D_APPLICANT_KIND: "1",
        F.D_ID_NUMBER: dossier.applicant_id_number,
        F.D_EMAIL: dossier.applicant_email,
        F.D_PHONE: dossier.applicant_phone,
        F.D_ADDRESS: dossier.applicant_address,
        F.D_SUMMARY: snapshot.get("name", ""),
        F.D_SUBMITTED_AT: F.moment(dossier.submitted_at),
        F.D_RECEIVED_AT: F.moment(dossier.received_at),
        F.D_DUE_AT: F.moment(dossier.due_at),
        F.D_STATUS: F.STATUS_CODES[dossier.status],
        F.D_FINISHED_AT: F.moment(dossier.finished_at),
        F.D_RETURNED_AT: F.moment(dossier.returned_at),
        F.D_CHANNEL: F.CHANNEL_CODES.get(dossier.channel, "0"),
        F.D_NOTE: dossier.note,
        F.D_FILES: [{F.FILE_NAME: str(name)} for name in dossier.documents or []],
        F.D_FEES: [{F.FEE_NAME: snapshot.get("fee_text", ""), F.FEE_AMOUNT: fee}] if fee else [],
        F.D_RESULTS: [{F.RESULT_NAME: dossier.result_summary}] if dossier.result_summary else [],
        F.D_UPDATED_AT: f"{F.moment(event.created_at)}.{event.pk:012d}",
    }


def progress_entry(dossier, event):
    """The event as one CapNhatTienDoHoSoMC entry (without the dossier's code)."""
    return {
        F.P_KEY: item_key(event),
        F.P_ACTOR: _person(event.actor),
        F.P_ACTOR_TITLE: "",
        F.P_AT: F.moment(event.created_at),
        F.P_DEPARTMENT: "",
        F.P_TEXT: progress_text(event),
        F.P_STATUS: F.STATUS_CODES[event.to_status],
        F.P_STEP_STARTED_AT: F.moment(dossier.step_started_at),
        F.P_STEP_DUE_AT: F.moment(dossier.step_due_at),
    }


def complete(state, dossier, code):
    """`state` with the codes and the names that are read when the row is sent."""
    procedure = dossier.procedure
    return {
        **state,
        F.D_CODE: code,
        F.D_PROCEDURE_CODE: national_procedure_code(procedure),
        F.D_FIELD_CODE: procedure.field.code,
        F.D_FIELD_NAME: procedure.field.name,
        F.D_AGENCY: dossier.competent_agency.name,
        F.D_AGENCY_CODE: dossier.receiving_agency.code,
    }
