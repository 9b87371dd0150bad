"""Public catalogue pages: home, the procedure list with search and filters, a procedure's
page with its appointment date, and form-template downloads.

Every page runs a fixed number of queries, whatever the size of the catalogue.
"""

from django import forms
from django.db.models import Count, Exists, OuterRef
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from .api.filters import ProcedureFilter
from .deadlines import compute_due_at
from .models import Agency, Procedure, RequiredDocument
from .search import MAX_QUERY_LENGTH, search, suggestion
from .text import sort_key

PAGE_SIZE = 20
MAX_PAGE = 10_000


def published_fields():
    """Fields with at least one published procedure, with `procedure_count`, in Vietnamese
    alphabetical order (one query)."""
    rows = (
        Procedure.objects.published()
        .order_by()
        .values("field__code", "field__name")
        .annotate(procedure_count=Count("pk"))
    )
    return sorted(rows, key=lambda row: sort_key(row["field__name"]))


def published_agencies():
    """Agencies that implement at least one published procedure, in Vietnamese alphabetical
    order (one query)."""
    implements_published = Procedure.agencies.through.objects.filter(
        agency=OuterRef("pk"), procedure__in=Procedure.objects.published()
    )
    agencies = Agency.objects.filter(Exists(implements_published)).only("code", "name")
    return sorted(agencies, key=lambda agency: sort_key(agency.name))


class CatalogueFilterForm(forms.Form):
    """The list page's query string: search text, filters and page number."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=MAX_QUERY_LENGTH,
        error_messages={"max_length": _("The search text is too long: use at most %(limit_value)d characters.")},
    )
    field = forms.ChoiceField(
        label=_("Field"),
        required=False,
        error_messages={"invalid_choice": _("This field is not in the catalogue.")},
    )
    agency = forms.ChoiceField(
        label=_("Agency"),
        required=False,
        error_messages={"invalid_choice": _("This agency is not in the catalogue.")},
    )
    service_level = forms.ChoiceField(
        label=_("Online service"),
        required=False,
        choices=[("", _("Any"))] + Procedure.ServiceLevel.choices,
        error_messages={"invalid_choice": _("Unknown online service level.")},
    )
    page = forms.IntegerField(
        label=_("Page"),
        required=False,
        min_value=1,
        max_value=MAX_PAGE,
        error_messages={
            "invalid": _("The page number must be a whole number."),
            "min_value": _("The page number must be at least 1."),
            "max_value": _("The page number must be at most %(limit_value)s."),
        },
    )

    def __init__(self, *args, fields=(), agencies=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["field"].choices = [("", _("All fields"))] + [(f["field__code"], f["field__name"]) for f in fields]
        self.fields["agency"].choices = [("", _("All agencies"))] + [(a.code, a.name) for a in agencies]


@require_safe
def home(request):
    return render(request, "procedures/home.html", {"fields": published_fields()})


@require_safe
def procedure_list(request):
    fields, agencies = published_fields(), published_agencies()
    form = CatalogueFilterForm(request.GET, fields=fields, agencies=agencies)
    context = {"form": form, "procedures": [], "page_number": 1, "has_next": False}
    if not form.is_valid():
        return render(request, "procedures/procedure_list.html", context, status=400)

    data = form.cleaned_data
    # The API's FilterSet applies the filters and the search: page and API list the same procedures.
    procedures = ProcedureFilter(
        {"search": data["q"], **{name: data[name] for name in ("field", "agency", "service_level")}},
        queryset=Procedure.objects.published().for_list(),
    ).qs

    # No COUNT(*): fetch one row more than a page to know whether there is a next page.
    page_number = data["page"] or 1
    offset = (page_number - 1) * PAGE_SIZE
    rows = list(procedures[offset : offset + PAGE_SIZE + 1])
    is_filtered = any(data[name] for name in ("q", "field", "agency", "service_level"))
    context.update(
        procedures=rows[:PAGE_SIZE],
        page_number=page_number,
        has_next=len(rows) > PAGE_SIZE,
        is_filtered=is_filtered,
        # One COUNT over the page's query (a search restricts it to its ranked ids).
        result_count=(len(rows) if page_number == 1 and len(rows) <= PAGE_SIZE else procedures.count())
        if is_filtered
        else None,
    )
    if data["q"] and (not context["result_count"] or search(data["q"]).corrected):
        # "Did you mean …?": only a spelling that finds published procedures.
        context["did_you_mean"] = suggestion(data["q"], Procedure.objects.published())
    return render(request, "procedures/procedure_list.html", context)


def _check_code(code):
    # PostgreSQL refuses NUL bytes in text parameters (a 500); no code contains one.
    if "\x00" in code:
        raise Http404


@require_safe
def procedure_detail(request, code):
    _check_code(code)
    procedure = get_object_or_404(
        Procedure.objects.published().select_related("field").prefetch_related("agencies", "documents"), code=code
    )
    due_at = compute_due_at(timezone.now(), procedure.processing_days, cutoff=procedure.same_day_cutoff)
    return render(request, "procedures/procedure_detail.html", {"procedure": procedure, "due_at": due_at})


@require_safe
def document_template(request, code, pk):
    """Download the form template of a published procedure's required document."""
    _check_code(code)
    document = get_object_or_404(
        RequiredDocument.objects.filter(procedure__in=Procedure.objects.published()),
        procedure__code=code,
        pk=pk,
    )
    if not document.template:
        raise Http404
    try:
        handle = document.template.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    return FileResponse(handle, as_attachment=True, filename=document.template.name.rsplit("/", 1)[-1])
