from notifications.models import Notification


def unread(request) -> dict:
    """The staff header's bell: how many notifications wait unread (one count query)."""
    user = getattr(request, "user", None)
    if user is None or not (user.is_authenticated and user.is_staff):
        return {}
    return {
        "unread_notifications": lambda: Notification.objects.filter(
            recipient=user, read_at__isnull=True, shown_in_app=True
        ).count()
    }
