"""E-mails of notifications, sent in the background (Django's tasks framework) in the
recipient's language, through Django's e-mail backend (EMAIL_BACKEND)."""

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_tasks import task

from notifications.models import Notification, language_of


@task()
def send_email(notification_id: int) -> None:
    notification = (
        Notification.objects.select_related("recipient").filter(pk=notification_id).first()
    )
    if notification is None or notification.emailed_at is not None:
        return  # gone, or sent already (a task delivered twice)
    user = notification.recipient
    if not (user.is_active and user.email):
        return
    with translation.override(language_of(user)):
        text = notification.text
        link = f"{settings.SITE_URL}{notification.url}" if notification.url else ""
        body = "\n\n".join(
            part
            for part in (
                text,
                link,
                _("You chose to receive this by e-mail; change it on your notifications page."),
            )
            if part
        )
        send_mail(
            subject=f"[{_('Defensores')}] {text[:120]}",
            message=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[user.email],
        )
    Notification.objects.filter(pk=notification.pk).update(emailed_at=timezone.now())
