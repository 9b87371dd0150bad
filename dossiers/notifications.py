"""Writing notifications into the outbox, and rendering their texts.

Every function here only writes rows (in the caller's transaction); `dossiers.delivery` sends
them. Texts come from admin-editable `NotificationTemplate` rows, with built-in defaults.
Templates are rendered by a sandboxed Django template engine: no loaders (no `{% include %}`
of project templates), no `{% load %}`able libraries, and a context of plain strings only.
"""

import logging
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Q
from django.template import Context, Engine
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from procedures.models import Membership, Role

from .models import (
    PAUSED_STATUSES,
    Dossier,
    Notification,
    NotificationChannel,
    NotificationTemplate,
    ReminderPolicy,
    Stage,
    Status,
)

log = logging.getLogger(__name__)

# Built-in texts (Vietnamese: they are messages to Vietnamese citizens and officers); an admin
# overrides any of them with a NotificationTemplate row of the same kind and channel.
DEFAULT_TEXTS = {
    "citizen.received": (
        "Hồ sơ {{ code }} đã được tiếp nhận",
        "Kính gửi {{ applicant_name }},\n\nHồ sơ {{ code }} ({{ procedure }}) đã được tiếp nhận lúc {{ received_at }}."
        " Ngày hẹn trả kết quả: {{ due_at }}.\nTra cứu: {{ lookup_url }}",
    ),
    "citizen.supplement": (
        "Hồ sơ {{ code }} cần bổ sung",
        "Kính gửi {{ applicant_name }},\n\nHồ sơ {{ code }} ({{ procedure }}) cần bổ sung, hoàn thiện:\n"
        "{{ missing_documents }}\n{{ reason }}\nTra cứu: {{ lookup_url }}",
    ),
    "citizen.refused": (
        "Hồ sơ {{ code }} bị từ chối",
        "Kính gửi {{ applicant_name }},\n\nHồ sơ {{ code }} ({{ procedure }}) không được tiếp nhận giải quyết."
        " Lý do: {{ reason }}\nTra cứu: {{ lookup_url }}",
    ),
    "citizen.result_ready": (
        "Hồ sơ {{ code }} đã có kết quả",
        "Kính gửi {{ applicant_name }},\n\nHồ sơ {{ code }} ({{ procedure }}) đã có kết quả. Mời ông/bà đến"
        " {{ agency }} để nhận kết quả (mang theo giấy tiếp nhận).\nTra cứu: {{ lookup_url }}",
    ),
    "citizen.extended": (
        "Hồ sơ {{ code }}: xin lỗi và hẹn lại ngày trả kết quả",
        "Kính gửi {{ applicant_name }},\n\nHồ sơ {{ code }} ({{ procedure }}) chưa giải quyết kịp hạn"
        " {{ original_due_at }}. Lý do: {{ reason }}. Ngày hẹn trả mới: {{ due_at }}. Chúng tôi xin lỗi ông/bà.\n"
        "Tra cứu: {{ lookup_url }}",
    ),
    "reminder.due_soon": (
        "Hồ sơ {{ code }} sắp đến hạn ({{ due_at }})",
        "Hồ sơ {{ code }} – {{ procedure }} – đến hạn lúc {{ due_at }}. Trạng thái: {{ status }}.\n{{ officer_url }}",
    ),
    "reminder.due_today": (
        "Hồ sơ {{ code }} đến hạn hôm nay",
        "Hồ sơ {{ code }} – {{ procedure }} – đến hạn hôm nay lúc {{ due_at }}. Trạng thái: {{ status }}.\n"
        "{{ officer_url }}",
    ),
    "reminder.overdue": (
        "Hồ sơ {{ code }} đã quá hạn",
        "Hồ sơ {{ code }} – {{ procedure }} – đã quá hạn từ {{ due_at }}. Trạng thái: {{ status }}.\n{{ officer_url }}",
    ),
    "reminder.step_overdue": (
        "Hồ sơ {{ code }}: bước xử lý đã quá hạn",
        "Bước «{{ stage }}» của hồ sơ {{ code }} – {{ procedure }} – đã quá hạn ({{ step_due_at }}).\n"
        "{{ officer_url }}",
    ),
    "reminder.extension_prompt": (
        "Hồ sơ {{ code }}: cần lập phiếu xin lỗi, hẹn lại trước hạn",
        "Hồ sơ {{ code }} đến hạn lúc {{ due_at }}. Nếu không kịp giải quyết, hãy lập phiếu xin lỗi và hẹn lại"
        " ngày trả kết quả (Mẫu 04) chậm nhất trước hạn một ngày.\n{{ officer_url }}",
    ),
    "digest": (
        "Tổng hợp hồ sơ ngày {{ today }}",
        "Chào {{ officer }},\n\nHồ sơ đang chờ anh/chị: {{ waiting }}\n"
        "Đến hạn trong ngày làm việc tới: {{ due_soon }}\nQuá hạn: {{ overdue }}\n{{ workspace_url }}",
    ),
}

