from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and audit")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Connect the audit receivers, and the API tokens' revocation on logout and password change.
        from . import signals, tokens  # noqa: F401
        from .third_party import label_third_party_apps

        # Vietnamese names for the admin pages of django-axes, django-otp and knox.
        label_third_party_apps()
