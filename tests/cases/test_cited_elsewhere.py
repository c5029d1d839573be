"""A link or file another case already cites is pointed out on the case page: perhaps the
same attack recorded twice. Never a case the reader may not see."""

import pytest

from cases.duplicates import link_key
from tests.factories import CaseFactory, SourceFactory

pytestmark = pytest.mark.django_db


def test_two_citations_of_one_link_compare_equal():
    same = {
        link_key("https://www.example.org/nota/123/"),
        link_key("http://example.org/nota/123#comentarios"),
        link_key("https://EXAMPLE.org/nota/123?utm_source=x&fbclid=y"),
    }
    assert same == {"example.org/nota/123"}
    assert link_key("https://example.org/nota/124") != link_key("https://example.org/nota/123")
    assert link_key("https://x.com/v?id=2&a=1") == link_key("https://x.com/v?a=1&id=2")


def test_the_case_page_points_out_the_other_case(client_for, reviewer):
    first = CaseFactory(title="Estigmatización en VTV, 5 de julio")
    second = CaseFactory(title="Programa del 5 de julio")
    SourceFactory(case=first, url="https://www.vtv.gob.ve/programa/5-julio/")
    SourceFactory(
        case=second, title="Nota VTV", url="http://vtv.gob.ve/programa/5-julio?utm_medium=tw"
    )
    SourceFactory(case=CaseFactory(title="Sin relación"), url="https://vtv.gob.ve/otro")
    page = client_for(reviewer).get(f"/admin/cases/case/{second.pk}/change/").content.decode()
    assert "Ya citada por otros casos" in page
    assert "Estigmatización en VTV, 5 de julio" in page and "Sin relación" not in page


def test_the_same_file_too(client_for, reviewer):
    first = CaseFactory(title="Caso con el acta")
    second = CaseFactory(title="Otro caso")
    SourceFactory(case=first, sha256="a" * 64)
    SourceFactory(case=second, sha256="a" * 64)
    page = client_for(reviewer).get(f"/admin/cases/case/{second.pk}/change/").content.decode()
    assert "Caso con el acta" in page


def test_a_case_the_reader_may_not_see_is_never_named(client_for, reviewer):
    hidden = CaseFactory(title="CENTINELA restringido", confidentiality="restricted")
    SourceFactory(case=hidden, url="https://example.org/nota")
    mine = CaseFactory(title="Mío")
    SourceFactory(case=mine, url="https://example.org/nota")
    page = client_for(reviewer).get(f"/admin/cases/case/{mine.pk}/change/").content.decode()
    assert "CENTINELA" not in page and "Ya citada por otros casos" not in page


def test_a_whole_site_is_not_a_citation_of_each_of_its_pages(client_for, reviewer):
    first = CaseFactory(title="Caso con una nota")
    second = CaseFactory(title="Caso con el sitio")
    SourceFactory(case=first, url="https://twitter.com/usuario/status/1")
    SourceFactory(case=second, url="https://twitter.com")
    page = client_for(reviewer).get(f"/admin/cases/case/{second.pk}/change/").content.decode()
    assert "Caso con una nota" not in page
