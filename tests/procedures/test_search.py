import pytest
from django.db import connection

from procedures.models import Field, Procedure
from procedures.search import (
    MAX_QUERY_LENGTH,
    RANK_ALL_TERMS,
    RANK_CODE,
    RANK_EXACT_PHRASE,
    RANK_FOLDED_PHRASE,
    RANK_FUZZY,
    QueryTooLong,
    parse_query,
    search_procedures,
)


def names(queryset):
    return [procedure.name for procedure in queryset]


def search(query):
    return list(search_procedures(Procedure.objects.all(), query))


@pytest.mark.parametrize(
    "query",
    [
        "dang ky khai sinh",
        "Đăng ký khai sinh",
        "DANG KY KHAI SINH",
        "ĐĂNG KÝ KHAI SINH",
        "khai sinh",
        "dăng ky khai sinh",
        "  đăng   ký khai sinh  ",
        "khai sinh, đăng ký",
    ],
)
def test_birth_registration_comes_first_however_it_is_typed(catalogue, query):
    results = search(query)

    assert results[0] == catalogue.birth


def test_variants_follow_the_general_procedure(catalogue):
    results = names(search("khai sinh"))

    assert results == ["Đăng ký khai sinh", "Đăng ký lại khai sinh", "Đăng ký khai sinh có yếu tố nước ngoài"]


def test_all_terms_must_match(catalogue):
    # On PostgreSQL too: "đăng ký khai sinh" is similar enough to be a typo match, but typo
    # tolerance only applies when nothing matches exactly.
    assert names(search("khai sinh nuoc ngoai")) == ["Đăng ký khai sinh có yếu tố nước ngoài"]


def test_no_exact_match_when_a_term_is_missing(catalogue):
    results = search("khai sinh kết hôn")

    assert all(p.search_rank == RANK_FUZZY for p in results)  # SQLite: none at all


def test_terms_in_any_order_rank_below_the_phrase(catalogue):
    results = search_procedures(Procedure.objects.all(), "khai sinh dang ky")

    assert [(p.name, p.search_rank) for p in results][:1] == [("Đăng ký khai sinh", RANK_ALL_TERMS)]


def test_exact_diacritics_rank_above_a_folded_only_match(catalogue):
    # Both names fold to "cap ban sao ...", only the longer one has the query's diacritics:
    # without the exact-diacritic rank, the shorter name would come first.
    field = catalogue.certification
    folded_only = Procedure.objects.create(code="9.000001", name="Cáp bản sao", field=field)
    exact = Procedure.objects.create(code="9.000002", name="Cấp bản sao trích lục hộ tịch", field=field)

    results = list(search_procedures(Procedure.objects.all(), "Cấp bản sao"))

    assert results == [exact, folded_only]
    assert [p.search_rank for p in results] == [RANK_EXACT_PHRASE, RANK_FOLDED_PHRASE]


def test_without_diacritics_both_rank_as_folded_phrase_shortest_first(catalogue):
    field = catalogue.certification
    short = Procedure.objects.create(code="9.000001", name="Cáp bản sao", field=field)
    long = Procedure.objects.create(code="9.000002", name="Cấp bản sao trích lục hộ tịch", field=field)

    assert search("cap ban sao") == [short, long]


def test_exact_code_ranks_first(catalogue):
    # A procedure whose name mentions the other's code must not outrank the code itself.
    Procedure.objects.create(code="9.000003", name="Hướng dẫn thủ tục 1.001193", field=catalogue.civil_status)

    results = list(search_procedures(Procedure.objects.all(), "1.001193"))

    assert results[0] == catalogue.birth
    assert results[0].search_rank == RANK_CODE
    assert len(results) == 2


def test_part_of_a_code_finds_the_procedure(catalogue):
    assert search("001193") == [catalogue.birth]


def test_search_keeps_the_callers_filters(catalogue):
    queryset = Procedure.objects.filter(field=catalogue.certification)

    assert list(search_procedures(queryset, "khai sinh")) == []
    assert list(search_procedures(queryset, "chung thuc")) == [catalogue.certified_copy]


def test_search_columns_follow_a_rename(catalogue):
    catalogue.marriage.name = "Đăng ký kết hôn lưu động"
    catalogue.marriage.save(update_fields=["name"])

    assert search("luu dong") == [catalogue.marriage]


@pytest.mark.parametrize("query", ["", "   ", None, " ,.; "])
def test_empty_query_returns_the_queryset_unchanged(catalogue, query):
    queryset = Procedure.objects.order_by("code")

    assert list(search_procedures(queryset, query)) == list(queryset)


def test_like_wildcards_are_literal(catalogue):
    assert search("%") == []
    assert search("_") == []


def test_query_at_the_length_limit_is_accepted(catalogue):
    query = "khai" + " " * (MAX_QUERY_LENGTH - 8) + "sinh"
    assert len(query) == MAX_QUERY_LENGTH

    assert search(query)[0] == catalogue.birth


def test_query_over_the_length_limit_is_refused(catalogue):
    with pytest.raises(QueryTooLong):
        search_procedures(Procedure.objects.all(), "x" * (MAX_QUERY_LENGTH + 1))


def test_surrounding_spaces_do_not_count_towards_the_limit():
    assert parse_query("  " + "x" * MAX_QUERY_LENGTH + "  ").terms == ("x" * MAX_QUERY_LENGTH,)


def test_parse_query_folds_like_the_index():
    parsed = parse_query("  Đăng KÝ  khai sinh, khai sinh ")

    assert parsed.normalised == "đăng ký khai sinh khai sinh"
    assert parsed.folded == "dang ky khai sinh khai sinh"
    assert parsed.terms == ("dang", "ky", "khai", "sinh")


def test_typo_still_finds_birth_registration_on_postgresql(catalogue):
    if connection.vendor != "postgresql":
        pytest.skip("typo tolerance uses pg_trgm (PostgreSQL only)")

    results = search("khai sihn")

    assert results[0] == catalogue.birth
    assert catalogue.marriage not in results
    assert catalogue.certified_copy not in results


@pytest.mark.parametrize("query", ["khia sinh", "dang ki khai sinh", "dangky khai sinh"])
def test_other_typos_find_birth_registration_on_postgresql(catalogue, query):
    if connection.vendor != "postgresql":
        pytest.skip("typo tolerance uses pg_trgm (PostgreSQL only)")

    results = list(search_procedures(Procedure.objects.all(), query))

    assert results[0] == catalogue.birth
    assert results[0].search_rank == RANK_FUZZY


def test_typo_matches_are_not_added_to_exact_matches_on_postgresql(catalogue):
    if connection.vendor != "postgresql":
        pytest.skip("typo tolerance uses pg_trgm (PostgreSQL only)")
    field = Field.objects.create(code="X", name="Khác")
    exact = Procedure.objects.create(code="9.000004", name="Khai sihn (tên thử nghiệm)", field=field)

    assert search("khai sihn") == [exact]
