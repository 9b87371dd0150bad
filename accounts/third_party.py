"""Vietnamese names for the third-party apps the admin shows (django-axes, django-otp's TOTP
devices, django-rest-knox's tokens) and for Django's permissions.

Those apps ship no Vietnamese catalogue, and some of their names are plain strings that gettext
never sees (knox's model and fields, django-otp's fields and help texts, the apps' verbose
names). `label_third_party_apps()` (AccountsConfig.ready) gives them lazy translations whose
msgids are in our catalogue (locale/vi), so the admin reads Vietnamese in Vietnamese and English
in English. django-axes' own msgids ("IP Address", "Attempt Time"…) are translated in our
catalogue directly.

Permissions are rows whose names were written in English at migrate time ("Can add dossier"):
`permission_label()` builds the label from the codename's action and the model's translated name.
"""

from django.apps import apps
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

APP_NAMES = {
    "axes": _("Login attempts and lockouts"),
    "knox": _("API tokens"),
    "otp_totp": _("Two-factor login (authenticator apps)"),
    "django_celery_beat": _("Scheduled tasks"),
}

# (app label, model name) → (verbose name, plural, {field: (verbose name, help text or None)})
MODELS = {
    ("knox", "authtoken"): (
        _("API token"),
        _("API tokens"),
        {
            "digest": (_("token fingerprint"), None),
            "token_key": (_("token prefix"), None),
            "user": (pgettext_lazy("token owner", "user"), None),
            "created": (pgettext_lazy("token", "created at"), None),
            "expiry": (_("expires at"), None),
        },
    ),
    ("otp_totp", "totpdevice"): (
        _("authenticator app (TOTP)"),
        _("authenticator apps (TOTP)"),
        {
            "user": (pgettext_lazy("device owner", "user"), _("The user that this device belongs to.")),
            "name": (pgettext_lazy("device", "name"), _("The human-readable name of this device.")),
            "confirmed": (_("confirmed"), _("Is this device ready for use?")),
            "throttling_failure_timestamp": (
                _("last failed attempt"),
                _("A timestamp of the last failed verification attempt. Null if last attempt succeeded."),
            ),
            "throttling_failure_count": (_("failed attempts"), _("Number of successive failed attempts.")),
            "created_at": (
                pgettext_lazy("device", "created at"),
                _("The date and time when this device was initially created in the system."),
            ),
            "last_used_at": (_("last used at"), _("The most recent date and time this device was used.")),
            "key": (_("secret key"), _("A hex-encoded secret key of up to 40 bytes.")),
            "step": (_("time step"), _("The time step in seconds.")),
            "t0": (_("start time (t0)"), _("The Unix time at which to begin counting steps.")),
            "digits": (_("digits"), _("The number of digits to expect in a token.")),
            "tolerance": (_("tolerance"), _("The number of time steps in the past or future to allow.")),
            "drift": (
                _("drift"),
                _("The number of time steps the prover is known to deviate from our clock."),
            ),
            "last_t": (
                _("last time step used"),
                _("The t value of the latest verified token. The next token must be at a higher time step."),
            ),
        },
    ),
}

PERMISSION_ACTIONS = {
    "add": _("Can add %(model)s"),
    "change": _("Can change %(model)s"),
    "delete": _("Can delete %(model)s"),
    "view": _("Can view %(model)s"),
}


def label_third_party_apps():
    for label, name in APP_NAMES.items():
        if label in apps.app_configs:
            apps.get_app_config(label).verbose_name = name
    for (app_label, model_name), (singular, plural, fields) in MODELS.items():
        if app_label not in apps.app_configs:
            continue
        model = apps.get_model(app_label, model_name)
        model._meta.verbose_name, model._meta.verbose_name_plural = singular, plural
        for field_name, (verbose_name, help_text) in fields.items():
            field = model._meta.get_field(field_name)
            field.verbose_name = verbose_name
            if help_text is not None:
                field.help_text = help_text


def permission_label(permission):
    """'Hồ sơ | hồ sơ | Có thể thêm hồ sơ' for the row named 'Can add dossier' (and its
    model's translated name); other permissions keep their own name, translated if it can be."""
    content_type = permission.content_type
    model = content_type.model_class()
    action = permission.codename.split("_", 1)[0]
    standard = model is not None and permission.codename == f"{action}_{model._meta.model_name}"
    if standard and action in PERMISSION_ACTIONS:
        name = PERMISSION_ACTIONS[action] % {"model": model._meta.verbose_name}
    else:
        name = _(permission.name)  # noqa: INT001 - a name written by a migration, translated if we can
    return f"{content_type} | {name}"