# What each kind is for (admin choices).
KIND_LABELS = {
    "citizen.received": _("Citizen: dossier received"),
    "citizen.supplement": _("Citizen: supplement requested"),
    "citizen.refused": _("Citizen: dossier refused"),
    "citizen.result_ready": _("Citizen: result ready"),
    "citizen.extended": _("Citizen: apology and new due date"),
    "reminder.due_soon": _("Officer: due within one working day"),
    "reminder.due_today": _("Officer: due today"),
    "reminder.overdue": _("Officer: overdue (daily)"),
    "reminder.step_overdue": _("Officer: step deadline passed"),
    "reminder.extension_prompt": _("Officer: issue the apology letter while still possible"),
    "digest": _("Officer: morning digest"),
}

# The placeholders a template may use (shown in the admin's help text).
DOSSIER_PLACEHOLDERS = {
    "code": _("dossier code"),
    "applicant_name": _("applicant's name"),
    "procedure": _("procedure name"),
    "status": _("status"),
    "stage": _("stage"),
    "agency": _("agency that returns the result"),
    "received_at": _("received at"),
    "due_at": _("due at (appointment date)"),
    "original_due_at": _("due date before the extension"),
    "step_due_at": _("step deadline"),
    "reason": _("reason given by the officer"),
    "missing_documents": _("documents to supplement, one per line"),
    "lookup_url": _("public lookup page"),
    "officer_url": _("the dossier's page in the officer workspace"),
}
DIGEST_PLACEHOLDERS = {
    "today": _("date"),
    "officer": _("officer's name"),
    "waiting": _("dossiers waiting for the officer"),
    "due_soon": _("due within the next working day"),
    "overdue": _("overdue"),
    "workspace_url": _("officer workspace"),
}


def placeholders_for(kind):
    return DIGEST_PLACEHOLDERS if kind == "digest" else DOSSIER_PLACEHOLDERS


CITIZEN_EVENTS = {
    "receive": "citizen.received",
    "supplement_received": "citizen.received",
    "request_supplement": "citizen.supplement",
    "refuse": "citizen.refused",
    "approve": "citizen.result_ready",
    "mark_result_ready": "citizen.result_ready",
    "extend": "citizen.extended",
}

# A sandbox: the default tags and filters, no template loaders, no extra libraries.
ENGINE = Engine(autoescape=False, libraries={}, loaders=[])


def compile_text(text):
    """Compile an admin-edited text; raises django.template.TemplateSyntaxError if broken."""
    return ENGINE.from_string(text)


def _render(subject, body, context):
    ctx = Context(context, autoescape=False)
    return compile_text(subject).render(ctx).strip()[:255], compile_text(body).render(ctx).strip()


def render_text(kind, channel, context, template=None, lookups=None):
    """(subject, body) for kind × channel: the admin's active template (or `template`, for a
    preview), else the default. A broken admin template never loses the message: it falls back
    to the default text. Rendered in the site language whatever language the caller has active."""
    if template is not None:
        row = template
    elif lookups is not None:
        row = lookups.template(kind, channel)
    else:
        row = NotificationTemplate.objects.filter(kind=kind, channel=channel, active=True).first()
    with translation.override(settings.LANGUAGE_CODE):
        if row is not None:
            try:
                return _render(row.subject, row.body, context)
            except Exception:  # compile or render error in an admin's text
                log.exception("notification template %s/%s is broken; using the default text", kind, channel)
        return _render(*DEFAULT_TEXTS[kind], context)


def _fmt(dt):
    return date_format(timezone.localtime(dt), "SHORT_DATETIME_FORMAT") if dt else ""


def officer_path(dossier):
    return reverse("dossiers:detail", args=[dossier.code])


