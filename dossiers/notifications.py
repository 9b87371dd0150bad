"""Writing notifications into the outbox, and rendering their texts.

Every function here only writes rows (in the caller's transaction); `dossiers.delivery` sends
them. Texts come from admin-editable `NotificationTemplate` rows, with built-in defaults.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Q
from django.template import Context, Template, TemplateSyntaxError
from django.utils import timezone
from django.utils.formats import date_format

from procedures.models import Membership, Role

from .models import Dossier, Notification, NotificationChannel, NotificationTemplate, ReminderPolicy, Stage

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
        "Kính gửi {{ applicant_name }},\n\nHồ sơ {{ code }} ({{ procedure }}) chưa giải quyết kịp hạn {{ original_due_at }}."
        " Lý do: {{ reason }}. Ngày hẹn trả mới: {{ due_at }}. Chúng tôi xin lỗi ông/bà.\nTra cứu: {{ lookup_url }}",
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
        "Bước «{{ stage }}» của hồ sơ {{ code }} – {{ procedure }} – đã quá hạn ({{ step_due_at }}).\n{{ officer_url }}",
    ),
    "reminder.extension_prompt": (
        "Hồ sơ {{ code }}: cần lập phiếu xin lỗi, hẹn lại trước hạn",
        "Hồ sơ {{ code }} đến hạn lúc {{ due_at }}. Nếu không kịp giải quyết, hãy lập phiếu xin lỗi và hẹn lại"
        " ngày trả kết quả (Mẫu 04) chậm nhất trước hạn một ngày.\n{{ officer_url }}",
    ),
    "digest": (
        "Tổng hợp hồ sơ ngày {{ today }}",
        "Chào {{ officer }},\n\nHồ sơ đang chờ anh/chị: {{ waiting }}\nĐến hạn trong ngày làm việc tới: {{ due_soon }}\n"
        "Quá hạn: {{ overdue }}\n{{ workspace_url }}",
    ),
}

CITIZEN_EVENTS = {
    "receive": "citizen.received",
    "supplement_received": "citizen.received",
    "request_supplement": "citizen.supplement",
    "refuse": "citizen.refused",
    "approve": "citizen.result_ready",
    "mark_result_ready": "citizen.result_ready",
    "extend": "citizen.extended",
}


def _fmt(dt):
    return date_format(timezone.localtime(dt), "SHORT_DATETIME_FORMAT") if dt else ""


def render_text(kind, channel, context):
    """(subject, body) for kind × channel: the admin's active template, else the default."""
    row = NotificationTemplate.objects.filter(kind=kind, channel=channel, active=True).first()
    subject, body = (row.subject, row.body) if row else DEFAULT_TEXTS[kind]
    try:
        ctx = Context(context, autoescape=False)
        return Template(subject).render(ctx).strip()[:255], Template(body).render(ctx).strip()
    except TemplateSyntaxError:
        # A broken admin template must not lose the message: fall back to the default text.
        subject, body = DEFAULT_TEXTS[kind]
        ctx = Context(context, autoescape=False)
        return Template(subject).render(ctx).strip()[:255], Template(body).render(ctx).strip()


def dossier_context(dossier, event=None):
    data = (event.data if event else {}) or {}
    return {
        "code": dossier.code,
        "applicant_name": dossier.applicant_name,
        "procedure": dossier.procedure_snapshot.get("name") or dossier.procedure.name,
        "status": dossier.get_status_display(),
        "stage": dossier.get_stage_display(),
        "agency": dossier.returning_agency.name,
        "received_at": _fmt(dossier.received_at),
        "due_at": _fmt(dossier.due_at),
        "original_due_at": _fmt(dossier.original_due_at),
        "step_due_at": _fmt(dossier.step_due_at),
        "reason": event.comment if event else "",
        "missing_documents": "\n".join(f"- {m}" for m in data.get("missing_documents", [])),
        "lookup_url": f"{settings.SITE_URL}/tra-cuu/?{urlencode({'ma': dossier.code})}",
        "officer_url": f"{settings.SITE_URL}/can-bo/ho-so/{dossier.code}/",
    }


