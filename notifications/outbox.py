"""Writing notifications into the outbox, and rendering their texts.

Every function here only writes rows (in the caller's transaction); `dossiers.delivery` sends
them. Texts come from admin-editable `NotificationTemplate` rows, with built-in defaults.
Templates are rendered by a sandboxed Django template engine: no loaders (no `{% include %}`
of project templates), no `{% load %}`able libraries, and a context of plain strings only.
"""

import functools
import json
import logging
import re
from datetime import datetime
from urllib.parse import urlencode

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.template import Context, Engine
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from dossiers.models import Dossier, Stage, Status
from dossiers.periods import STAGE_OWNERS
from dossiers.workflow import event_spec
from notifications.models import Notification, NotificationChannel, NotificationTemplate, ReminderPolicy
from procedures.models import Membership, Role
from ratings.links import rating_url

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
        " Lý do: {{ reason }}\nTra cứu: {{ lookup_url }}\nĐánh giá việc giải quyết hồ sơ: {{ rating_url }}",
    ),
    "citizen.result_ready": (
        "Hồ sơ {{ code }} đã có kết quả",
        "Kính gửi {{ applicant_name }},\n\nHồ sơ {{ code }} ({{ procedure }}) đã có kết quả. Mời ông/bà đến"
        " {{ agency }} để nhận kết quả (mang theo giấy tiếp nhận).\nTra cứu: {{ lookup_url }}\n"
        "Sau khi nhận kết quả, mời ông/bà đánh giá việc giải quyết: {{ rating_url }}",
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
    "reminder.online_intake": (
        "Hồ sơ trực tuyến {{ code }} đang chờ tiếp nhận",
        "Hồ sơ {{ code }} – {{ procedure }} – nộp trực tuyến lúc {{ submitted_at }} chưa được tiếp nhận. Hồ sơ"
        " trực tuyến phải được tiếp nhận hoặc trả lại trong 08 giờ làm việc (hạn: {{ step_due_at }}).\n"
        "{{ officer_url }}",
    ),
    "reminder.correction_overdue": (
        "Hồ sơ {{ code }}: quá hạn sửa đổi, đính chính kết quả",
        "Kết quả giải quyết hồ sơ {{ code }} – {{ procedure }} – có sai sót đã được ghi nhận nhưng chưa được"
        " sửa đổi, đính chính trong 03 ngày làm việc (hạn: {{ correction_due_at }}).\n{{ officer_url }}",
    ),
    "reminder.fee_remittance_overdue": (
        "Hồ sơ {{ code }}: phí, lệ phí đã thu chưa được nộp",
        "Phí, lệ phí đã thu của hồ sơ {{ code }} – {{ procedure }} – chưa được nộp trong 08 giờ làm việc"
        " (hạn: {{ fee_remit_due_at }}).\n{{ officer_url }}",
    ),
    "reminder.consultation_due_soon": (
        "Hồ sơ {{ code }}: sắp đến hạn trả lời xin ý kiến",
        "{{ requesting_agency }} xin ý kiến {{ consulted_agency }} về hồ sơ {{ code }} – {{ procedure }}. Hạn trả"
        " lời: {{ consultation_due_at }}.\n{{ officer_url }}",
    ),
    "reminder.consultation_overdue": (
        "Hồ sơ {{ code }}: quá hạn trả lời xin ý kiến",
        "{{ consulted_agency }} chưa trả lời xin ý kiến của {{ requesting_agency }} về hồ sơ {{ code }} –"
        " {{ procedure }} (hạn: {{ consultation_due_at }}). Việc chậm trả lời được ghi nhận cho cơ quan được xin"
        " ý kiến.\n{{ officer_url }}",
    ),
    "digest": (
        "Tổng hợp hồ sơ ngày {{ today }}",
        "Chào {{ officer }},\n\nHồ sơ đang chờ anh/chị: {{ waiting }}\n"
        "Sắp đến hạn: {{ due_soon }}\nQuá hạn: {{ overdue }}\n{{ workspace_url }}",
    ),
}

