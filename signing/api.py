"""GET /api/v1/dossiers/<code>/result.pdf — the signed result, for officers in the dossier's scope."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.views import APIView

from dossiers.api.views import CODE_PARAMETER, ERRORS, IsOfficer, visible_dossier
from dossiers.models import Dossier
from procedures.api.negotiation import FirstRendererNegotiation

from .models import ResultDocument
from .views import file_name, pdf_response, signed_bytes


class DossierResultView(APIView):
    """The signed electronic result (PAdES) once the leader approved it: the same file as the desk's
    and the citizen's copy; its SHA-256 is in the approval's event."""

    permission_classes = [IsOfficer]
    content_negotiation_class = FirstRendererNegotiation

    @extend_schema(
        operation_id="dossiers_result_pdf",
        summary="The signed result PDF",
        parameters=[CODE_PARAMETER],
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The signed PDF."),
            401: ERRORS[401],
            403: ERRORS[403],
            404: OpenApiResponse(description="Unknown dossier, outside the caller's scope, or not signed yet."),
        },
    )
    def get(self, request, code):
        dossier = visible_dossier(Dossier.objects.visible_to(request.user), code)
        document = ResultDocument.objects.current_signed(dossier)
        if document is None:
            raise NotFound("This dossier has no signed result yet.")
        return pdf_response(signed_bytes(document), file_name(document))
