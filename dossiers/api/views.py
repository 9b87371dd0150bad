"""The dossier API under /api/v1/ (DESIGN.md §5): dossiers, transitions, receipt PDF,
attachments and the public, throttled citizen lookup.

Every officer endpoint reads through `Dossier.objects.visible_to(request.user)`: a dossier outside
it is a 404, never a 403. Transitions go through `dossiers.services.dossier_act` only:
`WorkflowConflict` → 409 `{"detail": …}`, `PermissionDenied` → 403, `ActionInputError` → 400 with
the field errors, an action name that does not exist → 404.
"""

import functools

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, prefetch_related_objects
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, re_path
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status as http
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, Throttled, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from accounts import roles as permissions
from procedures.api.negotiation import FirstRendererNegotiation
from procedures.api.serializers import DetailMessageSerializer
from procedures.models import Role

from .. import lookup, workflow
from ..attachments import ALLOWED_TYPES, AttachmentRejected, add_attachment, attachment_response, may_attach
from ..models import Attachment, Consultation, Dossier
from ..services import ActionInputError, WorkflowConflict, dossier_act, dossier_create
from .filters import DossierFilter
from .serializers import (
    ActionInputSerializer,
    AttachmentSerializer,
    AttachmentUploadSerializer,
    DossierCreatedSerializer,
    DossierCreateInputSerializer,
    DossierDetailSerializer,
    DossierListSerializer,
    LookupQuerySerializer,
    LookupResultSerializer,
    cached_events,
)

ERRORS = {
    400: OpenApiResponse(OpenApiTypes.OBJECT, description="Invalid input: field → [messages]."),
    401: OpenApiResponse(DetailMessageSerializer, description="Not authenticated, or an unknown or inactive token."),
    403: OpenApiResponse(
        DetailMessageSerializer,
        description=(
            "Not an officer, or lacks the role; or a session cookie whose two-factor login is not finished, "
            "or that sends a write without its CSRF token."
        ),
    ),
    404: OpenApiResponse(DetailMessageSerializer, description="No such dossier visible to the caller."),
}
CODE_PARAMETER = OpenApiParameter("code", str, OpenApiParameter.PATH, description="Dossier code.")
# The route only matches digits: a negative id never reaches the view.
ATTACHMENT_ID_PARAMETER = OpenApiParameter(
    "attachment_id", {"type": "integer", "minimum": 0}, OpenApiParameter.PATH, description="Attachment id."
)
# Downloads are sent with the content type detected at upload (dossiers.attachments.ALLOWED_TYPES).
DOWNLOAD_CONTENT_TYPES = sorted({content_type for content_type, _extensions, _guesses in ALLOWED_TYPES.values()})


class IsOfficer(BasePermission):
    """An authenticated user with at least one role in an agency (or a superuser)."""

    message = gettext_lazy("Only officers can use this endpoint.")

    def has_permission(self, request, view):
        return permissions.is_officer(request.user)


class DossierCursorPagination(CursorPagination):
    """Keyset pagination: no COUNT(*) and no OFFSET scan, however large the table."""

    ordering = ("-submitted_at", "-id")
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


def visible_dossier(queryset, code):
    """The dossier with `code` in `queryset` (already scoped to the caller), else 404."""
    # PostgreSQL refuses NUL bytes in text parameters; no code contains one.
    if "\x00" in code:
        raise Http404
    return get_object_or_404(queryset.with_code(code))


def _conflict(exc):
    return Response({"detail": str(exc)}, status=http.HTTP_409_CONFLICT)