# SMS: a short text without diacritics (a text with one accented letter is sent as UCS-2, 70
# characters a message instead of 160, and the long default above took 7-8 messages). The gateway
# sends "subject. body" (notifications.delivery.sms_text); the admin shows the length as typed.
SMS_TEXTS = {
    "citizen.received": (
        "Ho so {{ code }} da duoc tiep nhan",
        "Hen tra ket qua: {{ due_at }}. Tra cuu: {{ lookup_url }}",
    ),
    "citizen.supplement": (
        "Ho so {{ code }} can bo sung giay to",
        "Xem danh sach giay to can bo sung tai: {{ lookup_url }}",
    ),
    "citizen.refused": (
        "Ho so {{ code }} khong duoc giai quyet",
        "Ly do: {{ reason }}. Tra cuu: {{ lookup_url }}",
    ),
    "citizen.result_ready": (
        "Ho so {{ code }} da co ket qua",
        "Moi ong/ba mang giay tiep nhan den nhan ket qua. Tra cuu: {{ lookup_url }}",
    ),
    "citizen.extended": (
        "Ho so {{ code }}: xin loi vi cham tra ket qua",
        "Ngay hen tra moi: {{ due_at }}. Tra cuu: {{ lookup_url }}",
    ),
}

# Which channels each kind is sent on (the admin's templates, the default rows of migration 0004).
KIND_CHANNELS = {
    "citizen": (NotificationChannel.EMAIL, NotificationChannel.SMS),
    "reminder": (NotificationChannel.IN_APP, NotificationChannel.EMAIL),
    "digest": (NotificationChannel.IN_APP, NotificationChannel.EMAIL),
}


def default_text(kind, channel):
    """The built-in (subject, body) of kind × channel: the short unaccented text for an SMS."""
    if channel == NotificationChannel.SMS and kind in SMS_TEXTS:
        return SMS_TEXTS[kind]
    return DEFAULT_TEXTS[kind]


def default_templates():
    """(kind, channel, subject, body) of every built-in template."""
    for kind in DEFAULT_TEXTS:
        for channel in KIND_CHANNELS[kind.split(".")[0]]:
            yield (kind, channel, *default_text(kind, channel))


# What each kind is for (admin choices).
KIND_LABELS = {
    "citizen.received": _("Citizen: dossier received"),
    "citizen.supplement": _("Citizen: supplement requested"),
    "citizen.refused": _("Citizen: dossier refused"),
    "citizen.result_ready": _("Citizen: result ready"),
    "citizen.extended": _("Citizen: apology and new due date"),
    "reminder.due_soon": _("Officer: due soon"),
    "reminder.due_today": _("Officer: due today"),
    "reminder.overdue": _("Officer: overdue (daily)"),
    "reminder.step_overdue": _("Officer: step deadline passed"),
    "reminder.extension_prompt": _("Officer: issue the apology letter while still possible"),
    "reminder.online_intake": _("Officer: online submission waiting for acceptance"),
    "reminder.correction_overdue": _("Officer: result correction overdue"),
    "reminder.fee_remittance_overdue": _("Officer: collected fee not remitted in time"),
    "reminder.consultation_due_soon": _("Officer: requested opinion due soon"),
    "reminder.consultation_overdue": _("Officer: requested opinion overdue"),
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
    "submitted_at": _("submitted at"),
    "correction_due_at": _("result correction due at"),
    "fee_remit_due_at": _("fee to remit by"),
    "reason": _("reason given by the officer"),
    "missing_documents": _("documents to supplement, one per line"),
    "lookup_url": _("public lookup page"),
    "officer_url": _("the dossier's page in the officer workspace"),
    "rating_url": _("the citizen's rating link (works once the dossier has ended)"),
    "consulted_agency": _("the agency asked for an opinion (opinion reminders)"),
    "requesting_agency": _("the agency that asked for the opinion (opinion reminders)"),
    "consultation_due_at": _("the opinion's deadline (opinion reminders)"),
}
DIGEST_PLACEHOLDERS = {
    "today": _("date"),
    "officer": _("officer's name"),
    "waiting": _("dossiers waiting for the officer"),
    "due_soon": _("due soon (within the reminder policy's working days)"),
    "overdue": _("overdue"),
    "workspace_url": _("officer workspace"),
}


def placeholders_for(kind):
    return DIGEST_PLACEHOLDERS if kind == "digest" else DOSSIER_PLACEHOLDERS


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
        return _Text(kind, channel, row).render(context)


def _fmt(dt):
    return date_format(timezone.localtime(dt), "SHORT_DATETIME_FORMAT") if dt else ""


_PLAIN_CODE = re.compile(r"[A-Za-z0-9._~-]+")
_MARK = "0MARK0"