def queue(*, kind, channel, key, subject, body, dossier=None, recipient=None, address="", link="", now=None):
    """Write one outbox row unless its dedupe key exists. Returns True if a row was written."""
    now = now or timezone.now()
    _, created = Notification.objects.get_or_create(
        dedupe_key=key[:200],
        defaults={
            "kind": kind,
            "channel": channel,
            "dossier": dossier,
            "recipient": recipient,
            "address": address,
            "subject": subject,
            "body": body,
            "link": link,
            "created_at": now,
            "next_attempt_at": now,
        },
    )
    return created


def on_dossier_event(dossier, event, policy=None):
    """Citizen notifications for an event (receipt, supplement, refusal, result ready,
    extension), written in the transaction of the change itself."""
    kind = CITIZEN_EVENTS.get(event.action)
    if kind is None:
        return 0
    policy = policy or ReminderPolicy.get()
    context = dossier_context(dossier, event)
    written = 0
    targets = []
    if dossier.applicant_email and policy.notify_citizens_by_email:
        targets.append((NotificationChannel.EMAIL, dossier.applicant_email))
    if dossier.applicant_phone and policy.notify_citizens_by_sms:
        targets.append((NotificationChannel.SMS, dossier.applicant_phone))
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


def responsible_officers(dossier, include_leaders=True):
    """Who must act now: the assignee, else the officers holding the stage's role in the right
    agency; plus the competent agency's leaders."""
    users = []
    if dossier.assignee_id and dossier.stage in (Stage.PROCESSING,):
        users.append(dossier.assignee)
    else:
        role, agency_id = {
            Stage.INTAKE: (Role.RECEPTION, dossier.receiving_agency_id),
            Stage.PROCESSING: (Role.SPECIALIST, dossier.competent_agency_id),
            Stage.APPROVAL: (Role.LEADER, dossier.competent_agency_id),
            Stage.RETURN: (Role.RECEPTION, dossier.returning_agency_id),
        }.get(dossier.stage, (None, None))
        if role:
            users.extend(
                m.user
                for m in Membership.objects.filter(role=role, agency_id=agency_id, user__is_active=True).select_related(
                    "user"
                )
            )
    if include_leaders:
        users.extend(
            m.user
            for m in Membership.objects.filter(
                role=Role.LEADER, agency_id=dossier.competent_agency_id, user__is_active=True
            ).select_related("user")
        )
    seen, unique = set(), []
    for user in users:
        if user.pk not in seen:
            seen.add(user.pk)
            unique.append(user)
    return unique


def on_reminder(reminder, dossier, policy, now):
    """In-app + e-mail notifications for a new reminder row."""
    kind = f"reminder.{reminder.kind}"
    context = dossier_context(dossier)
    written = 0
    for user in responsible_officers(dossier, include_leaders=policy.notify_leaders):
        channels = [(NotificationChannel.IN_APP, "")]
        if policy.email_officers and user.email:
            channels.append((NotificationChannel.EMAIL, user.email))
        for channel, address in channels:
            subject, body = render_text(kind, channel, context)
            written += queue(
                kind=kind,
                channel=channel,
                key=f"reminder:{reminder.pk}:{user.pk}:{channel}",
                subject=subject,
                body=body,
                dossier=dossier,
                recipient=user,
                address=address,
                link=f"/can-bo/ho-so/{dossier.code}/",
                now=now,
            )
    return written


def officers_with_work():
    """Active officers (members of any agency)."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(is_active=True, memberships__isnull=False).distinct()


def digest_counts(user, now):
    from procedures import deadlines

    from .permissions import user_roles

    roles = user_roles(user)
    competent = [a for r, a in roles if r in (Role.SPECIALIST, Role.LEADER)]
    desks = [a for r, a in roles if r == Role.RECEPTION]
    mine = Dossier.objects.open().filter(
        Q(assignee=user)
        | Q(competent_agency_id__in=competent, stage=Stage.APPROVAL)
        | Q(receiving_agency_id__in=desks, stage=Stage.INTAKE)
    )
    horizon = deadlines.add_working_minutes(now, 8 * 60)
    return {
        "waiting": mine.count(),
        "due_soon": mine.filter(due_at__gte=now, due_at__lt=horizon).count(),
        "overdue": mine.overdue(now).count(),
    }