@extend_schema_view(
    list=extend_schema(
        summary="Dossiers visible to the caller",
        responses={
            200: DossierListSerializer(many=True),
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="An invalid filter value: parameter → [messages]."),
            401: ERRORS[401],
            403: ERRORS[403],
            404: OpenApiResponse(DetailMessageSerializer, description="The `cursor` is not valid."),
        },
    ),
    retrieve=extend_schema(
        summary="One dossier with its events and the actions the caller may take now",
        parameters=[CODE_PARAMETER],
        responses={200: DossierDetailSerializer, 401: ERRORS[401], 403: ERRORS[403], 404: ERRORS[404]},
    ),
    create=extend_schema(
        summary="Receive a dossier at the desk (reception officers)",
        request=DossierCreateInputSerializer,
        responses={201: DossierCreatedSerializer, 400: ERRORS[400], 401: ERRORS[401], 403: ERRORS[403]},
    ),
)
class DossierViewSet(GenericViewSet):
    queryset = Dossier.objects.none()
    permission_classes = [IsOfficer]
    lookup_field = "code"
    # Codes contain dots (agency identifiers such as 000.01.21.H12) and dashes.
    lookup_value_regex = r"[^/]+"
    filter_backends = [DjangoFilterBackend]
    filterset_class = DossierFilter
    pagination_class = DossierCursorPagination
    serializer_class = DossierListSerializer

    def get_queryset(self):
        return Dossier.objects.visible_to(self.request.user).select_related(
            "procedure", "receiving_agency", "competent_agency", "returning_agency", "assignee"
        )

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": timezone.now()}

    def get_dossier(self):
        return visible_dossier(self.get_queryset(), self.kwargs["code"])

    def detail_response(self, code):
        """The detail of the dossier with `code` visible to the caller (404 otherwise)."""
        return self.detail_of(visible_dossier(self.get_queryset().select_related("handling_agency"), code))

    def detail_of(
        self, dossier, status=http.HTTP_200_OK, serializer_class=DossierDetailSerializer, new=False, **context
    ):
        """The detail of `dossier`, a row the caller may see with its related rows read or cached:
        its attachments and consultations are read here (a `new` dossier has none) and its history
        comes serialised from the cache while it has not changed (`cached_events`)."""
        if new:
            dossier._prefetched_objects_cache = {
                "attachments": Attachment.objects.none(),
                "consultations": Consultation.objects.none(),
            }
        else:
            prefetch_related_objects(
                [dossier],
                "attachments__uploaded_by",
                Prefetch(
                    "consultations",
                    Consultation.objects.select_related("agency", "requesting_agency", "answered_by").order_by(
                        "requested_at", "pk"
                    ),
                ),
            )
        if settings.DOSSIER_EVENTS_CACHE_SECONDS > 0:
            context["events_data"] = cached_events(dossier)
        else:
            prefetch_related_objects([dossier], "events__actor")
        serializer = serializer_class(dossier, context={**self.get_serializer_context(), **context})
        return Response(serializer.data, status=status)

    def list(self, request, format=None):  # `format`: the router's .json suffix routes
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def create(self, request, format=None):
        if not request.user.is_superuser and not permissions.agencies_with_role(request.user, Role.RECEPTION):
            raise PermissionDenied(_("Only reception officers can receive dossiers."))
        serializer = DossierCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            dossier, pin = dossier_create(actor=request.user, **serializer.validated_data)
        except ActionInputError as exc:
            raise ValidationError(exc.errors) from exc
        # The answer comes from the dossier just written, with its related rows already in memory
        # (issue 20: reading it back through the caller's scoped query cost a third of the
        # creation). tests/dossiers/test_api.py checks that the 201 is the detail a GET returns next.
        return self.detail_of(
            dossier, status=http.HTTP_201_CREATED, serializer_class=DossierCreatedSerializer, new=True, pin=pin
        )

    def retrieve(self, request, code=None, format=None):
        return self.detail_response(code)

    @extend_schema(
        summary="Take a workflow action",
        description=(
            "Parameters per action: assign/reassign `assignee`; request_supplement `missing_documents`; "
            "propose_result/mark_result_ready `result`; extend `new_due_at`; return_result `collected_by`, "
            "`method`, `result_form`. Inter-agency routing (the dossier's `handling_agency` and `step_index` "
            "say who holds it): hand_over (no parameter: to the agency of the next workflow step), "
            "accept_handover `assignee` (optional), return_handover (the reason in `comment`), consult "
            "`agencies` (agency codes) `days` (working days, 0.5 to 30; the question in `comment`), "
            "answer_consultation `consultation` (optional id; the answer in `comment`), request_obligation "
            "`tax_agency` (code, optional) `days` (default 5), record_obligation `amount` (VND) `notice_number` "
            "`consultation`. The detail's `consultations` lists the requests and their answers. "
            "Other fields are ignored. "
            "409: not possible now (nothing changed); 404: no such "
            "dossier for the caller, or no such action."
        ),
        parameters=[
            CODE_PARAMETER,
            OpenApiParameter("action_name", str, OpenApiParameter.PATH, enum=sorted(workflow.ACTIONS)),
        ],
        request=ActionInputSerializer,
        responses={
            200: DossierDetailSerializer,
            **ERRORS,
            409: OpenApiResponse(DetailMessageSerializer, description="Not possible now; nothing changed."),
        },
    )
    @action(detail=True, methods=["post"], url_path=r"actions/(?P<action_name>[^/.]+)", url_name="act")
    def act(self, request, code=None, action_name=None, format=None):
        dossier = self.get_dossier()
        spec = workflow.get_action(action_name)
        if spec is None:
            raise NotFound(_("Unknown action “%(action)s”.") % {"action": action_name})
        serializer = ActionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        params = {name: data[name] for name in spec.params if name in data}
        try:
            dossier_act(dossier=dossier, actor=request.user, action=spec.name, comment=data["comment"], **params)
        except WorkflowConflict as exc:
            return _conflict(exc)
        except ActionInputError as exc:
            raise ValidationError(exc.errors) from exc
        # Read again with its related rows: the action may have changed any of them (the assignee,
        # the holder, the consultations, the history).
        return self.detail_response(dossier.code)

    @extend_schema(
        summary="Attach a file (PDF, JPEG, PNG, DOCX, XLSX)",
        parameters=[CODE_PARAMETER],
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={201: AttachmentSerializer, **ERRORS},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="attachments",
        url_name="attachments",
        parser_classes=[MultiPartParser, FormParser],
    )
    def attachments(self, request, code=None, format=None):
        dossier = self.get_dossier()
        if not may_attach(request.user, dossier):
            raise PermissionDenied(_("You do not handle this dossier."))
        serializer = AttachmentUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            attachment = add_attachment(
                dossier=dossier,
                uploaded_file=serializer.validated_data["file"],
                actor=request.user,
                kind=serializer.validated_data["kind"],
            )
        except AttachmentRejected as exc:
            raise ValidationError({"file": [str(exc)]}) from exc
        return Response(
            AttachmentSerializer(attachment, context=self.get_serializer_context()).data,
            status=http.HTTP_201_CREATED,
        )

    @extend_schema(
        summary="Download an attachment",
        description="The file is sent as it was stored, with the content type detected at upload.",
        parameters=[CODE_PARAMETER, ATTACHMENT_ID_PARAMETER],
        responses={
            **{
                (200, content_type): OpenApiResponse(OpenApiTypes.BINARY, description="The file, as an attachment.")
                for content_type in DOWNLOAD_CONTENT_TYPES
            },
            401: ERRORS[401],
            403: ERRORS[403],
            404: OpenApiResponse(
                DetailMessageSerializer,
                description="No such dossier visible to the caller, no such attachment of it, or the file is gone.",
            ),
        },
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"attachments/(?P<attachment_id>[0-9]+)",
        url_name="attachment",
        content_negotiation_class=FirstRendererNegotiation,
    )
    def download(self, request, code=None, attachment_id=None, format=None):
        dossier = self.get_dossier()
        attachment = get_object_or_404(Attachment.objects.filter(dossier=dossier), pk=attachment_id)
        return attachment_response(attachment)