def officer_path(dossier, memo=None):
    """The dossier's page in the officer workspace. With a `memo` (see `dossier_context()`),
    reverse() (tens of µs) runs once: a code made of unreserved characters appears in the path
    as it is."""
    code = dossier.code
    if memo is not None and _PLAIN_CODE.fullmatch(code):
        prefix, suffix = _memo_paths(memo)["detail"]
        return f"{prefix}{code}{suffix}"
    return reverse("dossiers:detail", args=[code])


def _memo_paths(memo):
    paths = memo.get("paths")
    if paths is None:
        prefix, _mark, suffix = reverse("dossiers:detail", args=[_MARK]).partition(_MARK)
        paths = memo["paths"] = {"detail": (prefix, suffix), "lookup": reverse("dossiers:lookup")}
    return paths


def dossier_context(dossier, event=None, memo=None):
    """The placeholders' values for a dossier's messages. `memo`: a dict kept by a caller that
    builds many contexts in one go (the scan), so that URLs, dates and labels met again are not
    computed again."""
    data = (event.data if event else {}) or {}
    missing = [str(m) for m in data.get("missing_documents", [])]
    reason = event.comment if event else ""
    if missing and reason.strip() == "\n".join(missing).strip():
        reason = ""  # at intake the reason *is* the list: do not print it twice
    with translation.override(settings.LANGUAGE_CODE):
        if memo is None:
            fmt = _fmt
            status, stage = str(dossier.get_status_display()), str(dossier.get_stage_display())
            lookup_path = reverse("dossiers:lookup")
        else:
            fmt = functools.partial(_memo_fmt, memo)
            status, stage = _memo_display(memo, dossier, "status"), _memo_display(memo, dossier, "stage")
            lookup_path = _memo_paths(memo)["lookup"]
        return {
            "code": dossier.code,
            "applicant_name": dossier.applicant_name,
            "procedure": dossier.procedure_snapshot.get("name") or dossier.procedure.name,
            "status": status,
            "stage": stage,
            "agency": dossier.returning_agency.name,
            "received_at": fmt(dossier.received_at),
            "due_at": fmt(dossier.due_at),
            "original_due_at": fmt(dossier.original_due_at),
            "step_due_at": fmt(dossier.step_due_at),
            "submitted_at": fmt(dossier.submitted_at),
            "correction_due_at": fmt(dossier.correction_due_at),
            "fee_remit_due_at": fmt(dossier.fee_remit_due_at),
            "reason": reason,
            "missing_documents": "\n".join(f"- {m}" for m in missing),
            "lookup_url": f"{settings.SITE_URL}{lookup_path}?{urlencode({'ma': dossier.code})}",
            "officer_url": f"{settings.SITE_URL}{officer_path(dossier, memo)}",
            # Citizens' messages only (the scan's officer reminders, built with a memo, need none).
            "rating_url": rating_url(dossier) if memo is None else "",
        }


def _memo_fmt(memo, dt):
    key = ("fmt", dt)
    text = memo.get(key)
    if text is None:
        text = memo[key] = _fmt(dt)
    return text


def _memo_display(memo, dossier, name):
    """str(dossier.get_<name>_display()), once per value (the labels are the code's choices)."""
    value = getattr(dossier, name)
    key = (name, value, translation.get_language())
    text = memo.get(key)
    if text is None:
        text = memo[key] = str(getattr(dossier, f"get_{name}_display")())
    return text


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
        "submitted_at": "02/03/2026 08:40",
        "correction_due_at": "10/03/2026 17:00",
        "fee_remit_due_at": "03/03/2026 08:00",
        "reason": "Hồ sơ cần xác minh thêm",
        "missing_documents": "- Giấy chứng sinh",
        "lookup_url": f"{settings.SITE_URL}/tra-cuu/?ma=000.00.21.H12-260302-0001",
        "officer_url": f"{settings.SITE_URL}/can-bo/ho-so/000.00.21.H12-260302-0001/",
        "rating_url": f"{settings.SITE_URL}/danh-gia/MQ:1s2x3y:abc/",
    }


def outbox_row(*, kind, channel, key, subject, body, dossier=None, recipient=None, address="", link="", now=None):
    """An unsaved outbox row (its state: `delivery_state`)."""
    now = now or timezone.now()
    state, sent_at = delivery_state(channel, now)
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
        state=state,
        sent_at=sent_at,
    )


