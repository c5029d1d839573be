"""The bell with its unread count, the page that lists a person's notifications (their own
only), and the page where they choose which kinds reach them by which channel."""

import pytest

from notifications import services
from notifications.models import Notification, Preferences

pytestmark = pytest.mark.django_db


def tell(user, key="k1", count=3):
    return services.notify(
        kind="review_queue", recipients=[user], key=key, params={"count": count}, url="/admin/"
    )


def test_the_bell_counts_unread_and_the_page_reads_them(client_for, reviewer):
    tell(reviewer, "a")
    tell(reviewer, "b", count=1)
    client = client_for(reviewer)
    home = client.get("/admin/").content.decode()
    assert 'href="/notifications/"' in home and "Notificaciones: 2 sin leer" in home
    page = client.get("/notifications/").content.decode()
    assert "3 casos están esperando revisión." in page and "1 caso está esperando" in page
    # Followed, a notification is read, and leads to what it is about.
    first = Notification.objects.get(key="a")
    opened = client.get(f"/notifications/{first.pk}/")
    assert opened.status_code == 302 and opened["Location"] == "/admin/"
    assert "Notificaciones: 1 sin leer" in client.get("/admin/").content.decode()


def test_someone_elses_notification_cannot_be_opened(client_for, reviewer, documentalist):
    [note] = tell(reviewer)
    assert client_for(documentalist).get(f"/notifications/{note.pk}/").status_code == 404
    note.refresh_from_db()
    assert note.read_at is None


def test_each_role_chooses_among_what_concerns_it(client_for, reviewer, lawyer):
    reviewer_page = client_for(reviewer).get("/notifications/preferences/").content.decode()
    assert "La cola de revisión" in reviewer_page and "Una audiencia mañana" not in reviewer_page


def test_mark_all_as_read(client_for, reviewer):
    tell(reviewer)
    client_for(reviewer).post("/notifications/")
    assert not Notification.objects.filter(read_at__isnull=True).exists()


def test_each_person_sees_only_their_own(client_for, reviewer, documentalist):
    tell(reviewer)
    page = client_for(documentalist).get("/notifications/").content.decode()
    assert "esperando revisión" not in page and "Nada todavía." in page


def test_an_email_only_notification_is_not_in_the_bell(client_for, reviewer):
    services.preferences_save(user=reviewer, language="es", channels={"review_queue": ["email"]})
    tell(reviewer)
    assert "Notificaciones: 0 sin leer" in client_for(reviewer).get("/admin/").content.decode()


def test_preferences_are_chosen_per_kind_and_channel(client_for, lawyer):
    client = client_for(lawyer)
    page = client.get("/notifications/preferences/")
    assert page.status_code == 200
    assert "Una audiencia mañana" in page.content.decode()
    data = {"language": "en", "hearing_tomorrow": ["app"], "new_detention": ["app", "email"]}
    assert client.post("/notifications/preferences/", data).status_code == 302
    saved = Preferences.objects.get(user=lawyer)
    assert saved.language == "en"
    assert saved.channels["hearing_tomorrow"] == ["app"]
    assert saved.channels["incommunicado"] == []  # unticked: none
    assert services.channels_for(lawyer, "new_detention") == {"app", "email"}


def test_a_bad_choice_is_refused_with_a_message_and_nothing_saved(client_for, lawyer):
    response = client_for(lawyer).post(
        "/notifications/preferences/", {"language": "xx", "hearing_tomorrow": ["fax"]}
    )
    assert response.status_code == 200
    assert "Escoja una opción válida" in response.content.decode()
    assert not Preferences.objects.filter(user=lawyer).exists()


def test_anonymous_visitors_are_sent_to_log_in(client):
    for url in ("/notifications/", "/notifications/preferences/"):
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"]
