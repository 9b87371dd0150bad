"""The one API router under /api/v1/. Each app contributes its viewsets and extra paths."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from procedures.api import views as procedure_views

router = DefaultRouter()
procedure_views.register(router)

urlpatterns = [
    *procedure_views.extra_urlpatterns,
    path("", include(router.urls)),
]