def delivery_state(channel, now):
    """(state, sent_at) of a new outbox row: in-app rows are delivered by being written, so they
    are stored as sent and the pending index (and the delivery query) only holds rows that still
    have to leave the building."""
    if channel == NotificationChannel.IN_APP:
        return Notification.State.SENT, now
    return Notification.State.PENDING, None


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

    def prefetch_members(self, pairs):
        """Read the officers of every (role, agency) pair not read yet, in one query."""
        missing = {pair for pair in pairs if pair not in self._members}
        if not missing:
            return
        roles = {role for role, _agency in missing}
        agencies = {agency for _role, agency in missing}
        found = {(role, agency): [] for role in roles for agency in agencies}  # complete for R × A
        for m in (
            Membership.objects.filter(role__in=roles, agency_id__in=agencies, user__is_active=True)
            .select_related("user")
            .order_by("user_id")
        ):
            found[m.role, m.agency_id].append(m.user)
        self._members.update(found)


def on_dossier_event(dossier, event, policy=None):
    """Citizen notifications for an event (receipt, supplement, refusal, result ready,
    extension), written in the transaction of the change itself. Returns the rows written.

    The event is new, so are its rows' dedupe keys: the channels' admin templates are read in one
    query and the rows written in one INSERT (issue 20: two reads and two get-or-creates in
    savepoints were a tenth of a creation). A key that exists all the same is an error that rolls
    the transition back, never a message silently lost or sent twice."""
    spec = event_spec(event.action)
    kind = spec.notice if spec is not None else ""
    if not kind:
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
    lookups = Lookups()  # the admin templates, read once for both channels
    rows = []
    for channel, address in targets:
        subject, body = render_text(kind, channel, context, lookups=lookups)
        rows.append(
            outbox_row(
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
        )
    Notification.objects.bulk_create(rows)
    return len(rows)


def _members(role, agency_id):
    return [
        m.user
        for m in Membership.objects.filter(role=role, agency_id=agency_id, user__is_active=True)
        .select_related("user")
        .order_by("user_id")
    ]


# Reminders about a duty that is not the current step's: who holds it, whatever the stage.
REMINDER_OWNERS = {
    "online_intake": (Role.RECEPTION, "receiving"),
    "correction_overdue": (Role.LEADER, "competent"),
    "fee_remittance_overdue": (Role.RECEPTION, "receiving"),
    # A consulted agency's answer (notifications.reminders.ConsultationTarget names the agencies).
    "consultation_due_soon": ((Role.SPECIALIST, "consulted"), (Role.LEADER, "consulted")),
    "consultation_overdue": ((Role.SPECIALIST, "consulted"), (Role.LEADER, "consulted"), (Role.LEADER, "requesting")),
}


def _officer_groups(dossier, include_leaders, kind=None):
    """(the assignee who must act, or None; the (role, agency) pairs whose officers must)."""
    groups = []
    assignee = None
    if kind in REMINDER_OWNERS:
        owners = REMINDER_OWNERS[kind]
        for role, scope in owners if isinstance(owners[0], tuple) else (owners,):
            groups.append((role, getattr(dossier, f"{scope}_agency_id")))
    elif dossier.assignee_id and dossier.stage == Stage.PROCESSING:
        assignee = dossier.assignee
    else:
        owner = STAGE_OWNERS.get(dossier.stage)
        if owner is not None:
            role, scope = owner
            groups.append((role, getattr(dossier, f"{scope}_agency_id")))
    if include_leaders:
        groups.append((Role.LEADER, dossier.competent_agency_id))
    return assignee, groups


def responsible_officers(dossier, include_leaders=True, lookups=None, kind=None):
    """Who must act now: the assignee during processing, else the officers holding the stage's
    role in the right agency (reception at intake); plus the competent agency's leaders. A reminder
    `kind` of REMINDER_OWNERS goes to the holders of that duty instead."""
    members = lookups.members if lookups is not None else _members
    assignee, groups = _officer_groups(dossier, include_leaders, kind)
    users = []
    if assignee is not None and assignee.is_active:
        users.append(assignee)
    for role, agency_id in groups:
        users.extend(members(role, agency_id))
    seen, unique = set(), []
    for user in users:
        if user.pk not in seen:
            seen.add(user.pk)
            unique.append(user)
    return unique


def on_reminder(reminder, dossier, policy, now, lookups=None):
    """In-app + e-mail notifications for a new reminder row (e-mail only to officers with an
    address, and only when the policy e-mails officers), in one insert (see ReminderWriter)."""
    return ReminderWriter(policy, now, lookups=lookups).write([(reminder.pk, reminder.kind, dossier)])


class _Text:
    """One kind × channel's text for a scan, compiled once: the admin's active template, or the
    built-in one (also when the admin's does not compile or fails to render)."""

    def __init__(self, kind, channel, row):
        self.kind, self.channel = kind, channel
        self.admin = None
        if row is not None:
            try:
                self.admin = (compile_text(row.subject), compile_text(row.body))
            except Exception:  # an admin's text that does not compile
                log.exception("notification template %s/%s is broken; using the default text", kind, channel)
        self.source = (row.subject, row.body) if self.admin else default_text(kind, channel)
        self._default = None

    def default(self):
        if self._default is None:
            self._default = tuple(compile_text(text) for text in default_text(self.kind, self.channel))
        return self._default

    def render(self, context):
        """(subject, body), as `render_text()` gives them (in the site language: the caller
        activates it)."""
        ctx = Context(context, autoescape=False)
        if self.admin is not None:
            try:
                return self.admin[0].render(ctx).strip()[:255], self.admin[1].render(ctx).strip()
            except Exception:  # render error in an admin's text
                log.exception("notification template %s/%s is broken; using the default text", self.kind, self.channel)
                ctx = Context(context, autoescape=False)
        subject, body = self.default()
        return subject.render(ctx).strip()[:255], body.render(ctx).strip()


NOTIFICATION_COLUMNS = (
    "dedupe_key",
    "kind",
    "channel",
    "dossier",
    "recipient",
    "address",
    "subject",
    "body",
    "link",
    "state",
    "attempts",
    "next_attempt_at",
    "last_error",
    "created_at",
    "sent_at",
    "read_at",
)


def max_query_params():
    """How many parameters one statement may carry on this database: SQLite's real limit (32,766
    since 3.32), where Django's `bulk_batch_size` assumes the old 999, which would split a scan's
    notifications into a statement per 62 rows."""
    if connection.vendor == "sqlite":
        import sqlite3

        connection.ensure_connection()
        try:
            return connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        except AttributeError:  # Python < 3.11
            return connection.features.max_query_params or 999
    return connection.features.max_query_params or 65535


def chunks(rows, width):
    """`rows` in slices that fit in one statement of `width` parameters per row."""
    size = max(1, max_query_params() // width)
    return [rows[start : start + size] for start in range(0, len(rows), size)]


def insert_rows(model, names, rows, *, ignore_conflicts=False, returning=()):
    """Insert `rows` (tuples of database values for the fields `names`): on PostgreSQL in one
    statement whatever their number (one JSON array parameter, `jsonb_array_elements`: dumped by
    the C JSON encoder, far cheaper than thousands of parameters), on SQLite a multi-row VALUES
    per slice that fits in a statement. With `ignore_conflicts`, rows that would break a unique constraint are skipped
    (`ON CONFLICT DO NOTHING`); `returning` names the fields to return for the rows actually
    inserted, in insertion order."""
    if not rows:
        return []
    meta, ops = model._meta, connection.ops
    fields = [meta.get_field(name) for name in names]
    table = ops.quote_name(meta.db_table)
    columns = ", ".join(ops.quote_name(f.column) for f in fields)
    tail = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    if returning:
        tail += " RETURNING " + ", ".join(ops.quote_name(meta.get_field(name).column) for name in returning)
    result = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Casts without a length: an over-long value is an error, as in a plain INSERT.
            values = ", ".join(f"(r.e->>{i})::{f.db_type(connection).split('(')[0]}" for i, f in enumerate(fields))
            sql = (
                f"INSERT INTO {table} ({columns}) SELECT {values}"  # noqa: S608 (the model's own names)
                f" FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS r(e, n) ORDER BY r.n{tail}"
            )
            cursor.execute(sql, [json.dumps(rows, default=_json_value, ensure_ascii=False)])
            if returning:
                result.extend(cursor.fetchall())
        else:
            row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
            for chunk in chunks(rows, len(fields)):
                values = ", ".join([row_sql] * len(chunk))
                sql = f"INSERT INTO {table} ({columns}) VALUES {values}{tail}"  # noqa: S608 (model's names)
                cursor.execute(sql, [value for row in chunk for value in row])
                if returning:
                    result.extend(cursor.fetchall())
    return result


def _json_value(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a column value insert_rows() knows")


def insert_notifications(rows):
    """Insert outbox rows (tuples in NOTIFICATION_COLUMNS order). Their keys name reminder rows
    created in the caller's transaction: they cannot exist yet."""
    insert_rows(Notification, NOTIFICATION_COLUMNS, rows)
    return len(rows)


class ReminderWriter:
    """Writes the notifications of a scan's new reminder rows, a batch at a time: the officers
    of all the batch's agencies in one query, each text compiled once per scan and rendered once
    per reminder (every recipient of a reminder gets the same text on a channel), all the rows
    in one insert. Same rows as `on_reminder()` would write, one reminder at a time."""

    def __init__(self, policy, now, lookups=None):
        self.policy = policy
        self.now = now
        self.lookups = lookups or Lookups()
        self._texts = {}
        self._memo = {}

    def text(self, kind, channel):
        text = self._texts.get((kind, channel))
        if text is None:
            text = self._texts[kind, channel] = _Text(kind, channel, self.lookups.template(kind, channel))
        return text

    def rows(self, new):
        """Outbox tuples for `new`: (reminder id, reminder kind, dossier) triples."""
        policy = self.policy
        include_leaders = policy.notify_leaders
        self.lookups.prefetch_members(
            pair for _pk, kind, dossier in new for pair in _officer_groups(dossier, include_leaders, kind)[1]
        )
        now = connection.ops.adapt_datetimefield_value(self.now)
        in_app, email = NotificationChannel.IN_APP, NotificationChannel.EMAIL
        rows = []
        with translation.override(settings.LANGUAGE_CODE):
            for reminder_pk, reminder_kind, dossier in new:
                kind = f"reminder.{reminder_kind}"
                users = responsible_officers(
                    dossier, include_leaders=include_leaders, lookups=self.lookups, kind=reminder_kind
                )
                if not users:
                    continue
                context = dossier_context(dossier, memo=self._memo)
                context.update(getattr(dossier, "extra_context", {}))  # e.g. a consultation's deadline
                link = officer_path(dossier, self._memo)
                rendered = {}
                for user in users:
                    channels = [(in_app, "")]
                    if policy.email_officers and user.email:
                        channels.append((email, user.email))
                    for channel, address in channels:
                        text = self.text(kind, channel)
                        texts = rendered.get(text.source)
                        if texts is None:
                            texts = rendered[text.source] = text.render(context)
                        subject, body = texts
                        state, sent_at = delivery_state(channel, now)
                        rows.append(
                            (
                                f"reminder:{reminder_pk}:{user.pk}:{channel}"[:200],
                                kind,
                                str(channel),
                                dossier.pk,
                                user.pk,
                                address,
                                subject,
                                body,
                                link,
                                str(state),
                                0,
                                now,
                                "",
                                now,
                                sent_at,
                                None,
                            )
                        )
        return rows

    def write(self, new):
        """Write the notifications of `new` (in the caller's transaction); returns their number."""
        return insert_notifications(self.rows(new)) if new else 0


def officers_with_work():
    """Active officers (members of any agency)."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(is_active=True, memberships__isnull=False).distinct().order_by("pk")


def digest_counts(user, now, calendar=None, policy=None):
    """The numbers in an officer's morning digest: the dossiers waiting for them (exactly the
    workspace's "Waiting for me" tab, `selectors.waiting_filter`) and, among those plus (for
    leaders) every open dossier of their agency, how many are due soon (`Dossier.objects.due_soon`
    with the reminder policy's days, as the workspace tab and the scan) and overdue."""
    from accounts.roles import user_roles
    from dossiers.selectors import waiting_filter

    policy = policy or ReminderPolicy.get()
    leading = [a for r, a in user_roles(user) if r == Role.LEADER]
    waiting = waiting_filter(user)
    visible = Dossier.objects.visible_to(user)
    mine = visible.filter(waiting) if waiting is not None else visible.none()
    watched = visible.open().filter((waiting or Q(pk__in=[])) | Q(competent_agency_id__in=leading))
    return {
        "waiting": mine.count(),
        "due_soon": watched.due_soon(now, policy.due_soon_working_days, calendar=calendar).count(),
        "overdue": watched.overdue(now).count(),
    }


def on_transition(sender, *, dossier, event, **kwargs):
    """`dossiers.signals.dossier_transition` receiver: the event's outbox rows, written in the
    transition's transaction (never a broker call)."""
    on_dossier_event(dossier, event)