def dossier_context(dossier, event=None):
    data = (event.data if event else {}) or {}
    missing = [str(m) for m in data.get("missing_documents", [])]
    reason = event.comment if event else ""
    if missing and reason.strip() == "\n".join(missing).strip():
        reason = ""  # at intake the reason *is* the list: do not print it twice
    with translation.override(settings.LANGUAGE_CODE):
        return {
            "code": dossier.code,
            "applicant_name": dossier.applicant_name,
            "procedure": dossier.procedure_snapshot.get("name") or dossier.procedure.name,
            "status": str(dossier.get_status_display()),
            "stage": str(dossier.get_stage_display()),
            "agency": dossier.returning_agency.name,
            "received_at": _fmt(dossier.received_at),
            "due_at": _fmt(dossier.due_at),
            "original_due_at": _fmt(dossier.original_due_at),
            "step_due_at": _fmt(dossier.step_due_at),
            "reason": reason,
            "missing_documents": "\n".join(f"- {m}" for m in missing),
            "lookup_url": f"{settings.SITE_URL}{reverse('dossiers:lookup')}?{urlencode({'ma': dossier.code})}",
            "officer_url": f"{settings.SITE_URL}{officer_path(dossier)}",
        }


def sample_context(kind):
    """A context for the admin preview: the newest dossier's values, or a fixed sample."""
    if kind == "digest":
        return {
            "today": timezone.localdate().strftime("%d/%m/%Y"),
            "officer": "Nguyễn Thị Bình",
            "waiting": 7,
            "due_soon": 2,
            "overdue": 1,
            "workspace_url": f"{settings.SITE_URL}{reverse('dossiers:workspace')}",
        }
    dossier = Dossier.objects.select_related("procedure", "returning_agency").order_by("-pk").first()
    if dossier is not None:
        context = dossier_context(dossier)
        context.update(reason=context["reason"] or "Hồ sơ cần xác minh thêm", missing_documents="- Giấy chứng sinh")
        context["original_due_at"] = context["original_due_at"] or context["due_at"]
        return context
    return {
        "code": "000.00.21.H12-260302-0001",
        "applicant_name": "Nguyễn Văn An",
        "procedure": "Đăng ký khai sinh",
        "status": str(Status.PROCESSING.label),
        "stage": str(Stage.PROCESSING.label),
        "agency": "UBND xã Mường Phăng",
        "received_at": "02/03/2026 09:00",
        "due_at": "05/03/2026 11:30",
        "original_due_at": "05/03/2026 11:30",
        "step_due_at": "04/03/2026 10:00",
        "reason": "Hồ sơ cần xác minh thêm",
        "missing_documents": "- Giấy chứng sinh",
        "lookup_url": f"{settings.SITE_URL}/tra-cuu/?ma=000.00.21.H12-260302-0001",
        "officer_url": f"{settings.SITE_URL}/can-bo/ho-so/000.00.21.H12-260302-0001/",
    }


def outbox_row(*, kind, channel, key, subject, body, dossier=None, recipient=None, address="", link="", now=None):
    """An unsaved outbox row. In-app rows are delivered by being written: they are stored as
    sent, so the pending index (and the delivery query) only holds rows that still have to leave
    the building."""
    now = now or timezone.now()
    in_app = channel == NotificationChannel.IN_APP
    return Notification(
        dedupe_key=key[:200],
        kind=kind,
        channel=channel,
        dossier=dossier,
        recipient=recipient,
        address=address,
        subject=subject,
        body=body,
        link=link,
        created_at=now,
        next_attempt_at=now,
        state=Notification.State.SENT if in_app else Notification.State.PENDING,
        sent_at=now if in_app else None,
    )


def queue(**kwargs):
    """Write one outbox row unless its dedupe key exists. Returns True if a row was written."""
    row = outbox_row(**kwargs)
    defaults = {
        f.attname: getattr(row, f.attname)
        for f in Notification._meta.concrete_fields
        if f.attname not in ("id", "dedupe_key")
    }
    _, created = Notification.objects.get_or_create(dedupe_key=row.dedupe_key, defaults=defaults)
    return created


class Lookups:
    """What a scan reads again and again (admin templates, an agency's officers), read once per
    scan so that each new reminder costs a few inserts, not a dozen queries."""

    def __init__(self):
        self._templates = None
        self._members = {}

    def template(self, kind, channel):
        if self._templates is None:
            self._templates = {(t.kind, t.channel): t for t in NotificationTemplate.objects.filter(active=True)}
        return self._templates.get((kind, channel))

    def members(self, role, agency_id):
        if (role, agency_id) not in self._members:
            self._members[role, agency_id] = _members(role, agency_id)
        return self._members[role, agency_id]


