"""Officers' in-app notifications (/can-bo/thong-bao/): the list, the unread count (also in
every /can-bo/ page's context as `unread_notifications_label`), marking one or all as read."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from dossiers.views import workspace_context
from notifications.models import Notification, NotificationChannel

PAGE_SIZE = 50
COUNT_CAP = 99


def unread_count(user, cap=COUNT_CAP):
    """Unread in-app notifications, counted up to `cap` + 1 (one small indexed query)."""
    if not user.is_authenticated:
        return 0
    return len(Notification.objects.unread_for(user).values_list("pk", flat=True)[: cap + 1])


def count_label(count, cap=COUNT_CAP):
    return f"{cap}+" if count > cap else str(count)


def context_processor(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not request.path.startswith("/can-bo/"):
        return {}
    count = unread_count(user)
    return {"unread_notifications": count, "unread_notifications_label": count_label(count)}


@require_safe
@login_required
def inbox(request):
    items = list(
        Notification.objects.filter(recipient=request.user, channel=NotificationChannel.IN_APP).order_by(
            "-created_at", "-pk"
        )[:PAGE_SIZE]
    )
    return render(request, "dossiers/inbox.html", workspace_context(request, items=items))


@require_POST
@login_required
def mark_read(request, pk=None):
    """Mark one notification (pk) or all of the user's unread ones as read. Someone else's
    notification is a 404."""
    mine = Notification.objects.unread_for(request.user)
    if pk is not None:
        notification = get_object_or_404(
            Notification, pk=pk, recipient=request.user, channel=NotificationChannel.IN_APP
        )
        mine = mine.filter(pk=notification.pk)
    mine.update(read_at=timezone.now())
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect("notifications:inbox")
