"""Dossier API serializers. Writes have their own input serializers (only the fields a client may
set; status, code, deadlines, stage, assignee… are never accepted) and reads their own output
serializers."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from procedures.models import Agency, Procedure

from ..models import (
    Attachment,
    Channel,
    Consultation,
    Dossier,
    DossierEvent,
    Outcome,
    Stage,
    Status,
    choice_labels,
)
from ..services import available_actions

# --- Input ------------------------------------------------------------------------------------


class DocumentInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=500)
    originals = serializers.IntegerField(min_value=0, max_value=100, default=0)
    copies = serializers.IntegerField(min_value=0, max_value=100, default=0)
    received = serializers.BooleanField(default=True)


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class LinesField(serializers.Field):
    """A list of strings, or one text with one item per line."""

    default_error_messages = {"invalid": _("Enter a list of items or one item per line.")}

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = data.splitlines()
        if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
            self.fail("invalid")
        return [item.strip()[:500] for item in data if item.strip()]

    def to_representation(self, value):
        return list(value)


class ProcedureCodeField(serializers.SlugRelatedField):
    default_error_messages = {
        "does_not_exist": _("There is no procedure with the code “{value}”."),
        "invalid": _("Enter a procedure code."),
    }

    def __init__(self, **kwargs):
        super().__init__(slug_field="code", queryset=Procedure.objects.all(), **kwargs)


class AgencyCodeField(serializers.SlugRelatedField):
    default_error_messages = {
        "does_not_exist": _("There is no agency with the code “{value}”."),
        "invalid": _("Enter an agency code."),
    }

    def __init__(self, **kwargs):
        super().__init__(slug_field="code", queryset=Agency.objects.all(), **kwargs)


class DossierCreateInputSerializer(serializers.Serializer):
    procedure = ProcedureCodeField()
    applicant_name = serializers.CharField(max_length=255)
    applicant_id_number = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    applicant_phone = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    applicant_email = serializers.EmailField(required=False, allow_blank=True, default="")
    applicant_address = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.IN_PERSON)
    documents = DocumentInputSerializer(many=True, required=False, default=list)
    note = serializers.CharField(required=False, allow_blank=True, default="")
    receiving_agency = AgencyCodeField(required=False, allow_null=True)
    competent_agency = AgencyCodeField(required=False, allow_null=True)
    missing_documents = LinesField(
        required=False,
        default=list,
        help_text=_("Missing items: the dossier is logged as awaiting a supplement (the one intake request)."),
    )
    return_method = serializers.ChoiceField(
        choices=Channel.choices,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("How the applicant receives the result: in_person, post or online (optional)."),
    )


class ActionInputSerializer(serializers.Serializer):
    """`comment` plus every parameter an action may take; the view passes on only the
    parameters the chosen action declares (`workflow.ACTIONS[name].params`)."""

    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    assignee = serializers.CharField(
        required=False, allow_blank=True, help_text=_("assign/reassign: username or id; empty = least loaded.")
    )
    missing_documents = LinesField(required=False, help_text=_("request_supplement: the missing items."))
    result = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    new_due_at = serializers.CharField(
        required=False, allow_blank=True, help_text=_("extend: dd/mm/yyyy, an ISO date or an ISO datetime.")
    )
    collected_by = serializers.CharField(required=False, allow_blank=True, max_length=255)
    method = serializers.CharField(
        required=False, allow_blank=True, max_length=20, help_text=_("return_result: in_person, online or post.")
    )
    result_form = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=20,
        help_text=_("return_result: how the result was given: paper (default), electronic or both."),
    )
    documents = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=999),
        required=False,
        max_length=200,
        help_text=_("supplement_received: positions (from 0) of the checklist documents brought now."),
    )
    # Inter-agency routing (docs/workflow.md).
    agencies = LinesField(required=False, help_text=_("consult: the codes of the agencies asked for an opinion."))
    days = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=10,
        help_text=_("consult: the answer period in working days; request_obligation: the tax office's."),
    )
    consultation = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=20,
        help_text=_("answer_consultation/record_obligation: which request (id); empty = the oldest open one."),
    )
    tax_agency = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=40,
        help_text=_("request_obligation: the tax office's code, when it issues the notice."),
    )
    amount = serializers.CharField(
        required=False, allow_blank=True, max_length=20, help_text=_("record_obligation: the amount in VND.")
    )
    notice_number = serializers.CharField(
        required=False, allow_blank=True, max_length=100, help_text=_("record_obligation: the notice's number.")
    )


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True, use_url=False)
    kind = serializers.ChoiceField(choices=Attachment.Kind.choices, default=Attachment.Kind.APPLICATION)


class LookupQuerySerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64, help_text=_("The dossier code printed on the receipt."))
    pin = serializers.CharField(max_length=12, help_text=_("The PIN printed on the receipt."))


# --- Output -------------------------------------------------------------------------------------


class CodeNameSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class LabelField(serializers.CharField):
    """The label of a choice field's value (`source` is the field), in the active language: the
    dictionary the models' `get_…_display()` use (`fast_display`), read without DRF inspecting a
    bound method for every field of every event."""

    def __init__(self, choices, **kwargs):
        self.labels = choice_labels(choices)
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value):
        return str(self.labels.get(value, value))


class EventSerializer(serializers.ModelSerializer):
    # Plain values (the labels follow): one enum per choice set in the schema (`status`, `stage`).
    from_status = serializers.IntegerField(allow_null=True)
    to_status = serializers.IntegerField()
    from_stage = serializers.CharField()
    to_stage = serializers.CharField()
    from_status_label = LabelField(Status, source="from_status", allow_null=True)
    to_status_label = LabelField(Status, source="to_status")
    from_stage_label = LabelField(Stage, source="from_stage")
    to_stage_label = LabelField(Stage, source="to_stage")
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)
    # Empty for actions that close no step.
    step_outcome = serializers.ChoiceField(choices=Outcome.choices, allow_blank=True, read_only=True)

    class Meta:
        model = DossierEvent
        fields = [
            "action",
            "from_status",
            "from_status_label",
            "to_status",
            "to_status_label",
            "from_stage",
            "from_stage_label",
            "to_stage",
            "to_stage_label",
            "comment",
            "data",
            "actor",
            "created_at",
            "step_due_at",
            "step_outcome",
        ]
        read_only_fields = fields


class AttachmentSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="original_name")
    uploaded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "name", "size", "content_type", "kind", "sha256", "uploaded_by", "uploaded_at", "url"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, attachment):
        path = reverse("dossier-attachment", args=[attachment.dossier.code, attachment.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class DossierListSerializer(serializers.ModelSerializer):
    procedure = CodeNameSerializer()
    status_label = LabelField(Status, source="status")
    stage_label = LabelField(Stage, source="stage")
    receiving_agency = CodeNameSerializer()
    competent_agency = CodeNameSerializer()
    returning_agency = CodeNameSerializer()
    assignee = serializers.SlugRelatedField(slug_field="username", read_only=True)
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = Dossier
        fields = [
            "code",
            "procedure",
            "applicant_name",
            "channel",
            "status",
            "status_label",
            "stage",
            "stage_label",
            "receiving_agency",
            "competent_agency",
            "returning_agency",
            "assignee",
            "submitted_at",
            "received_at",
            "due_at",
            "finished_at",
            "returned_at",
            "overdue",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_overdue(self, dossier):
        return dossier.is_overdue(self.context.get("now"))


class ConsultationSerializer(serializers.ModelSerializer):
    """A request for another agency's opinion, or the tax office's notice (inter-agency routing)."""

    agency = CodeNameSerializer(help_text=_("The consulted agency (or the tax office)."))
    requesting_agency = CodeNameSerializer()
    answered_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    outcome = serializers.ChoiceField(choices=Outcome.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Consultation
        fields = [
            "id",
            "kind",
            "agency",
            "requesting_agency",
            "question",
            "requested_at",
            "due_at",
            "answered_at",
            "answered_by",
            "answer",
            "amount_vnd",
            "notice_number",
            "outcome",
        ]
        read_only_fields = fields


class DossierDetailSerializer(DossierListSerializer):
    procedure_snapshot = serializers.JSONField()
    outcome = serializers.CharField()
    events = EventSerializer(many=True)
    attachments = AttachmentSerializer(many=True)
    handling_agency = CodeNameSerializer(
        allow_null=True, help_text=_("The agency holding the current workflow step (inter-agency routing).")
    )
    consultations = ConsultationSerializer(many=True)
    actions = serializers.SerializerMethodField(help_text=_("Names of the actions the caller may take now."))

    class Meta(DossierListSerializer.Meta):
        fields = [
            *DossierListSerializer.Meta.fields,
            "applicant_id_number",
            "applicant_phone",
            "applicant_email",
            "applicant_address",
            "documents",
            "note",
            "procedure_version",
            "procedure_snapshot",
            "original_due_at",
            "handling_agency",
            "step_index",
            "step_started_at",
            "step_due_at",
            "supplement_requests",
            "result_summary",
            "returned_to",
            "return_method",
            "outcome",
            "created_at",
            "updated_at",
            "events",
            "attachments",
            "consultations",
            "actions",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "array", "items": {"type": "string"}})
    def get_actions(self, dossier):
        request = self.context.get("request")
        return available_actions(request.user, dossier, self.context.get("now")) if request else []

    def get_fields(self):
        fields = super().get_fields()
        if "events_data" in self.context:  # the history, already serialised (`cached_events`)
            fields.pop("events")
        return fields

    def to_representation(self, dossier):
        data = super().to_representation(dossier)
        events = self.context.get("events_data")
        if events is None:
            return data
        return {name: events if name == "events" else data[name] for name in self.Meta.fields}


def cached_events(dossier):
    """`EventSerializer` of the dossier's events, from the cache when its history has not changed
    (issue 20: serialising 50 events field by field was half of the detail's cost, and reading
    them with their actors two of its queries). Kept DOSSIER_EVENTS_CACHE_SECONDS, which bounds
    how long a renamed officer's old user name can show (`Dossier.cached_history`)."""

    def build():
        return [dict(item) for item in EventSerializer(dossier.events.select_related("actor"), many=True).data]

    return dossier.cached_history("dossier-events", build)


