from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .importing import SUFFIXES, ImportFormatError, read_file


class ProcedureImportForm(forms.Form):
    """The admin's import page: one file, read (and rejected with a readable error) in `clean_file`."""

    MAX_SIZE_MB = 10

    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV (UTF-8), XLSX or JSON, one procedure per row; procedures are matched by code."),
        widget=forms.FileInput(attrs={"accept": ",".join(SUFFIXES)}),
    )
    dry_run = forms.BooleanField(
        label=_("Dry run: check the file and show what would change, without saving anything"),
        required=False,
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.MAX_SIZE_MB * 1024 * 1024:
            raise ValidationError(
                _("The file is larger than %(size)s MB."), code="too_large", params={"size": self.MAX_SIZE_MB}
            )
        try:
            self.records = read_file(upload, filename=upload.name)
        except ImportFormatError as exc:
            raise ValidationError(str(exc), code="unreadable") from exc
        return upload
