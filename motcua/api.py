"""The one API router under /api/v1/. Each app contributes its viewsets and extra paths."""

from django.urls import include, path, re_path
from rest_framework.routers import DefaultRouter

from accounts import tokens
from dossiers.api import views as dossier_views
from procedures.api import views as procedure_views
from ratings import api as ratings_api
from reporting import digital, handling
from reporting.api import index as index_api
from reporting.api import views as stats_api
from signing import api as signing_api

router = DefaultRouter()
procedure_views.register(router)
dossier_views.register(router)

urlpatterns = [
    path("auth/token/", tokens.ObtainTokenView.as_view(), name="api-token"),
    path("auth/logout/", tokens.LogoutTokenView.as_view(), name="api-logout"),
    *procedure_views.extra_urlpatterns,
    *dossier_views.extra_urlpatterns,
    re_path(r"^dossiers/(?P<code>[^/]+)/result\.pdf$", signing_api.DossierResultView.as_view(), name="dossier-result"),
    path("stats/", stats_api.StatsView.as_view(), name="api-stats"),
    path("stats/digital/", digital.DigitalIndicatorsView.as_view(), name="api-stats-digital"),
    path("stats/handling/", handling.HandlingAgencyView.as_view(), name="api-stats-handling"),
    path("stats/index/", index_api.ServiceIndexView.as_view(), name="api-stats-index"),
    path("ratings/", ratings_api.RatingView.as_view(), name="api-ratings"),
    path("", include(router.urls)),
]
