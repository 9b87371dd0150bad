from django.urls import path

from . import oidc, views

app_name = "sandbox_dvcqg"

urlpatterns = [
    path("", views.index, name="index"),
    path("auth", views.auth, name="auth"),
    path("integration", views.integration, name="integration"),
    path("files/<int:pk>", views.file, name="file"),
    path("_faults", views.set_faults, name="faults"),
    path("_submit", views.submit, name="submit"),
    path("_catalogue", views.load_catalogue, name="catalogue"),
    path("oidc", oidc.discovery, name="oidc_root"),
    path("oidc/.well-known/openid-configuration", oidc.discovery, name="oidc_discovery"),
    path("oidc/authorize", oidc.authorize, name="oidc_authorize"),
    path("oidc/token", oidc.token, name="oidc_token"),
    path("oidc/userinfo", oidc.userinfo, name="oidc_userinfo"),
    path("oidc/jwks", oidc.jwks, name="oidc_jwks"),
]
