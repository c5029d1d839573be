import io

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.db import connection

from core.encryption import FieldDecryptionError
from organizations.models import Defender
from tests.factories import DefenderFactory, SourceFactory

pytestmark = pytest.mark.django_db


def raw(table, column, pk):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.parametrize(
    "value", ["", "+58 412 555 0000", "Calle Ñandú 7, Mérida — «casa azul» ☎ 日本", "x" * 100_000]
)
def test_values_round_trip(value):
    defender = DefenderFactory(phone=value, address=value)
    again = Defender.objects.get(pk=defender.pk)
    assert again.phone == value and again.address == value


def test_the_database_and_the_history_hold_only_ciphertext():
    defender = DefenderFactory(email="testigo@example.org")
    source = SourceFactory(witness="Nombre del testigo", contact="+58 414 000 0000")
    stored = raw("organizations_defender", "email", defender.pk)[0]
    assert stored.startswith("gAAAA") and "testigo" not in stored
    history = raw("organizations_historicaldefender", "email", defender.pk)
    assert history and all(h.startswith("gAAAA") and "testigo" not in h for h in history)
    for column in ("witness", "contact"):
        assert "testigo" not in raw("cases_source", column, source.pk)[0]
        assert raw("cases_historicalsource", column, source.pk)[0].startswith("gAAAA")


def test_a_wrong_key_fails_loudly(settings):
    defender = DefenderFactory(phone="+58 412 555 0000")
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(FieldDecryptionError):
        Defender.objects.get(pk=defender.pk)


def test_encrypted_fields_cannot_be_searched():
    with pytest.raises(FieldError):
        list(Defender.objects.filter(phone="+58"))


def test_keys_rotate_and_the_old_key_can_then_be_dropped(settings):
    old = settings.FIELD_ENCRYPTION_KEYS[0]
    defender = DefenderFactory(phone="+58 412 555 0000")
    defender.phone = "+58 412 555 0001"
    defender.save()  # a second history row
    new = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_field_keys", stdout=io.StringIO())
    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert Defender.objects.get(pk=defender.pk).phone == "+58 412 555 0001"
    phones = sorted(h.phone for h in Defender.history.filter(id=defender.pk))
    assert phones == ["+58 412 555 0000", "+58 412 555 0001"]
