"""Catalogue API: procedures (with their appointment date), agencies and fields. Read-only
and public; the router is motcua/api.py."""

from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from procedures.deadlines import compute_due_at
from procedures.models import Agency, Field, Procedure
from procedures.search import MAX_QUERY_LENGTH

from .filters import ProcedureFilter
from .pagination import CataloguePagination
from .serializers import (
    AgencySerializer,
    DetailMessageSerializer,
    DueDateQuerySerializer,
    DueDateSerializer,
    FieldSerializer,
    ProcedureDetailSerializer,
    ProcedureListSerializer,
)

extra_urlpatterns = []


CODE_PARAMETER = OpenApiParameter(
    "code", OpenApiTypes.STR, OpenApiParameter.PATH, description=_("National procedure code, e.g. 1.001193.")
)

# Every answer the catalogue sends besides its 200. The catalogue is public, but a caller that
# presents credentials is checked: an unknown token gets a 401 and a session that has not passed
# its second factor a 403 (accounts.middleware.TwoFactorMiddleware), on every operation.
CREDENTIAL_ERRORS = {
    401: OpenApiResponse(
        DetailMessageSerializer, description=_("The Authorization header carries an unknown or inactive token.")
    ),
    403: OpenApiResponse(
        DetailMessageSerializer, description=_("A session cookie whose two-factor login is not finished.")
    ),
}
INVALID_FILTER = OpenApiResponse(
    OpenApiTypes.OBJECT, description=_("An invalid filter value: parameter → [messages], or `detail`.")
)
NO_SUCH_PAGE = OpenApiResponse(
    DetailMessageSerializer, description=_("No such page: `page` is out of range or not a number.")
)


def list_responses(serializer, filters=True):
    """The answers of a paginated catalogue list; `filters`: it has filters that can refuse a value."""
    return {
        200: serializer(many=True),
        **({400: INVALID_FILTER} if filters else {}),
        **CREDENTIAL_ERRORS,
        404: NO_SUCH_PAGE,
    }


def detail_responses(serializer, not_found):
    return {200: serializer, **CREDENTIAL_ERRORS, 404: OpenApiResponse(DetailMessageSerializer, description=not_found)}


class CodeLookupMixin:
    """Look objects up by `code`, which may contain dots (1.001193, 000.00.00.H12)."""

    lookup_field = "code"
    lookup_value_regex = "[^/]+"

    def get_object(self):
        # PostgreSQL refuses NUL bytes in text parameters (a 500); no code contains one.
        if "\x00" in self.kwargs.get(self.lookup_field, ""):
            raise NotFound
        return super().get_object()


@extend_schema_view(
    list=extend_schema(
        summary=_("List published procedures"),
        description=format_lazy(
            _(
                "Filter by field, implementing agency and online service level; `search` matches names and codes "
                "with or without diacritics (at most {limit} characters, longer → 400) and orders by relevance."
            ),
            limit=MAX_QUERY_LENGTH,
        ),
        responses=list_responses(ProcedureListSerializer),
    ),
    retrieve=extend_schema(
        summary=_("A published procedure in full"),
        parameters=[CODE_PARAMETER],
        responses=detail_responses(ProcedureDetailSerializer, _("No published procedure has this code.")),
    ),
)
class ProcedureViewSet(CodeLookupMixin, viewsets.ReadOnlyModelViewSet):
    filterset_class = ProcedureFilter
    pagination_class = CataloguePagination

    def get_queryset(self):
        procedures = Procedure.objects.published()
        if self.action == "list":
            return procedures.for_list()
        return procedures.select_related("field").prefetch_related("agencies", "documents", "workflow_steps__agency")

    def get_serializer_class(self):
        if self.action == "list":
            return ProcedureListSerializer
        if self.action == "due_date":
            return DueDateSerializer
        return ProcedureDetailSerializer

    @extend_schema(
        summary=_("Appointment date if the dossier is accepted at a given moment"),
        description=_(
            "Working days exclude weekends, Vietnamese public holidays and the administrators' calendar overrides. "
            "A naive `received_at` is Asia/Ho_Chi_Minh time."
        ),
        parameters=[
            CODE_PARAMETER,
            OpenApiParameter(
                "received_at",
                OpenApiTypes.DATETIME,
                OpenApiParameter.QUERY,
                required=False,
                description=_("ISO 8601 acceptance moment, e.g. 2025-12-01T09:00:00+07:00. Default: now."),
            ),
        ],
        responses={
            200: DueDateSerializer,
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description=_("`received_at` is not a valid date and time: received_at → [messages]."),
            ),
            **CREDENTIAL_ERRORS,
            404: OpenApiResponse(DetailMessageSerializer, description=_("No published procedure has this code.")),
        },
        filters=False,
    )
    @action(detail=True, methods=["get"], url_path="due-date", filter_backends=[], pagination_class=None)
    def due_date(self, request, code=None, format=None):  # `format`: the .json suffix route
        procedure = self.get_object()
        query = DueDateQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        received_at = query.validated_data.get("received_at") or timezone.now()
        due_at = compute_due_at(received_at, procedure.processing_days, cutoff=procedure.same_day_cutoff)
        return Response(DueDateSerializer({"received_at": received_at, "due_at": due_at}).data)


@extend_schema_view(
    list=extend_schema(summary=_("List active agencies"), responses=list_responses(AgencySerializer)),
    retrieve=extend_schema(
        summary=_("An agency"),
        parameters=[
            OpenApiParameter("code", OpenApiTypes.STR, OpenApiParameter.PATH, description=_("Electronic identifier."))
        ],
        responses=detail_responses(AgencySerializer, _("No active agency has this code.")),
    ),
)
class AgencyViewSet(CodeLookupMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Agency.objects.active().select_related("parent").order_by("code")
    serializer_class = AgencySerializer
    filterset_fields = ["level"]


@extend_schema_view(
    list=extend_schema(summary=_("List fields"), responses=list_responses(FieldSerializer, filters=False)),
    retrieve=extend_schema(
        summary=_("A field"),
        parameters=[OpenApiParameter("code", OpenApiTypes.STR, OpenApiParameter.PATH, description=_("Field code."))],
        responses=detail_responses(FieldSerializer, _("No field has this code.")),
    ),
)
class FieldViewSet(CodeLookupMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Field.objects.order_by("name")
    serializer_class = FieldSerializer


def register(router):
    """Register this app's viewsets on the project's API router."""
    router.register("procedures", ProcedureViewSet, basename="procedure")
    router.register("agencies", AgencyViewSet, basename="agency")
    router.register("fields", FieldViewSet, basename="field")
