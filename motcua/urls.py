from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.views import SpectacularAPIView

from . import views

# The admin's own name ("Quản trị Một Cửa"), not "Django administration".
admin.site.site_header = _("Một Cửa administration")
admin.site.site_title = _("Một Cửa administration")
admin.site.index_title = _("Catalogue, officers and settings")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("dang-nhap/", auth_views.LoginView.as_view(), name="login"),
    path("dang-xuat/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("accounts.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("api/v1/", include("motcua.api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", views.APIDocsView.as_view(url_name="schema"), name="api-docs"),
    path("", include("reporting.urls")),
    path("", include("ratings.urls")),
    path("", include("procedures.urls")),
    path("", include("signing.urls")),
    path("", include("dossiers.urls")),
    # The CSC sandbox answers 404 unless SIGNING_CSC_SANDBOX is on (docs/signing.md).
    path("sandbox/csc/", include("signing.sandbox")),
    path("", include("notifications.urls")),
    path("", include("interop.urls")),
    path("kiosk/", include("kiosk.urls")),
]

# The national portal's sandbox (docs/national-portal.md): only when DVCQG_SANDBOX is on.
if settings.DVCQG_SANDBOX:
    urlpatterns.append(path("sandbox/dvcqg/", include("interop.sandbox.urls")))
