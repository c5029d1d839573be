"""The bulletin's text reads as written by hand: singular and plural agree, figures and
percentages are in the page's language, and nothing is said of a count of zero."""

import pytest
from django.utils import translation

from reports.narrative import TYPE_PHRASES, narrative


def figures(*, total, types=None, defenders=0, organizations=0, previous=0, ytd=None, month=7):
    types = types or {}
    return {
        "period": f"2021-{month:02d}",
        "total": total,
        "by_type": {code: types.get(code, 0) for code in TYPE_PHRASES},
        "by_target": {"defender": defenders, "organization": organizations},
        "by_perpetrator_category": {"state_media": total} if total else {},
        "top_perpetrators": [
            {
                "name": "Venezolana de Televisión",
                "acronym": "VTV",
                "category": "state_media",
                "incidents": total,
            }  # fmt: skip
        ]
        if total
        else [],
        "previous_month": {
            "period": f"2021-{month - 1:02d}" if month > 1 else "2020-12",
            "total": previous,
        },
        "year_to_date": {"from": "2021-01", "to": f"2021-{month:02d}", "total": ytd or total},
    }


def test_none_says_none_and_nothing_about_types_targets_or_perpetrators():
    text = narrative(figures(total=0, previous=3, ytd=0), "es")
    assert text.startswith("En julio de 2021 no se registró ningún ataque contra personas")
    assert "Por tipo" not in text and "contra organizaciones" not in text
    assert "De enero a julio de 2021 se registraron 0 ataques" in text
    english = narrative(figures(total=0, ytd=0), "en")
    assert english.startswith("In July 2021, no attack against human rights defenders")
    assert "0 (0" not in english


def test_one_of_each_is_singular():
    text = narrative(figures(total=1, types={"raid": 1}, organizations=1, ytd=1), "es")
    assert text.startswith("En julio de 2021 se registró 1 ataque contra personas defensoras")
    assert "Por tipo: 1 allanamiento (100\xa0%)." in text
    assert "Fue contra una organización." in text
    assert "personas defensoras y 0" not in text  # no clause about the side with none
    assert "se registró 1 ataque (en lo que va de año)" in text
    english = narrative(figures(total=1, types={"raid": 1}, defenders=1, ytd=1), "en")
    assert "In July 2021, 1 attack against human rights defenders and organizations was " in (
        english
    )
    assert "By type: 1 raid (100%)." in english and "It was against a defender." in english
    assert "1 attack was recorded (year to date)" in english


def test_many_are_plural_and_grouped_in_each_language():
    many = figures(
        total=1810,
        types={"stigmatization": 1808, "arbitrary_detention": 2},
        defenders=1000,
        organizations=810,
        previous=1,
        ytd=25000,
    )
    text = narrative(many, "es")
    assert "se registraron 1\xa0810 ataques" in text
    assert (
        "1\xa0808 estigmatizaciones o difamaciones (100\xa0%) y 2 detenciones arbitrarias (0\xa0%)"
        in (text)
    )
    assert (
        "1\xa0000 (55\xa0%) fueron contra personas defensoras y 810 (45\xa0%) contra organizaciones"
        in (text)
    )
    assert "VTV (1\xa0810)" in text and "25\xa0000 ataques (en lo que va de año)" in text
    english = narrative(many, "en")
    assert "1,810 attacks" in english and "1,808 acts of stigmatization or defamation (100%)" in (
        english
    )
    assert "1,000 (55%) were against defenders and 810 (45%) against organizations" in english


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize("code", sorted(TYPE_PHRASES))
def test_every_type_has_its_singular_and_plural(code, language):
    one = narrative(figures(total=1, types={code: 1}, defenders=1), language)
    two = narrative(figures(total=2, types={code: 2}, defenders=2), language)
    with translation.override(language):
        singular = str(TYPE_PHRASES[code] % {"count": 1, "shown": "1"})
        plural = str(TYPE_PHRASES[code] % {"count": 2, "shown": "2"})
    assert plural.replace("2", "1", 1) != singular  # two forms, not one
    assert f"{singular} (100" in one and f"{plural} (100" in two


def test_january_does_not_repeat_itself_as_the_year_so_far():
    text = narrative(figures(total=2, types={"threat": 2}, defenders=2, month=1), "es")
    assert "en lo que va de año" not in text


def test_bodies_are_counted_with_their_parts_and_say_so():
    rolled = figures(total=9, types={"arbitrary_detention": 9}, defenders=9)
    rolled["by_perpetrator_category"] = {"security_force": 9}
    rolled["top_bodies"] = [
        {
            "name": "Policía Nacional Bolivariana",
            "acronym": "PNB",
            "category": "security_force",
            "incidents": 6,
            "parts": [{"name": "Fuerzas de Acciones", "acronym": "FAES", "incidents": 4}],
        },
        {"name": "Servicio Bolivariano", "acronym": "SEBIN", "category": "security_force",
         "incidents": 3, "parts": []},
    ]  # fmt: skip
    text = narrative(rolled, "es")
    assert "cuerpo de seguridad: PNB (6, incluye FAES) y SEBIN (3)" in text
    english = narrative(rolled, "en")
    assert "security force: PNB (6, including FAES) and SEBIN (3)" in english
    # A month published before bodies were rolled up still names its perpetrators.
    assert "VTV (9)" in narrative(figures(total=9, types={"raid": 9}, defenders=9), "es")