class DossierReceiptView(APIView):
    """The receipt (Mẫu 01) as a PDF. With `?pin=` the QR code carries the PIN, but only when the
    PIN is the dossier's; each `?pin=` counts like a lookup attempt (429 when over the limits)."""

    permission_classes = [IsOfficer]
    content_negotiation_class = FirstRendererNegotiation

    @extend_schema(
        operation_id="dossiers_receipt_pdf",
        summary="The receipt PDF (Mẫu 01)",
        parameters=[
            CODE_PARAMETER,
            OpenApiParameter(
                "pin",
                str,
                description="The dossier's PIN, to print it in the QR code. Throttled like the lookup.",
            ),
        ],
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY),
            401: ERRORS[401],
            403: ERRORS[403],
            404: ERRORS[404],
            429: OpenApiResponse(DetailMessageSerializer, description="Too many wrong PINs; try again later."),
        },
    )
    def get(self, request, code):
        from .. import pdf  # the PDF module pulls in WeasyPrint: load it only when printing

        dossier = visible_dossier(
            Dossier.objects.visible_to(request.user).select_related(
                "procedure", "receiving_agency__parent", "competent_agency__parent", "returning_agency"
            ),
            code,
        )
        pin, refused = lookup.pin_from_query(request, dossier, request.query_params.get("pin"))
        if refused is not None:
            raise Throttled(wait=refused.retry_after, detail=lookup.throttled_message(refused.retry_after))
        content = pdf.render_form("receipt", dossier, pin=pin)
        response = HttpResponse(content, content_type="application/pdf")
        response["Content-Disposition"] = content_disposition_header(False, f"bien-nhan-{dossier.code}.pdf")
        response["Cache-Control"] = "private, no-store"
        return response


