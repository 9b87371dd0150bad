"""Forms of the officer workspace: the reception form, the queue selector and the code search.

Action inputs on the dossier page are plain POST fields read by `dossiers.views.act` and
validated by `dossier_act` itself (ActionInputError), so the rule lives in one place.
"""

import re
import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from procedures.search import MAX_QUERY_LENGTH

from .models import SEARCH_MAX_LENGTH, Channel
from .selectors import DEFAULT_QUEUE, QUEUES

# The personal identification number of the chip-based citizen ID card (CCCD, 12 digits; the
# 9-digit CMND is no longer valid since 1 January 2025), or a foreigner's passport number.
CITIZEN_ID_RE = re.compile(r"^\d{12}$")
PASSPORT_RE = re.compile(r"^(?=.*[A-Z])[A-Z0-9]{6,20}$")
# Mobile numbers 03x, 05x, 07x, 08x, 09x (10 digits) and landlines 02xx… (11 digits).
PHONE_RE = re.compile(r"^0(?:[35789]\d{8}|2\d{9})$")
CODE_MAX_LENGTH = 64
# How the applicant receives the result (the receipt's "Cách thức nhận kết quả").
RETURN_METHODS = [
    (Channel.IN_PERSON, _("At the desk")),
    (Channel.POST, _("By post")),
    (Channel.ONLINE, _("Online")),
]


def normalise_phone(value):
    """'+84 912.345.678' → '0912345678'; returns the digits with the national 0 prefix."""
    digits = re.sub(r"[\s.\-()]", "", value or "")
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    return digits


def split_lines(text):
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Zero or more uploaded files (the value is a list)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, (list, tuple)):
            return [super(MultipleFileField, self).clean(item, initial) for item in data if item]
        return [super().clean(data, initial)] if data else []


class ProcedurePickForm(forms.Form):
    """Step 1 of reception (GET): the procedure, by code or "code — name"."""

    procedure = forms.CharField(
        label=_("Procedure"),
        max_length=MAX_QUERY_LENGTH,
        help_text=_("Type a few words of the name (with or without diacritics) or the procedure code."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "list": "procedure-options"}),
    )


