"""Vocabularies shared by the lower apps. Codes never change once data exists."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class State(models.TextChoices):
    """Venezuela's federal entities, by ISO 3166-2 code. Names are official proper names."""

    DISTRITO_CAPITAL = "VE-A", "Distrito Capital"
    ANZOATEGUI = "VE-B", "Anzoátegui"
    APURE = "VE-C", "Apure"
    ARAGUA = "VE-D", "Aragua"
    BARINAS = "VE-E", "Barinas"
    BOLIVAR = "VE-F", "Bolívar"
    CARABOBO = "VE-G", "Carabobo"
    COJEDES = "VE-H", "Cojedes"
    FALCON = "VE-I", "Falcón"
    GUARICO = "VE-J", "Guárico"
    LARA = "VE-K", "Lara"
    MERIDA = "VE-L", "Mérida"
    MIRANDA = "VE-M", "Miranda"
    MONAGAS = "VE-N", "Monagas"
    NUEVA_ESPARTA = "VE-O", "Nueva Esparta"
    PORTUGUESA = "VE-P", "Portuguesa"
    SUCRE = "VE-R", "Sucre"
    TACHIRA = "VE-S", "Táchira"
    TRUJILLO = "VE-T", "Trujillo"
    YARACUY = "VE-U", "Yaracuy"
    ZULIA = "VE-V", "Zulia"
    DEPENDENCIAS_FEDERALES = "VE-W", "Dependencias Federales"
    LA_GUAIRA = "VE-X", "La Guaira"  # named Vargas until 2019
    DELTA_AMACURO = "VE-Y", "Delta Amacuro"
    AMAZONAS = "VE-Z", "Amazonas"


class PerpetratorCategory(models.TextChoices):
    SECURITY_FORCE = "security_force", _("Security force")
    ARMED_FORCES = "armed_forces", _("Armed forces")
    PUBLIC_OFFICIAL = "public_official", _("Public official")
    STATE_MEDIA = "state_media", _("State media")
    PUBLIC_INSTITUTION = "public_institution", _("Public institution")
    PRO_GOVERNMENT_GROUP = "pro_government_group", _("Pro-government group")
    NON_STATE_ARMED_GROUP = "non_state_armed_group", _("Non-state armed group")
    UNKNOWN = "unknown", _("Unknown")
