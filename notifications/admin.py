"""Django admin for reminders and notifications: the outbox (read-only, with "Retry now"),
the reminder rows (read-only), the message templates (with defaults, placeholders, validation
and a preview) and the reminder policy (one row: the schedule and thresholds).

Imported at the end of `dossiers/admin.py` (`from . import admin_notifications  # noqa: F401`);
these classes replace any registration made there for the same models."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.base import Variable, VariableNode
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from dossiers.admin import AgencyScopedAdminMixin, scope_to_visible_dossiers
from notifications import delivery
from notifications import outbox as notifications
from notifications.models import Notification, NotificationChannel, NotificationTemplate, Reminder, ReminderPolicy


def mask_address(address):
    """'an@example.com' → 'a***@example.com'; '0912345678' → '091****678'."""
    address = address or ""
    if "@" in address:
        local, _at, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    if len(address) > 6:
        return f"{address[:3]}****{address[-3:]}"
    return "***" if address else ""


# --- The outbox --------------------------------------------------------------------------------


class NotificationAdmin(admin.ModelAdmin):
    """Non-superusers see notifications of dossiers visible to them and their own."""

    list_display = (
        "created_at",
        "kind",
        "channel",
        "state",
        "attempts",
        "next_attempt_at",
        "short_error",
        "to",
        "dossier",
    )
    list_filter = ("state", "channel", "kind")
    search_fields = ("dossier__code", "dedupe_key", "subject")
    list_select_related = ("dossier", "recipient")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")
    actions = ["retry_now"]
    fields = (
        "kind",
        "channel",
        "state",
        "to",
        "dossier",
        "subject",
        "body",
        "link",
        "attempts",
        "next_attempt_at",
        "last_error",
        "created_at",
        "sent_at",
        "read_at",
        "dedupe_key",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return scope_to_visible_dossiers(queryset, request.user, or_q=Q(recipient_id=request.user.pk))

    @admin.display(description=_("to"))
    def to(self, obj):
        who = obj.recipient.get_username() if obj.recipient_id else ""
        address = mask_address(obj.address)
        return " · ".join(part for part in (who, address) if part) or "—"

    @admin.display(description=_("last error"))
    def short_error(self, obj):
        return Truncator(obj.last_error).chars(80)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # the outbox is written by the services and the scan only

    def has_delete_permission(self, request, obj=None):
        return False

    def has_retry_permission(self, request):
        return request.user.has_perm("notifications.change_notification")

    @admin.action(description=_("Retry now"), permissions=["retry"])
    def retry_now(self, request, queryset):
        count = delivery.retry_now(queryset)
        self.message_user(
            request,
            ngettext(
                "%(count)d notification will be delivered on the next run.",
                "%(count)d notifications will be delivered on the next run.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )


class ReminderAdmin(AgencyScopedAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "dossier", "kind", "threshold")
    list_filter = ("kind",)
    search_fields = ("dossier__code",)
    list_select_related = ("dossier",)
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Message templates ---------------------------------------------------------------------------


def kind_choices():
    return [(kind, f"{notifications.KIND_LABELS.get(kind, kind)} ({kind})") for kind in notifications.DEFAULT_TEXTS]


def placeholders_help():
    def block(title, names):
        items = format_html_join(", ", "<code>{{{{ {} }}}}</code> ({})", ((k, v) for k, v in names.items()))
        return format_html("<strong>{}</strong> {}", title, items)

    return format_html(
        "{}<br>{}<br>{}",
        _("Django template syntax, e.g. {{ code }}; filters such as {{ due_at|default:'—' }} work."),
        block(_("Dossier messages:"), notifications.DOSSIER_PLACEHOLDERS),
        block(_("Morning digest:"), notifications.DIGEST_PLACEHOLDERS),
    )


def check_text(text, kind):
    """Compile `text` and check its placeholders; raise ValidationError with a readable
    message otherwise."""
    try:
        template = notifications.compile_text(text)
    except Exception as exc:  # TemplateSyntaxError and friends
        raise ValidationError(
            _("This text is not a valid template: %(error)s"), code="syntax", params={"error": exc}
        ) from exc
    allowed = notifications.placeholders_for(kind)
    unknown = set()
    for node in template.nodelist.get_nodes_by_type(VariableNode):
        var = node.filter_expression.var
        if isinstance(var, Variable) and var.lookups and var.lookups[0] not in allowed:
            unknown.add(var.lookups[0])
    if unknown:
        raise ValidationError(
            _("Unknown placeholder(s): %(names)s. Available: %(available)s."),
            code="placeholder",
            params={"names": ", ".join(sorted(unknown)), "available": ", ".join(allowed)},
        )
    try:
        from django.template import Context

        template.render(Context(notifications.sample_context(kind), autoescape=False))
    except Exception as exc:
        raise ValidationError(
            _("This text cannot be rendered: %(error)s"), code="render", params={"error": exc}
        ) from exc


class NotificationTemplateForm(forms.ModelForm):
    kind = forms.ChoiceField(label=_("kind"), choices=kind_choices)

    class Meta:
        model = NotificationTemplate
        fields = ["kind", "channel", "subject", "body", "active"]
        widgets = {"body": forms.Textarea(attrs={"rows": 10, "cols": 80})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["body"].help_text = placeholders_help()
        # The live SMS length (static/js/sms-counter.js): characters and messages, GSM-7 or UCS-2.
        self.fields["body"].widget.attrs.update(
            {
                "data-sms-counter": "1",
                "data-label-gsm": _("SMS: %(chars)s characters, %(parts)s message(s) (GSM-7, no diacritics)"),
                "data-label-ucs": _(
                    "SMS: %(chars)s characters, %(parts)s message(s) (UCS-2: an accented letter makes every "
                    "message 70 characters; write without diacritics to fit 160)"
                ),
                "data-label-note": _("Placeholders are counted as typed: the message sent may be longer."),
            }
        )
        self.fields["subject"].help_text = _(
            "Placeholders as in the message. E-mail subject; SMS: sent before the text."
        )

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind:
            for name in ("subject", "body"):
                if data.get(name):
                    try:
                        check_text(data[name], kind)
                    except ValidationError as exc:
                        self.add_error(name, exc)
        return data


class NotificationTemplateAdmin(admin.ModelAdmin):
    form = NotificationTemplateForm
    list_display = ("kind_label", "channel", "subject", "active", "updated_at")
    list_filter = ("channel", "active", "kind")
    search_fields = ("kind", "subject", "body")
    readonly_fields = ("preview",)
    fields = ("kind", "channel", "subject", "body", "active", "preview")
    change_list_template = "admin/notifications/notificationtemplate/change_list.html"

    class Media:
        js = ("js/sms-counter.js",)

    @admin.display(description=_("kind"), ordering="kind")
    def kind_label(self, obj):
        return notifications.KIND_LABELS.get(obj.kind, obj.kind)

    @admin.display(description=_("preview"))
    def preview(self, obj):
        """The saved text rendered with the newest dossier's values (or a fixed sample)."""
        if obj is None or not obj.pk or obj.kind not in notifications.DEFAULT_TEXTS:
            return _("Save (and continue editing) to see a preview.")
        context = notifications.sample_context(obj.kind)
        try:
            subject, body = notifications._render(obj.subject, obj.body, context)
        except Exception as exc:
            return format_html('<p class="errornote">{}</p>', exc)
        return format_html(
            '<div><p><strong>{}</strong></p><pre style="white-space: pre-wrap; margin: 0;">{}</pre></div>',
            subject,
            body,
        )

    def get_changeform_initial_data(self, request):
        """`?kind=…&channel=…` prefills a new row with the built-in text for that kind."""
        initial = super().get_changeform_initial_data(request)
        kind = request.GET.get("kind")
        if kind in notifications.DEFAULT_TEXTS:
            initial["kind"] = kind
            initial["subject"], initial["body"] = notifications.default_text(kind, request.GET.get("channel"))
        if request.GET.get("channel") not in NotificationChannel.values:
            initial.pop("channel", None)
        return initial

    def get_urls(self):
        urls = [
            path(
                "create-defaults/",
                self.admin_site.admin_view(self.create_defaults_view),
                name="notifications_notificationtemplate_create_defaults",
            )
        ]
        return urls + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "has_add_permission": self.has_add_permission(request)}
        return super().changelist_view(request, extra_context=extra_context)

    def create_defaults_view(self, request):
        """POST: create one row per known kind × channel that has none yet, with the default
        text (so admins edit a copy instead of starting from nothing)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_add_permission(request):
            raise PermissionDenied
        created = create_missing_templates()
        self.message_user(
            request,
            ngettext("%(count)d template created.", "%(count)d templates created.", created) % {"count": created},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:notifications_notificationtemplate_changelist"))


def create_missing_templates():
    """The button's work (migration 0004 did it once already): a row per built-in kind × channel
    that has none, with the default text. Rows an admin edited are left alone."""
    created = 0
    with transaction.atomic():
        for kind, channel, subject, body in notifications.default_templates():
            _row, new = NotificationTemplate.objects.get_or_create(
                kind=kind, channel=channel, defaults={"subject": subject, "body": body}
            )
            created += new
    return created


# --- The reminder policy (one row) ---------------------------------------------------------------


class ReminderPolicyAdmin(admin.ModelAdmin):
    list_display = ("__str__", "scan_interval_minutes", "digest_time", "due_soon_working_days", "last_scan_at")
    readonly_fields = ("last_scan_at", "last_digest_on")
    fieldsets = (
        (
            _("Schedule"),
            {
                "fields": ("scan_interval_minutes", "scan_in_office_hours_only", "digest_time"),
                "description": _(
                    "Celery beat sends one tick a minute; each tick reads these values, so a change applies "
                    "within a minute, without a restart. Digests are sent on working days only."
                ),
            },
        ),
        (
            _("Thresholds"),
            {"fields": ("due_soon_working_days", "extension_prompt_working_days")},
        ),
        (
            _("Recipients and channels"),
            {
                "fields": (
                    "notify_leaders",
                    "email_officers",
                    "notify_citizens_by_email",
                    "notify_citizens_by_sms",
                    "max_attempts",
                )
            },
        ),
        (_("Last runs"), {"fields": ("last_scan_at", "last_digest_on")}),
    )

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not ReminderPolicy.objects.exists()

    def save_model(self, request, obj, form, change):
        if change:
            # Never write back the claim columns: a tick may have moved them meanwhile.
            obj.save(update_fields=list(form.base_fields))
        else:
            obj.save()

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        """One row: go straight to it (created with the defaults on first visit)."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        policy = ReminderPolicy.get()
        return HttpResponseRedirect(reverse("admin:notifications_reminderpolicy_change", args=[policy.pk]))


def _register(model, model_admin):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)


_register(Notification, NotificationAdmin)
_register(Reminder, ReminderAdmin)
_register(NotificationTemplate, NotificationTemplateAdmin)
_register(ReminderPolicy, ReminderPolicyAdmin)
