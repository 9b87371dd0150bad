"""Vietnamese procedure search: the one function used by the HTML pages and the API.

Citizens type with or without diacritics, in any case, sometimes with typos. Each
procedure stores two search columns, maintained by `Procedure.save()`:
`name_normalised` (lower case, NFC, diacritics kept) and `search_folded`
(`fold(name + code)`: lower case, no diacritics, đ → d). The query is folded with the
same `fold()`, so indexing and querying can never disagree.

Candidates are the procedures whose folded text contains every folded term of the query,
or whose code is the query. They are ranked (`search_rank`):

-1. the query is the procedure's code ("1.001193"),
 0. the name contains the query exactly, diacritics included ("Đăng ký khai sinh"),
 1. the folded text contains the folded query as a phrase ("dang ky khai sinh"),
 2. the folded text contains every folded term, in any order ("khai sinh dang ky"),
 3. PostgreSQL only, typo tolerance: pg_trgm word similarity between the folded query and
    the folded text ≥ `TRIGRAM_THRESHOLD` ("khai sihn"), best first.

Typo tolerance is a fallback: near-misses are added only when nothing matches exactly.
Word similarity rewards shared common words, so "đăng ký thường trú" would otherwise drag
in every "đăng ký …" procedure (~0.47) and "khai sinh kết hôn" every birth procedure
(~0.59), burying the answer under noise; real typos score 0.5–0.8 ("khai sihn" 0.70,
"khia sinh" 0.54, "tam chu" 0.50).

Within a rank, shorter names come first (the general procedure before its variants:
"Đăng ký khai sinh" before "Đăng ký khai sinh có yếu tố nước ngoài"), then by name.
"""

from dataclasses import dataclass

from django.db import connection
from django.db.models import Case, Exists, F, FloatField, IntegerField, Q, Value, When
from django.db.models.functions import Length

from .text import fold, normalise

MAX_QUERY_LENGTH = 200

# Minimum word_similarity(folded query, search_folded) for a typo match (see above).
TRIGRAM_THRESHOLD = 0.5

RANK_CODE = -1
RANK_EXACT_PHRASE = 0
RANK_FOLDED_PHRASE = 1
RANK_ALL_TERMS = 2
RANK_FUZZY = 3

# Punctuation a citizen may type around words ("khai sinh," or "(khai sinh)"); stripped
# from the edges of each term only, so codes such as "1.001193" keep their dots.
_EDGE_PUNCTUATION = "\"'“”‘’.,;:!?()[]{}<>«»…-–—"


class QueryTooLong(ValueError):
    """The search text is longer than MAX_QUERY_LENGTH characters (after stripping)."""


@dataclass(frozen=True)
class ParsedQuery:
    text: str  # the stripped query as typed
    normalised: str  # lower case, NFC, diacritics kept
    folded: str  # fold()ed phrase
    terms: tuple  # distinct folded terms, in order

    def __bool__(self):
        return bool(self.terms)


def parse_query(query) -> ParsedQuery:
    """Split a search text into the normalised phrase and the folded terms.

    Raises QueryTooLong when the stripped text exceeds MAX_QUERY_LENGTH characters.
    """
    text = (query or "").strip()
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryTooLong(text)
    words = [word.strip(_EDGE_PUNCTUATION) for word in normalise(text).split()]
    words = [word for word in words if word]
    terms = tuple(dict.fromkeys(fold(word) for word in words))
    return ParsedQuery(text=text, normalised=" ".join(words), folded=fold(" ".join(words)), terms=terms)


def search_procedures(queryset, query):
    """Filter `queryset` (of Procedure) by a free-text query and order it by relevance.

    An empty query returns the queryset unchanged. The result is annotated with
    `search_rank` (see the module docstring). Raises QueryTooLong for a query longer
    than MAX_QUERY_LENGTH characters; callers turn that into a 400 response.
    """
    parsed = parse_query(query)
    if not parsed:
        return queryset

    all_terms = Q()
    for term in parsed.terms:
        all_terms &= Q(search_folded__contains=term)
    code = Q(code__iexact=parsed.text)
    candidates = code | all_terms
    base = queryset
    ranks = [
        When(code, then=Value(RANK_CODE)),
        When(name_normalised__contains=parsed.normalised, then=Value(RANK_EXACT_PHRASE)),
        When(search_folded__contains=parsed.folded, then=Value(RANK_FOLDED_PHRASE)),
        When(all_terms, then=Value(RANK_ALL_TERMS)),
    ]

    if connection.vendor == "postgresql":
        # Imported here: the module must also load where psycopg is not installed.
        from django.contrib.postgres.search import TrigramWordSimilarity

        queryset = queryset.annotate(search_similarity=TrigramWordSimilarity(parsed.folded, "search_folded"))
        # One SQL statement: the EXISTS sub-query turns typo tolerance on only when the
        # caller's queryset has no exact candidate.
        no_exact_match = ~Exists(base.filter(candidates).order_by().values("pk"))
        candidates |= Q(no_exact_match, search_similarity__gte=TRIGRAM_THRESHOLD)
        fuzzy_order = F("search_similarity")
    else:
        fuzzy_order = Value(1.0)

    return (
        queryset.filter(candidates)
        .annotate(search_rank=Case(*ranks, default=Value(RANK_FUZZY), output_field=IntegerField()))
        .annotate(
            # Similarity only orders the fuzzy group; the exact groups keep "shortest name first".
            search_fuzzy_order=Case(
                When(search_rank=RANK_FUZZY, then=fuzzy_order), default=Value(1.0), output_field=FloatField()
            )
        )
        .order_by("search_rank", F("search_fuzzy_order").desc(), Length("name"), "name", "pk")
    )