class ReceptionForm(forms.Form):
    """Step 2 of reception (POST): applicant, channel, checklist, attachments.

    `documents` are the procedure's required documents (the snapshot format: dicts with name,
    originals, copies); the checkbox values are their positions in that list."""

    SUBMIT_RECEIVE = "receive"
    SUBMIT_SUPPLEMENT = "supplement"

    procedure = forms.CharField(widget=forms.HiddenInput, max_length=MAX_QUERY_LENGTH)
    receiving_agency = forms.TypedChoiceField(label=_("Receiving desk"), coerce=int, required=False)
    applicant_name = forms.CharField(
        label=_("Applicant's full name"),
        max_length=255,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "words"}),
    )
    applicant_id_number = forms.CharField(
        label=_("Personal ID number (CCCD) or passport"),
        required=False,
        max_length=20,
        help_text=_("The 12 digits of the citizen ID card; for a foreigner, the passport number."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"}),
    )
    applicant_phone = forms.CharField(
        label=_("Phone"),
        required=False,
        max_length=20,
        help_text=_("A Vietnamese number, e.g. 0912 345 678."),
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "off"}),
    )
    applicant_email = forms.EmailField(label=_("E-mail"), required=False)
    applicant_address = forms.CharField(label=_("Address"), required=False, max_length=500)
    channel = forms.ChoiceField(
        label=_("Channel"), choices=Channel.choices, initial=Channel.IN_PERSON, widget=forms.RadioSelect
    )
    return_method = forms.ChoiceField(
        label=_("How the result is received"),
        choices=RETURN_METHODS,
        initial=Channel.IN_PERSON,
        required=False,
        widget=forms.RadioSelect,
    )
    documents = forms.TypedMultipleChoiceField(
        label=_("Documents received"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    note = forms.CharField(
        label=_("Other missing items or remarks"),
        required=False,
        max_length=2000,
        help_text=_("For a supplement request: one missing item or reason per line. Otherwise kept as a note."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    attachments = MultipleFileField(
        label=_("Scanned documents"), help_text=_("Optional. PDF or images; you can select several files.")
    )
    # Set by the officer after the form warned that a required document is not ticked.
    confirm_incomplete = forms.BooleanField(
        label=_("Accept anyway: I checked that the dossier is complete without the unticked required documents"),
        required=False,
    )
    # "Accept and forward to …": the specialist the dossier goes to right after acceptance.
    forward_to = forms.TypedChoiceField(label=_("Then forward to"), coerce=int, required=False, empty_value=None)
    # One key per rendered form (services.dossier_receive): a double submit creates one dossier.
    intake_key = forms.RegexField(regex=r"^[0-9a-f]{32}$", required=False, widget=forms.HiddenInput)
    # Not named "submit": a control with that name hides the DOM form.submit() method.
    intent = forms.ChoiceField(
        choices=[(SUBMIT_RECEIVE, _("Receive")), (SUBMIT_SUPPLEMENT, _("Request supplement"))],
        initial=SUBMIT_RECEIVE,
        required=False,
        widget=forms.HiddenInput,
    )

    def __init__(self, *args, documents=(), desks=(), specialists=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.document_specs = list(documents)
        self.fields["forward_to"].choices = [("", _("Nobody yet (forward later)"))] + [
            (user.pk, user.get_full_name() or user.get_username()) for user in specialists
        ]
        self.fields["documents"].choices = [(i, doc["name"]) for i, doc in enumerate(self.document_specs)]
        if not self.is_bound:
            self.initial.setdefault("intake_key", uuid.uuid4().hex)
            # The procedure is chosen: the officer types the applicant's name next.
            self.fields["applicant_name"].widget.attrs["autofocus"] = True
        desks = list(desks)
        self.fields["receiving_agency"].choices = [(agency.pk, agency.name) for agency in desks]
        if len(desks) > 1:
            self.fields["receiving_agency"].required = True
        else:
            self.fields["receiving_agency"].widget = forms.HiddenInput()
            if desks:
                self.fields["receiving_agency"].initial = desks[0].pk

    def clean_applicant_name(self):
        name = " ".join(self.cleaned_data["applicant_name"].split())
        if not name:
            raise forms.ValidationError(_("Enter the applicant's full name."))
        return name

    def clean_applicant_id_number(self):
        value = re.sub(r"[\s.\-]", "", self.cleaned_data["applicant_id_number"]).upper()
        if not value or CITIZEN_ID_RE.match(value):
            return value
        if value.isdigit():
            if len(value) == 9:
                raise forms.ValidationError(
                    _("The 9-digit ID card (CMND) is no longer valid: enter the 12-digit personal ID number.")
                )
            raise forms.ValidationError(_("A personal ID number has 12 digits."))
        if not PASSPORT_RE.match(value):
            raise forms.ValidationError(_("Enter 12 digits, or a passport number (letters and digits)."))
        return value

    def clean_applicant_phone(self):
        raw = self.cleaned_data["applicant_phone"].strip()
        if not raw:
            return ""
        value = normalise_phone(raw)
        if not PHONE_RE.match(value):
            raise forms.ValidationError(_("Enter a Vietnamese phone number, e.g. 0912 345 678."))
        return value

    def clean(self):
        data = super().clean()
        if data.get("intent") == self.SUBMIT_SUPPLEMENT and not self.missing_documents():
            raise forms.ValidationError(
                _("Every document is ticked: untick the missing ones or list them under “Other missing items”.")
            )
        if not self.wants_supplement and self.unticked_required() and not data.get("confirm_incomplete"):
            self.needs_confirmation = True
            self.add_error(
                "confirm_incomplete",
                _(
                    "Required documents are not ticked: %(names)s. Tick them if you have checked them, "
                    "request a supplement, or confirm that you accept the dossier anyway."
                )
                % {"names": "; ".join(self.unticked_required())},
            )
        return data

    needs_confirmation = False

    def unticked_required(self):
        """Names of the documents required in every case that are not ticked."""
        ticked = set(self.cleaned_data.get("documents") or [])
        return [
            doc["name"]
            for index, doc in enumerate(self.document_specs)
            if doc.get("required", True) and index not in ticked
        ]

    def checklist(self):
        """The checklist rows for the template, keeping what was ticked before a failed POST."""
        ticked = {str(value) for value in (self["documents"].value() or [])}
        return [
            {
                "index": index,
                "name": doc["name"],
                "originals": doc.get("originals", 0),
                "copies": doc.get("copies", 0),
                "required": doc.get("required", True),
                "checked": str(index) in ticked,
            }
            for index, doc in enumerate(self.document_specs)
        ]

    def received_documents(self):
        """The checklist as stored on the dossier: every required document, ticked or not."""
        ticked = set(self.cleaned_data.get("documents") or [])
        return [
            {
                "name": doc["name"],
                "originals": doc.get("originals", 0),
                "copies": doc.get("copies", 0),
                "required": doc.get("required", True),
                "received": index in ticked,
            }
            for index, doc in enumerate(self.document_specs)
        ]

    def missing_documents(self):
        """Unticked documents plus the extra lines of the note (supplement requests only)."""
        ticked = set(self.cleaned_data.get("documents") or [])
        unticked = [
            doc["name"] for i, doc in enumerate(self.document_specs) if i not in ticked and doc.get("required", True)
        ]
        return unticked + split_lines(self.cleaned_data.get("note"))

    @property
    def wants_supplement(self):
        return self.cleaned_data.get("intent") == self.SUBMIT_SUPPLEMENT


class QueueForm(forms.Form):
    """The workspace's query string: which queue, which page, and the code search box."""

    q = forms.ChoiceField(
        required=False,
        choices=[(name, name) for name in QUEUES],
        error_messages={"invalid_choice": _("Unknown queue.")},
    )
    after = forms.CharField(required=False, max_length=200)
    # The search box: a full code opens the dossier; anything else searches (DossierQuerySet.search).
    code = forms.CharField(
        label=_("Find a dossier"),
        required=False,
        max_length=SEARCH_MAX_LENGTH,
        error_messages={"max_length": _("Type at most %(limit_value)d characters.")},
    )

    def clean_q(self):
        return self.cleaned_data["q"] or DEFAULT_QUEUE

    def clean_code(self):
        return " ".join(self.cleaned_data["code"].split())