class DossierCreatedSerializer(DossierDetailSerializer):
    """The answer to a creation: the detail plus the PIN, which is shown only here."""

    pin = serializers.SerializerMethodField(help_text=_("The lookup PIN; it is returned only once."))

    class Meta(DossierDetailSerializer.Meta):
        fields = ["pin", *DossierDetailSerializer.Meta.fields]
        read_only_fields = fields

    def get_pin(self, dossier) -> str:
        return self.context["pin"]


class TimelineEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    text = serializers.CharField()
    details = serializers.ListField(child=serializers.CharField())


class AgencyContactSerializer(serializers.Serializer):
    name = serializers.CharField()
    address = serializers.CharField()
    phone = serializers.CharField()


class LookupResultSerializer(serializers.Serializer):
    """What a citizen sees with the right code and PIN (see dossiers.lookup.lookup_result)."""

    code = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.choices)
    status_label = serializers.CharField()
    status_text = serializers.CharField(help_text=_("The status in plain words."))
    procedure = CodeNameSerializer()
    applicant = serializers.CharField(help_text=_("The applicant's name, masked."))
    submitted_at = serializers.DateTimeField()
    received_at = serializers.DateTimeField(allow_null=True)
    due_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    returned_at = serializers.DateTimeField(allow_null=True)
    overdue = serializers.BooleanField()
    outcome = serializers.ChoiceField(
        choices=Outcome.choices,
        allow_blank=True,
        help_text=_("Once finished: early, on time or late (Decision 766, as in the statistics); empty while open."),
    )
    missing_documents = serializers.ListField(
        child=serializers.CharField(), help_text=_("What to bring, while a supplement is awaited.")
    )
    returning_agency = AgencyContactSerializer()
    timeline = TimelineEntrySerializer(many=True)
    result_url = serializers.URLField(
        allow_null=True,
        help_text=_(
            "Download link of the signed electronic result, for the holder of code and PIN, valid for a limited "
            "time (SIGNING_RESULT_LINK_SECONDS); null until the result is available electronically."
        ),
    )
    verification_url = serializers.URLField(
        allow_null=True,
        help_text=_("The public verification page of the signed result (also in its QR code); null when unsigned."),
    )
