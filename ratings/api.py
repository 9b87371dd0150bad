"""POST /api/v1/ratings/ — the citizen rates the handling of a dossier with its code and PIN
(public, throttled like the lookup). DESIGN.md §5; docs/api.md."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework import status as http
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from dossiers import lookup, throttle
from procedures.api.serializers import DetailMessageSerializer

from . import services
from .models import CRITERIA, CRITERIA_KEYS, Channel, Level


class RatingInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=lookup.MAX_CODE_LENGTH, help_text="The dossier code.")
    pin = serializers.CharField(max_length=lookup.MAX_PIN_LENGTH, help_text="The PIN printed on the receipt.")
    level = serializers.ChoiceField(choices=Level.choices, help_text="The overall level.")
    criteria = serializers.DictField(
        child=serializers.ChoiceField(choices=Level.choices),
        required=False,
        help_text="Optional: criterion → level. Criteria: " + ", ".join(CRITERIA_KEYS) + ".",
    )
    comment = serializers.CharField(
        required=False, allow_blank=True, max_length=services.MAX_COMMENT_LENGTH, help_text="Optional comment."
    )


class RatingSerializer(serializers.Serializer):
    code = serializers.CharField()
    level = serializers.ChoiceField(choices=Level.choices)
    criteria = serializers.DictField(child=serializers.ChoiceField(choices=Level.choices))
    comment = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    changeable_until = serializers.DateTimeField(help_text="Until when the holder may change the rating.")


def rating_body(rating, code):
    return RatingSerializer(
        {
            "code": code,
            "level": rating.level,
            "criteria": rating.criteria,
            "comment": rating.comment,
            "created_at": rating.created_at,
            "updated_at": rating.updated_at,
            "changeable_until": services.changeable_until(rating),
        }
    ).data


class RatingView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="rating_create",
        summary="Rate the handling of a dossier (public, code + PIN)",
        description=(
            "One rating per dossier, only once the dossier has ended (returned, refused, withdrawn or "
            "stopped): 201 for the first rating, 200 when the holder changes it within the change window, "
            "409 before the end or after the window. A wrong PIN gets the same 404 as an unknown code; "
            "attempts count against the lookup's limits (429 with Retry-After). Criteria: "
            + "; ".join(f"`{key}` ({label})" for key, label in CRITERIA)
            + "."
        ),
        request=RatingInputSerializer,
        responses={
            201: RatingSerializer,
            200: RatingSerializer,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="Invalid input: field → [messages]."),
            404: OpenApiResponse(DetailMessageSerializer, description="No dossier matches this code and PIN."),
            409: OpenApiResponse(DetailMessageSerializer, description="Not rateable now (nothing changed)."),
            429: OpenApiResponse(DetailMessageSerializer, description="Too many unsuccessful attempts."),
        },
    )
    def post(self, request):
        query = RatingInputSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        attempt = throttle.begin_attempt(request, code=data["code"])
        if not attempt.allowed:
            if attempt.lock_started:
                lookup.code_locked(request, data["code"])
            response = Response(
                {"detail": lookup.throttled_message(attempt.retry_after, attempt.code_locked)},
                status=http.HTTP_429_TOO_MANY_REQUESTS,
            )
            response["Retry-After"] = str(attempt.retry_after)
            return response
        dossier = lookup.find_dossier(data["code"], data["pin"])
        if dossier is None:
            return Response({"detail": str(lookup.NOT_FOUND_MESSAGE)}, status=http.HTTP_404_NOT_FOUND)
        attempt.succeeded()
        try:
            rating, created = services.rate(
                dossier=dossier,
                level=data["level"],
                criteria=data.get("criteria"),
                comment=data.get("comment", ""),
                channel=Channel.API,
                request=request,
            )
        except services.RatingInputError as exc:
            return Response({k: [str(m) for m in v] for k, v in exc.errors.items()}, status=http.HTTP_400_BAD_REQUEST)
        except services.RatingError as exc:
            return Response({"detail": str(exc.message)}, status=http.HTTP_409_CONFLICT)
        response = Response(
            rating_body(rating, dossier.code), status=http.HTTP_201_CREATED if created else http.HTTP_200_OK
        )
        response["Cache-Control"] = "no-store"
        return response
