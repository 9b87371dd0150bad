"""The officers' in-app inbox (/can-bo/thong-bao/): notifications/inbox.py."""

from django.urls import path

from . import inbox

app_name = "notifications"
urlpatterns = [
    path("can-bo/thong-bao/", inbox.inbox, name="inbox"),
    path("can-bo/thong-bao/da-doc/", inbox.mark_read, name="inbox_read_all"),
    path("can-bo/thong-bao/<int:pk>/da-doc/", inbox.mark_read, name="inbox_read"),
]
