"""E-mails of notifications, sent in the background (Django's tasks framework) in the
recipient's language, through Django's e-mail backend (EMAIL_BACKEND). They say only what
kind of notice waits and link to it: no name, no case."""

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_tasks import task

from notifications.kinds import Kind
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
    # The e-mail names no one and no case: it travels through mail servers we do not
    # control. It says what kind of notice waits, and where (after the second factor).
    with translation.override(language_of(user)):
        label = str(Kind(notification.kind).label)
        link = f"{settings.SITE_URL}{reverse('notifications:open', args=[notification.pk])}"
        body = "\n\n".join(
            (
                _("You have a new notification: %(kind)s.") % {"kind": label},
                _("Read it in Defensores (you will be asked to log in): %(link)s") % {"link": link},
                _("You chose to receive this by e-mail; change it on your notifications page."),
            )
        )
        send_mail(
            subject=f"[{_('Defensores')}] {label}",
            message=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[user.email],
        )
    Notification.objects.filter(pk=notification.pk).update(emailed_at=timezone.now())
