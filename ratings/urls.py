"""The citizen's rating pages and the leaders' list (ratings/views.py); the API is ratings/api.py."""

from django.urls import path

from . import views

app_name = "ratings"
urlpatterns = [
    path("danh-gia/", views.rate_from_lookup, name="rate"),
    path("danh-gia/<str:token>/", views.rate_from_link, name="link"),
    path("cong-dan/ho-so/<str:code>/danh-gia/", views.rate_as_citizen, name="citizen"),
    path("can-bo/danh-gia/", views.attention, name="attention"),
]
