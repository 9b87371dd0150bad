from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("tai-khoan/xac-thuc-hai-buoc/", views.two_factor, name="two-factor"),
    path("tai-khoan/nhap-ma/", views.otp_verify, name="otp-verify"),
]
