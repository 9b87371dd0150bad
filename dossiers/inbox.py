"""Officers' in-app notifications: the list, the unread count, marking as read."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from .models import Notification, NotificationChannel

PAGE_SIZE = 30


def unread_count(user, cap=99):
    """Unread in-app notifications, counted up to `cap` (one small indexed query)."""
    if not user.is_authenticated:
        return 0
    return len(Notification.objects.unread_for(user).values_list("pk", flat=True)[: cap + 1])


def context_processor(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not request.path.startswith("/can-bo/"):
        return {}
    count = unread_count(user)
    return {"unread_notifications": count, "unread_notifications_label": "99+" if count > 99 else str(count)}


@login_required
def inbox(request):
    items = list(
        Notification.objects.filter(recipient=request.user, channel=NotificationChannel.IN_APP).order_by(
            "-created_at", "-pk"
        )[:PAGE_SIZE]
    )
    return render(request, "dossiers/inbox.html", {"items": items})


@login_required
@require_POST
def mark_read(request, pk=None):
    mine = Notification.objects.unread_for(request.user)
    if pk is not None:
        notification = get_object_or_404(Notification, pk=pk, recipient=request.user)
        mine = mine.filter(pk=notification.pk)
    mine.update(read_at=timezone.now())
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect("dossiers:inbox")