class LookupView(APIView):
    """The citizen's lookup: public, throttled per client address."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="lookup",
        summary="Track a dossier with its code and PIN (public)",
        description=(
            "A wrong PIN and an unknown code get the same 404. After too many failures from one address "
            "every lookup from it gets 429 with Retry-After until the window ends, even with the right PIN."
        ),
        parameters=[LookupQuerySerializer],
        responses={
            200: LookupResultSerializer,
            400: ERRORS[400],
            403: OpenApiResponse(
                DetailMessageSerializer, description="A session cookie whose two-factor login is not finished."
            ),
            404: OpenApiResponse(DetailMessageSerializer, description="No dossier matches this code and PIN."),
            429: OpenApiResponse(DetailMessageSerializer, description="Too many unsuccessful lookups."),
        },
    )
    def get(self, request):
        plain = lookup.plain_query(request.query_params)
        if plain is None:
            query = LookupQuerySerializer(data=request.query_params)
            query.is_valid(raise_exception=True)
            plain = query.validated_data["code"], query.validated_data["pin"]
        status, body, headers = lookup_answer(request, *plain)
        response = Response(body, status=status)
        for name, value in headers.items():
            response[name] = value
        return response

    @classmethod
    def as_view(cls, **initkwargs):
        """DRF's view, behind a shortcut for the plain case (`plain_lookup`): the lookup is the
        hottest public request and wrapping it in DRF's request, negotiation and response costs a
        share of its time. The wrapper keeps DRF's view's attributes (`cls`, `initkwargs`,
        `csrf_exempt`): the schema and the URL checks see the same view."""
        view = super().as_view(**initkwargs)
        shortcut = plain_lookup if cls.renderer_classes == [JSONRenderer] else None

        @functools.wraps(view)
        def lookup_view(request, *args, **kwargs):
            response = shortcut(request) if shortcut is not None else None
            return view(request, *args, **kwargs) if response is None else response

        return lookup_view


def lookup_answer(request, code, pin):
    """(status, body, headers) of a lookup of `code` and `pin`, for DRF's view and the shortcut."""
    outcome = lookup.attempt_lookup(request, lookup.normalise_code(code), pin.strip())
    headers = {"Cache-Control": "no-store"}
    if outcome.throttled_message:
        headers = {"Retry-After": str(outcome.retry_after), **headers}
        return http.HTTP_429_TOO_MANY_REQUESTS, {"detail": outcome.throttled_message}, headers
    if outcome.dossier is None:
        return http.HTTP_404_NOT_FOUND, {"detail": str(lookup.NOT_FOUND_MESSAGE)}, headers
    return http.HTTP_200_OK, lookup.lookup_json(lookup.lookup_result(outcome.dossier)), headers


# Accept header values for which DRF's negotiation, with JSON as the only renderer, picks JSON with
# the media type "application/json" (no parameter such as `indent` to honour).
_JSON_RANGES = frozenset({"*/*", "application/*", "application/json"})


def _plainly_json(accept):
    if not accept:
        return True
    ranges = [item.split(";", 1) for item in accept.split(",")]
    if any(len(item) > 1 and not item[1].strip().startswith("q=") for item in ranges):
        return False
    return any(item[0].strip().lower() in _JSON_RANGES for item in ranges)


def plain_lookup(request):
    """The API lookup's response without DRF, or None to let DRF's view answer. Only the case
    where DRF would do nothing but call `LookupView.get` and render JSON: a GET with a plainly
    valid query (`lookup.plain_query`) and no `format`, an Accept header that DRF resolves to
    plain JSON, and no session cookie (DRF's view authenticates no one, so an officer's session
    would otherwise make a difference to the audit of a lock). The same status, body bytes and
    headers as DRF's (a test compares them)."""
    if request.method != "GET" or settings.SESSION_COOKIE_NAME in request.COOKIES or "format" in request.GET:
        return None
    if not _plainly_json(request.headers.get("Accept")):
        return None
    plain = lookup.plain_query(request.GET)
    if plain is None:
        return None
    status, body, headers = lookup_answer(request, *plain)
    response = HttpResponse(_JSON.render(body), status=status, content_type=JSONRenderer.media_type)
    for name, value in {**headers, "Allow": _LOOKUP_ALLOW}.items():
        response[name] = value
    return response


_JSON = JSONRenderer()


def _allowed_methods(view_class):
    """The `Allow` header DRF sets: the methods of an instance set up as `as_view` does (which adds
    HEAD to a view that has GET)."""
    view = view_class()
    view.setup(None)
    return ", ".join(view.allowed_methods)


_LOOKUP_ALLOW = _allowed_methods(LookupView)


def register(router):
    """Register this app's viewsets on the project's API router."""
    router.register("dossiers", DossierViewSet, basename="dossier")


extra_urlpatterns = [
    path("lookup/", LookupView.as_view(), name="api-lookup"),
    re_path(r"^dossiers/(?P<code>[^/]+)/receipt\.pdf$", DossierReceiptView.as_view(), name="dossier-receipt"),
]
