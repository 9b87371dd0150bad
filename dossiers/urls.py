"""Officer workspace (/can-bo/) and the citizen lookup (/tra-cuu/).

Views: dossiers/views.py (workspace, reception, dossier page, actions, approvals, attachments),
dossiers/lookup.py (citizen lookup), dossiers/pdf.py (printed forms)."""

from django.urls import path

from . import lookup, pdf, views

app_name = "dossiers"
urlpatterns = [
    path("tra-cuu/", lookup.lookup_page, name="lookup"),
    path("can-bo/", views.workspace, name="workspace"),
    path("can-bo/bat-dau/", views.home, name="home"),
    path("can-bo/tiep-nhan/", views.receive, name="receive"),
    path("can-bo/thu-tuc-goi-y/", views.procedure_suggest, name="procedure_suggest"),
    path("can-bo/phe-duyet/", views.approvals, name="approvals"),
    path("can-bo/xin-y-kien/", views.consultations, name="consultations"),
    path("can-bo/ho-so/<str:code>/", views.detail, name="detail"),
    path("can-bo/ho-so/<str:code>/bien-nhan/", views.receipt, name="receipt"),
    path("can-bo/ho-so/<str:code>/hanh-dong/<slug:action>/", views.act, name="act"),
    path("can-bo/ho-so/<str:code>/cap-lai-pin/", views.reissue_pin, name="reissue_pin"),
    path("can-bo/ho-so/<str:code>/in/<slug:form>.pdf", pdf.form_pdf, name="pdf"),
    path("can-bo/tep/<int:pk>/", views.attachment_download, name="attachment"),
]
