"""Read-only representations of the catalogue for /api/v1/."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from procedures.models import Agency, Field, Procedure, RequiredDocument, WorkflowStep

# The earliest and latest moments the due-date endpoint accepts: beyond them the working
# calendar (public holidays) is meaningless and date arithmetic may overflow.
EARLIEST_RECEIPT = datetime(2000, 1, 1, tzinfo=ZoneInfo("UTC"))
LATEST_RECEIPT = datetime(2100, 1, 1, tzinfo=ZoneInfo("UTC"))


class FieldSerializer(serializers.ModelSerializer):
    class Meta:
        model = Field
        fields = ["code", "name"]


class AgencySerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True, help_text=_("The parent agency's code.")
    )
    # A plain string in the schema: an enum here would collide with Procedure.level's enum
    # (both named "level") and drf-spectacular warns unless ENUM_NAME_OVERRIDES names them.
    level = serializers.CharField(read_only=True, help_text=_("province, department, commune or other."))

    class Meta:
        model = Agency
        fields = ["code", "name", "level", "parent", "address", "phone", "email"]


class AgencyRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Agency
        fields = ["code", "name"]


class RequiredDocumentSerializer(serializers.ModelSerializer):
    template_url = serializers.SerializerMethodField(help_text=_("Download address of the form template, if any."))

    class Meta:
        model = RequiredDocument
        fields = ["position", "name", "originals", "copies", "note", "template_url"]

    def get_template_url(self, document) -> str | None:
        if not document.template:
            return None
        path = reverse("procedures:document-template", args=[document.procedure.code, document.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class WorkflowStepSerializer(serializers.ModelSerializer):
    agency = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True, help_text=_("Empty: the competent agency of the dossier.")
    )

    class Meta:
        model = WorkflowStep
        fields = ["position", "name", "role", "agency", "time_share"]


class ProcedureListSerializer(serializers.HyperlinkedModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="procedure-detail", lookup_field="code")
    field = FieldSerializer(read_only=True)
    processing_days = serializers.DecimalField(max_digits=5, decimal_places=1, coerce_to_string=False, read_only=True)

    class Meta:
        model = Procedure
        fields = ["code", "name", "field", "level", "service_level", "processing_days", "fee_vnd", "url"]


class ProcedureDetailSerializer(ProcedureListSerializer):
    agencies = AgencyRefSerializer(many=True, read_only=True)
    documents = RequiredDocumentSerializer(many=True, read_only=True)
    workflow_steps = WorkflowStepSerializer(many=True, read_only=True)
    web_url = serializers.SerializerMethodField(help_text=_("The procedure's public page."))

    class Meta(ProcedureListSerializer.Meta):
        fields = [
            *ProcedureListSerializer.Meta.fields,
            "web_url",
            "agencies",
            "processing_time_text",
            "same_day_cutoff",
            "fee_text",
            "steps",
            "channels",
            "conditions",
            "applicant_types",
            "result",
            "legal_basis",
            "source",
            "effective_from",
            "effective_to",
            "version",
            "updated_at",
            "documents",
            "workflow_steps",
        ]

    def get_web_url(self, procedure) -> str:
        request = self.context.get("request")
        path = procedure.get_absolute_url()
        return request.build_absolute_uri(path) if request else path


class ReceiptDateTimeField(serializers.DateTimeField):
    """A DateTimeField that refuses moments outside 2000–2099 with a readable message.

    DRF itself crashes (OverflowError) on e.g. "0001-01-01T00:00" in a positive-offset zone."""

    default_error_messages = {"out_of_range": _("Give a date between the years 2000 and 2099.")}

    def to_internal_value(self, value):
        try:
            moment = super().to_internal_value(value)
        except OverflowError:
            self.fail("out_of_range")
        if not EARLIEST_RECEIPT <= moment < LATEST_RECEIPT:
            self.fail("out_of_range")
        return moment


class DueDateQuerySerializer(serializers.Serializer):
    """Query string of the due-date endpoint. A naive `received_at` is local time
    (Asia/Ho_Chi_Minh); a "+07:00" offset whose "+" was decoded to a space is repaired."""

    received_at = ReceiptDateTimeField(
        required=False,
        default_timezone=ZoneInfo(settings.TIME_ZONE),
        help_text=_("When the complete dossier is accepted (ISO 8601). Default: now."),
    )

    def to_internal_value(self, data):
        value = data.get("received_at")
        if isinstance(value, str) and value.strip():
            data = {"received_at": _repair_offset(value.strip())}
        elif value is not None and not str(value).strip():
            data = {}  # "?received_at=" means "now", like leaving it out
        return super().to_internal_value(data)


def _repair_offset(text):
    """'2025-12-01T09:00:00 07:00' (an unescaped '+' in a query string) → '...+07:00'."""
    head, _sep, tail = text.rpartition(" ")
    if head and "T" in head and tail[:2].isdigit() and (len(tail) in (2, 4, 5)):
        return f"{head}+{tail}"
    return text


class DueDateSerializer(serializers.Serializer):
    received_at = serializers.DateTimeField(help_text=_("Acceptance moment, in the project's time zone."))
    due_at = serializers.DateTimeField(help_text=_("The appointment date (result due), with offset."))


class DetailMessageSerializer(serializers.Serializer):
    """An error answer with one readable message (DRF's `{"detail": …}`)."""

    detail = serializers.CharField()