def on_dossier_event(dossier, event, policy=None):
    """Citizen notifications for an event (receipt, supplement, refusal, result ready,
    extension), written in the transaction of the change itself."""
    kind = CITIZEN_EVENTS.get(event.action)
    if kind is None:
        return 0
    policy = policy or ReminderPolicy.get()
    targets = []
    if dossier.applicant_email and policy.notify_citizens_by_email:
        targets.append((NotificationChannel.EMAIL, dossier.applicant_email))
    if dossier.applicant_phone and policy.notify_citizens_by_sms:
        targets.append((NotificationChannel.SMS, dossier.applicant_phone))
    if not targets:
        return 0
    context = dossier_context(dossier, event)
    written = 0
    for channel, address in targets:
        subject, body = render_text(kind, channel, context)
        written += queue(
            kind=kind,
            channel=channel,
            key=f"{kind}:{dossier.pk}:{event.pk}:{channel}",
            subject=subject,
            body=body,
            dossier=dossier,
            address=address,
            link=context["lookup_url"],
            now=event.created_at,
        )
    return written


def _members(role, agency_id):
    return [
        m.user
        for m in Membership.objects.filter(role=role, agency_id=agency_id, user__is_active=True)
        .select_related("user")
        .order_by("user_id")
    ]


def responsible_officers(dossier, include_leaders=True, lookups=None):
    """Who must act now: the assignee during processing, else the officers holding the stage's
    role in the right agency (reception at intake); plus the competent agency's leaders."""
    members = lookups.members if lookups is not None else _members
    users = []
    if dossier.assignee_id and dossier.stage == Stage.PROCESSING:
        if dossier.assignee.is_active:
            users.append(dossier.assignee)
    else:
        role, agency_id = {
            Stage.INTAKE: (Role.RECEPTION, dossier.receiving_agency_id),
            Stage.PROCESSING: (Role.SPECIALIST, dossier.competent_agency_id),
            Stage.APPROVAL: (Role.LEADER, dossier.competent_agency_id),
            Stage.RETURN: (Role.RECEPTION, dossier.returning_agency_id),
        }.get(dossier.stage, (None, None))
        if role:
            users.extend(members(role, agency_id))
    if include_leaders:
        users.extend(members(Role.LEADER, dossier.competent_agency_id))
    seen, unique = set(), []
    for user in users:
        if user.pk not in seen:
            seen.add(user.pk)
            unique.append(user)
    return unique


def on_reminder(reminder, dossier, policy, now, lookups=None):
    """In-app + e-mail notifications for a new reminder row (e-mail only to officers with an
    address, and only when the policy e-mails officers), in one insert."""
    kind = f"reminder.{reminder.kind}"
    context = dossier_context(dossier)
    rows = []
    for user in responsible_officers(dossier, include_leaders=policy.notify_leaders, lookups=lookups):
        channels = [(NotificationChannel.IN_APP, "")]
        if policy.email_officers and user.email:
            channels.append((NotificationChannel.EMAIL, user.email))
        for channel, address in channels:
            subject, body = render_text(kind, channel, context, lookups=lookups)
            rows.append(
                outbox_row(
                    kind=kind,
                    channel=channel,
                    key=f"reminder:{reminder.pk}:{user.pk}:{channel}",
                    subject=subject,
                    body=body,
                    dossier=dossier,
                    recipient=user,
                    address=address,
                    link=officer_path(dossier),
                    now=now,
                )
            )
    # The keys name this reminder row, created in the same transaction: they cannot exist yet.
    Notification.objects.bulk_create(rows)
    return len(rows)


def officers_with_work():
    """Active officers (members of any agency)."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(is_active=True, memberships__isnull=False).distinct().order_by("pk")


def digest_counts(user, now, calendar=None):
    """The numbers in an officer's morning digest: dossiers waiting for them (assigned to them,
    awaiting their approval, at their desk) and, among those plus (for leaders) every open
    dossier of their agency, how many are due within the next working day and overdue."""
    from procedures import deadlines

    from .permissions import user_roles

    roles = user_roles(user)
    leading = [a for r, a in roles if r == Role.LEADER]
    desks = [a for r, a in roles if r == Role.RECEPTION]
    waiting = (
        Q(assignee=user, stage=Stage.PROCESSING)
        | Q(competent_agency_id__in=leading, stage=Stage.APPROVAL)
        | Q(receiving_agency_id__in=desks, stage=Stage.INTAKE)
    )
    watched = Dossier.objects.open().filter(waiting | Q(competent_agency_id__in=leading))
    horizon = deadlines.add_working_minutes(now, 8 * 60, calendar)
    return {
        "waiting": Dossier.objects.open().filter(waiting).count(),
        "due_soon": watched.exclude(status__in=PAUSED_STATUSES).filter(due_at__gte=now, due_at__lt=horizon).count(),
        "overdue": watched.overdue(now).count(),
    }
