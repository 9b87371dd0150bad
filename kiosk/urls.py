from django.urls import path

from . import views

app_name = "kiosk"
urlpatterns = [
    path("", views.home, name="home"),
    path("linh-vuc/<str:code>/", views.field, name="field"),
    path("thu-tuc/<str:code>/", views.procedure, name="procedure"),
    path("tra-cuu/", views.lookup, name="lookup"),
]
