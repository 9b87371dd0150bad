"""The national-portal integration's pages (the sandbox has its own URLs: interop/sandbox/urls.py)."""

from django.urls import path

from . import citizen, views

app_name = "interop"
urlpatterns = [
    path("can-bo/dong-bo-dvcqg/", views.failures, name="failures"),
    path("can-bo/ho-so/<str:code>/dong-bo-lai/", views.retry, name="retry"),
    path("dvcqg/webhook/", views.webhook, name="webhook"),
    path("cong-dan/dang-nhap/", citizen.sign_in, name="citizen_sign_in"),
    path("cong-dan/dang-nhap/xong/", citizen.callback, name="citizen_callback"),
    path("cong-dan/dang-xuat/", citizen.sign_out, name="citizen_sign_out"),
    path("cong-dan/ho-so/", citizen.my_dossiers, name="my_dossiers"),
    path("cong-dan/ho-so/<str:code>/", citizen.my_dossier, name="my_dossier"),
]
