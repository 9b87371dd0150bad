"""Import the procedure catalogue from CSV, XLSX or JSON: one importer for
`manage.py import_procedures`, the admin's import page and `seed_demo`.

    rows = read_file("catalogue.xlsx")           # [(line, {column: value}), ...]
    report = import_records(rows, dry_run=True)   # ImportReport(created=…, errors=[RowError(…)])

The column contract is in docs/import-format.md. Contract and quirks:

- Every row is validated completely and all of its problems are named in one `RowError`. A bad
  row changes nothing; the good rows are imported anyway, each in its own transaction.
- Upsert by `code`. A row identical to what is stored writes nothing at all (not even
  `updated_at`), so importing the same file twice is a no-op. A changed row updates the
  procedure, replaces its documents / workflow steps and increments `Procedure.version`.
  Form templates uploaded in the admin survive a replacement when the document keeps its name;
  so does a workflow step's agency when the step keeps its name and role.
- A column missing from the file (or a key missing from a JSON object / dict) leaves the
  stored value alone; a present but empty cell clears it or sets the model default.
- `dry_run` runs the same validation and comparisons and writes nothing.
- Line numbers are what the user sees: CSV/XLSX row numbers with the header as row 1 (a CSV
  cell spanning several physical lines still counts as one row), JSON array index + 1.
"""

import csv
import dataclasses
import io
import json
import math
import os
import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path

import openpyxl
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from .models import Agency, Field, Procedure, RequiredDocument, Role, WorkflowStep
from .text import fold

# The documented columns (DESIGN.md §5) and the optional extras.
COLUMNS = (
    "code",
    "name",
    "field_code",
    "field_name",
    "agency_codes",
    "level",
    "service_level",
    "processing_days",
    "fee_vnd",
    "fee_text",
    "steps",
    "documents",
    "legal_basis",
    "result",
)
OPTIONAL_COLUMNS = (
    "processing_time_text",
    "same_day_cutoff",
    "conditions",
    "applicant_types",
    "channels",
    "source",
    "published",
    "workflow",
)
KNOWN_COLUMNS = frozenset(COLUMNS + OPTIONAL_COLUMNS)
REQUIRED_COLUMNS = ("code", "name", "field_code", "processing_days")
SUFFIXES = (".csv", ".xlsx", ".json")

CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]*")
CODE_MAX_LENGTH = 40
MAX_PROCESSING_DAYS = Decimal("365")
MAX_SMALL_INT = 32767  # PositiveSmallIntegerField on every database

# Accepted spellings, compared after procedures.text.fold (so "Cấp tỉnh" == "cap tinh").
LEVELS = {
    "province": Procedure.Level.PROVINCE,
    "cap tinh": Procedure.Level.PROVINCE,
    "tinh": Procedure.Level.PROVINCE,
    "commune": Procedure.Level.COMMUNE,
    "cap xa": Procedure.Level.COMMUNE,
    "xa": Procedure.Level.COMMUNE,
    "central": Procedure.Level.CENTRAL,
    "cap trung uong": Procedure.Level.CENTRAL,
    "trung uong": Procedure.Level.CENTRAL,
}
SERVICE_LEVELS = {
    "full": Procedure.ServiceLevel.FULL,
    "toan trinh": Procedure.ServiceLevel.FULL,
    "partial": Procedure.ServiceLevel.PARTIAL,
    "mot phan": Procedure.ServiceLevel.PARTIAL,
    "none": Procedure.ServiceLevel.NONE,
    "khong": Procedure.ServiceLevel.NONE,
}
ROLES = {
    "reception": Role.RECEPTION,
    "tiep nhan": Role.RECEPTION,
    "specialist": Role.SPECIALIST,
    "chuyen vien": Role.SPECIALIST,
    "thu ly": Role.SPECIALIST,
    "leader": Role.LEADER,
    "lanh dao": Role.LEADER,
    "supervisor": Role.SUPERVISOR,
    "giam sat": Role.SUPERVISOR,
}
TRUE_WORDS = {"1", "true", "yes", "y", "x", "co"}
FALSE_WORDS = {"0", "false", "no", "n", "khong"}
FREE_WORDS = {"mien phi", "khong", "free"}  # fee_vnd: "Miễn phí" / "Không" mean 0 VND

# Procedure fields filled straight from a column of the same name, with their maximum length.
TEXT_COLUMNS = {
    "fee_text": None,
    "steps": None,
    "legal_basis": None,
    "result": None,
    "conditions": None,
    "applicant_types": None,
    "channels": None,
    "processing_time_text": 500,
    "source": 500,
}


class ImportFormatError(ValueError):
    """The file as a whole cannot be read; the message is meant for the user."""


@dataclasses.dataclass
class RowError:
    line: int
    code: str
    reason: str


@dataclasses.dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = dataclasses.field(default_factory=list)
    dry_run: bool = False
    # Columns the importer does not know (typos, a spreadsheet's "STT" column): ignored, but named.
    ignored_columns: list[str] = dataclasses.field(default_factory=list)


# --- Reading files ---------------------------------------------------------------------------


def read_file(path_or_file, *, filename: str | None = None) -> list[tuple[int, dict]]:
    """Read a CSV (UTF-8, BOM accepted, `,` `;` or tab separated), XLSX (first sheet, header in
    row 1) or JSON (array of objects) file into `(line, {column: value})` pairs.

    `path_or_file` is a path or a binary file object (e.g. an uploaded file); the format comes
    from the extension of `filename`, else of the path / the file object's name. Column names
    are stripped and lower-cased. Blank rows are skipped (their numbers are not reused).
    Raises ImportFormatError for an unknown extension, an unreadable file or missing columns.
    """
    if isinstance(path_or_file, str | os.PathLike):
        path = Path(path_or_file)
        suffix = _suffix(filename or path.name)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImportFormatError(
                _("Cannot read the file %(name)s: %(error)s.") % {"name": path, "error": exc.strerror or exc}
            ) from exc
    else:
        suffix = _suffix(filename or getattr(path_or_file, "name", "") or "")
        if hasattr(path_or_file, "seek"):
            path_or_file.seek(0)
        data = path_or_file.read()
        if isinstance(data, str):
            data = data.encode("utf-8")
    if not data.strip():
        raise ImportFormatError(_("The file is empty."))
    return {".csv": _read_csv, ".xlsx": _read_xlsx, ".json": _read_json}[suffix](data)


def _suffix(name):
    suffix = Path(str(name)).suffix.lower()
    if suffix not in SUFFIXES:
        raise ImportFormatError(
            _("Unsupported file type “%(suffix)s”: use a .csv, .xlsx or .json file.")
            % {"suffix": suffix or str(name) or "?"}
        )
    return suffix


def _column_name(value):
    return re.sub(r"\s+", "_", str(value if value is not None else "").replace("\ufeff", "").strip().lower())


def _header(cells):
    names = [_column_name(cell) for cell in cells]
    seen = set()
    for name in names:
        if name and name in seen:
            raise ImportFormatError(_("The column “%(column)s” appears more than once.") % {"column": name})
        seen.add(name)
    missing = [column for column in REQUIRED_COLUMNS if column not in seen]
    if missing:
        raise ImportFormatError(
            _("Missing required column(s): %(missing)s. The first row must name the columns, e.g. %(columns)s.")
            % {"missing": ", ".join(missing), "columns": ",".join(COLUMNS)}
        )
    return names


def _is_blank(cells):
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def _rows_from_table(header_cells, rows):
    """Pair each data row of a table with the header; row 1 is the header."""
    names = _header(header_cells)
    records = []
    for line, cells in enumerate(rows, start=2):
        cells = list(cells)
        if _is_blank(cells):
            continue
        cells += [None] * (len(names) - len(cells))
        records.append((line, {name: cell for name, cell in zip(names, cells, strict=False) if name}))
    return records


def _decode(data, kind):
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFormatError(
            _("The %(kind)s file is not UTF-8 encoded: save it as UTF-8 (in Excel: “CSV UTF-8”) and try again.")
            % {"kind": kind}
        ) from exc


def _read_csv(data):
    text = _decode(data, "CSV")
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    try:
        table = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise ImportFormatError(_("The CSV file cannot be read: %(error)s.") % {"error": exc}) from exc
    while table and _is_blank(table[0]):
        table.pop(0)
    if not table:
        raise ImportFormatError(_("The file is empty."))
    return _rows_from_table(table[0], table[1:])


def _read_xlsx(data):
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, XML, KeyError... for a damaged file
        raise ImportFormatError(
            _("The file is not a readable XLSX workbook (%(error)s).") % {"error": type(exc).__name__}
        ) from exc
    try:
        if not workbook.worksheets:
            raise ImportFormatError(_("The workbook has no worksheet."))
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None)
        if header is None or _is_blank(header):
            raise ImportFormatError(_("The first row of the first sheet must name the columns."))
        return _rows_from_table(header, rows)
    except ImportFormatError:
        raise
    except Exception as exc:
        raise ImportFormatError(
            _("The file is not a readable XLSX workbook (%(error)s).") % {"error": type(exc).__name__}
        ) from exc
    finally:
        workbook.close()


def _read_json(data):
    try:
        payload = json.loads(_decode(data, "JSON"))
    except json.JSONDecodeError as exc:
        raise ImportFormatError(
            _("The file is not valid JSON (line %(line)s, column %(column)s: %(error)s).")
            % {"line": exc.lineno, "column": exc.colno, "error": exc.msg}
        ) from exc
    if not isinstance(payload, list):
        raise ImportFormatError(_("The JSON file must hold an array of objects, one per procedure."))
    records = []
    for number, item in enumerate(payload, start=1):
        if not isinstance(item, dict):
            raise ImportFormatError(_("Item %(number)s of the JSON array is not an object.") % {"number": number})
        records.append((number, {_column_name(key): value for key, value in item.items()}))
    return records


# --- Value parsing -----------------------------------------------------------------------------


class _Invalid(Exception):
    def __init__(self, *messages):
        super().__init__(*messages)
        self.messages = list(messages)


_MISSING = object()


def _text(value):
    """A cell as clean text: NFC, `\\n` line ends, stripped; lists are joined line by line."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "\n".join(filter(None, (_text(item) for item in value)))
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = unicodedata.normalize("NFC", str(value)).replace("\r\n", "\n").replace("\r", "\n")
    return text.strip()


def _shown(value):
    """A value quoted in an error message, shortened."""
    text = _text(value).replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "…"


def _choice(column, value, table, default, choices):
    text = fold(_text(value))
    if not text:
        return default
    if text not in table:
        raise _Invalid(
            _("%(column)s “%(value)s” is not one of: %(choices)s")
            % {"column": column, "value": _shown(value), "choices": choices}
        )
    return table[text]


def _processing_days(value):
    error = _Invalid(
        _(
            "processing_days “%(value)s” is not a number of working days from 0 to 365 "
            "with at most one decimal (e.g. 15 or 0,5)"
        )
        % {"value": _shown(value)}
    )
    if isinstance(value, bool):
        raise error
    if isinstance(value, int | float | Decimal):
        text = str(value)
    else:
        text = _text(value).replace(" ", "")
        if "," in text and "." not in text:
            text = text.replace(",", ".")
    try:
        days = Decimal(text)
    except InvalidOperation:
        raise error from None
    if not days.is_finite() or days < 0 or days > MAX_PROCESSING_DAYS or days != days.quantize(Decimal("0.1")):
        raise error
    return days.quantize(Decimal("0.1"))


def _whole(number):
    """Is an int/float/Decimal a finite whole number (JSON may carry NaN or 1e400)?"""
    return math.isfinite(number) and number == int(number)


_CURRENCY_SUFFIX = re.compile(r"\s*(vnđ|vnd|đồng|đ)\.?$", re.IGNORECASE)
_GROUPED = re.compile(r"\d{1,3}(?:([.,])\d{3})(?:\1\d{3})*")


def _fee_vnd(value):
    error = _Invalid(
        _("fee_vnd “%(value)s” is not a whole amount of VND (e.g. 50000 or 50.000)") % {"value": _shown(value)}
    )
    if value is None or isinstance(value, bool):
        if value is None:
            return None
        raise error
    if isinstance(value, int | float | Decimal):
        if not _whole(value) or value < 0:
            raise error
        amount = int(value)
    else:
        if fold(_text(value)) in FREE_WORDS:
            return 0
        text = _CURRENCY_SUFFIX.sub("", _text(value)).replace(" ", "").replace("\u00a0", "")
        if not text:
            return None
        if text.isdigit():
            amount = int(text)
        elif _GROUPED.fullmatch(text):
            amount = int(re.sub(r"[.,]", "", text))
        else:
            raise error
    if amount > 10**15:
        raise error
    return amount


_TIME = re.compile(r"(\d{1,2})\s*[:hH]\s*(\d{2})?(?::(\d{2}))?")


def _cutoff(value):
    if isinstance(value, datetime):
        return value.time().replace(microsecond=0)
    if isinstance(value, time):
        return value.replace(microsecond=0)
    text = _text(value)
    if not text:
        return None
    match = _TIME.fullmatch(text)
    if match:
        hour, minute = int(match[1]), int(match[2] or 0)
        if hour < 24 and minute < 60:
            return time(hour, minute)
    raise _Invalid(_("same_day_cutoff “%(value)s” is not a time HH:MM (e.g. 15:00)") % {"value": _shown(value)})


def _published(value):
    if isinstance(value, bool):
        return value
    text = fold(_text(value))
    if not text:
        return True
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise _Invalid(_("published “%(value)s” is not yes/no (1/0, true/false)") % {"value": _shown(value)})


def _count(value, default):
    """A whole number 0…32767 (originals, copies); empty → default. Returns None if invalid."""
    if value is None or isinstance(value, bool):
        return default if value is None else None
    if isinstance(value, int | float | Decimal):
        return int(value) if _whole(value) and 0 <= value <= MAX_SMALL_INT else None
    text = _text(value)
    if not text:
        return default
    return int(text) if text.isdigit() and int(text) <= MAX_SMALL_INT else None


def _items(value):
    """Split a documents/workflow cell into items: a list stays a list; text splits on newlines and `|`."""
    if isinstance(value, list | tuple):
        return [item for item in value if not (isinstance(item, str) and not item.strip()) and item is not None]
    return [item for item in re.split(r"[\n|]", _text(value)) if item.strip()]


def _parts(item, keys):
    """An item as a dict: an object's keys, or `a;b;c` text split into `keys` (the last keeps any `;`)."""
    if isinstance(item, dict):
        return {_column_name(key): value for key, value in item.items()}
    parts = [part.strip() for part in _text(item).split(";", len(keys) - 1)]
    return dict(zip(keys, parts, strict=False))


# A document needed only in some cases: its text item starts with this mark ("?Biên bản …").
CONDITIONAL_MARK = "?"


def _required(parts):
    """Whether a document is required in every case: a JSON object's `required` (yes/no words
    too), else False when its text item starts with CONDITIONAL_MARK. Returns None if invalid."""
    value = parts.get("required")
    if value is None or (isinstance(value, str) and not value.strip()):
        return True
    if isinstance(value, bool):
        return value
    text = fold(_text(value))
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    return None


def _documents(value):
    documents, errors = [], []
    for number, item in enumerate(_items(value), start=1):
        parts = _parts(item, ("name", "originals", "copies", "note"))
        name = _text(parts.get("name"))
        required = _required(parts)
        if name.startswith(CONDITIONAL_MARK):
            name, required = name[len(CONDITIONAL_MARK) :].strip(), False
        if required is None:
            errors.append(
                _("document %(number)s: required “%(value)s” is not yes/no (1/0, true/false)")
                % {"number": number, "value": _shown(parts.get("required"))}
            )
        originals = _count(parts.get("originals"), 1)
        copies = _count(parts.get("copies"), 0)
        if not name:
            errors.append(_("document %(number)s has no name") % {"number": number})
        if originals is None:
            errors.append(
                _("document %(number)s: originals “%(value)s” is not a whole number")
                % {"number": number, "value": _shown(parts.get("originals"))}
            )
        if copies is None:
            errors.append(
                _("document %(number)s: copies “%(value)s” is not a whole number")
                % {"number": number, "value": _shown(parts.get("copies"))}
            )
        documents.append((name, originals, copies, _text(parts.get("note")), required))
    if errors:
        raise _Invalid(*errors)
    return documents


def _workflow(value, agencies=None):
    """Steps as (name, role, share, agency id or None): the optional fourth part is the code of the
    agency that holds the step (inter-agency routing, a provincial department…); without it the
    step belongs to the dossier's own agencies (or keeps the agency set in the admin)."""
    agencies = {} if agencies is None else agencies
    steps, errors = [], []
    for number, item in enumerate(_items(value), start=1):
        parts = _parts(item, ("name", "role", "share", "agency"))
        agency_code = _text(parts.get("agency"))
        if agency_code and agency_code not in agencies:
            errors.append(
                _("workflow step %(number)s: unknown agency code %(code)s")
                % {"number": number, "code": _shown(agency_code)}
            )
        name = _text(parts.get("name"))
        role_text = fold(_text(parts.get("role")))
        raw_share = parts.get("share", parts.get("time_share"))
        share = _count(_text(raw_share).rstrip("%").strip() if isinstance(raw_share, str) else raw_share, None)
        if not name:
            errors.append(_("workflow step %(number)s has no name") % {"number": number})
        elif len(name) > 255:
            errors.append(_("workflow step %(number)s: the name is longer than 255 characters") % {"number": number})
        if role_text not in ROLES:
            errors.append(
                _("workflow step %(number)s: role “%(value)s” is not one of: %(choices)s")
                % {"number": number, "value": _shown(parts.get("role")), "choices": ", ".join(Role.values)}
            )
        if share is None or share > 100:
            errors.append(
                _("workflow step %(number)s: share “%(value)s” is not a percentage from 0 to 100")
                % {"number": number, "value": _shown(raw_share)}
            )
        steps.append((name, ROLES.get(role_text), share, agencies.get(agency_code) if agency_code else None))
    if not errors and steps:
        total = sum(step[2] for step in steps)
        if total != 100:
            errors.append(_("workflow shares add up to %(total)s, not 100") % {"total": total})
    if errors:
        raise _Invalid(*errors)
    return steps


# --- Importing --------------------------------------------------------------------------------


@dataclasses.dataclass
class _Row:
    code: str
    field_code: str
    field_name: str
    values: dict  # Procedure field -> value, only for columns present in the row
    agency_ids: list[int] | None
    documents: list[tuple] | None
    workflow: list[tuple] | None


CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"


def import_records(records: Iterable[tuple[int, dict]] | Iterable[dict], *, dry_run: bool = False) -> ImportReport:
    """Validate and upsert procedures; see the module docstring for the contract.

    `records` are `(line, row)` pairs from `read_file` or plain dicts (numbered 1, 2, …).
    """
    importer = _Importer(dry_run=dry_run)
    for number, item in enumerate(records, start=1):
        line, row = item if isinstance(item, tuple) else (number, item)
        importer.import_row(line, row)
    return importer.finish()


class _Importer:
    def __init__(self, *, dry_run):
        self.dry_run = dry_run
        self.report = ImportReport(dry_run=dry_run)
        # Both tables are small (a province has a few hundred agencies, a catalogue ~100 fields).
        self.agencies = dict(Agency.objects.values_list("code", "pk"))
        self.fields = dict(Field.objects.values_list("code", "name"))
        self.codes_seen: dict[str, int] = {}
        self.field_names_seen: dict[str, tuple[str, int]] = {}
        self.ignored_columns: set[str] = set()

    def finish(self):
        self.report.ignored_columns = sorted(self.ignored_columns)
        return self.report

    def import_row(self, line, row):
        if not isinstance(row, dict):
            self.report.errors.append(RowError(line, "", _("the row is not an object")))
            return
        self.ignored_columns.update(str(key) for key in row if key not in KNOWN_COLUMNS)
        code, parsed, errors = self.parse(line, row)
        if errors:
            self.report.errors.append(RowError(line, code, "; ".join(errors)))
            return
        try:
            outcome = self.apply(parsed)
        except IntegrityError as exc:  # e.g. another import created the same code meanwhile
            self.report.errors.append(RowError(line, code, _("could not be saved: %(error)s") % {"error": exc}))
            return
        setattr(self.report, outcome, getattr(self.report, outcome) + 1)
        if parsed.field_code not in self.fields or parsed.field_name:
            self.fields[parsed.field_code] = parsed.field_name or self.fields.get(parsed.field_code, "")

    # Validation ----------------------------------------------------------------------------

    def parse(self, line, row):
        errors = []

        def take(column, parser):
            if column not in row:
                return _MISSING
            try:
                return parser(row[column])
            except _Invalid as exc:
                errors.extend(exc.messages)
                return _MISSING

        def required(column):
            value = _text(row.get(column))
            if not value:
                errors.append(_("%(column)s is required") % {"column": column})
            return value

        raw_code = row.get("code")
        code = required("code")
        if isinstance(raw_code, float):
            errors.append(_("code must be a text cell, not a number (numbers lose trailing zeros)"))
        elif code and (len(code) > CODE_MAX_LENGTH or not CODE_RE.fullmatch(code)):
            errors.append(
                _("code “%(value)s” may hold only letters, digits, dots and dashes (at most 40)")
                % {"value": _shown(code)}
            )
        if code:
            if code in self.codes_seen:
                errors.append(
                    _("duplicate code in file, first seen on line %(line)s") % {"line": self.codes_seen[code]}
                )
            else:
                self.codes_seen[code] = line

        values = {}
        name = required("name")
        if len(name) > 500:
            errors.append(_("name is longer than 500 characters"))
        values["name"] = name

        field_code = required("field_code")
        field_name = _text(row.get("field_name"))
        if len(field_code) > 40:
            errors.append(_("field_code is longer than 40 characters"))
        if len(field_name) > 255:
            errors.append(_("field_name is longer than 255 characters"))
        if field_code:
            if not field_name and field_code not in self.fields:
                errors.append(
                    _("field_name is required to create the new field %(code)s") % {"code": _shown(field_code)}
                )
            seen = self.field_names_seen.get(field_code)
            if field_name and seen and seen[0] != field_name:
                errors.append(
                    _("field %(code)s is named “%(name)s” on line %(line)s")
                    % {"code": _shown(field_code), "name": _shown(seen[0]), "line": seen[1]}
                )
            elif field_name and not seen:
                self.field_names_seen[field_code] = (field_name, line)

        if required("processing_days"):
            values["processing_days"] = take("processing_days", _processing_days)
        level_default = Procedure._meta.get_field("level").default
        values["level"] = take(
            "level", lambda v: _choice("level", v, LEVELS, level_default, "province, commune, central")
        )
        service_default = Procedure._meta.get_field("service_level").default
        values["service_level"] = take(
            "service_level",
            lambda v: _choice("service_level", v, SERVICE_LEVELS, service_default, "full, partial, none"),
        )
        values["fee_vnd"] = take("fee_vnd", _fee_vnd)
        values["same_day_cutoff"] = take("same_day_cutoff", _cutoff)
        values["published"] = take("published", _published)
        for column, max_length in TEXT_COLUMNS.items():
            value = take(column, _text)
            if value is not _MISSING and max_length and len(value) > max_length:
                errors.append(_("%(column)s is longer than %(max)s characters") % {"column": column, "max": max_length})
            values[column] = value

        agency_ids = take("agency_codes", self._agency_ids)
        documents = take("documents", _documents)
        workflow = take("workflow", lambda value: _workflow(value, self.agencies))
        if errors:
            return code, None, errors
        return (
            code,
            _Row(
                code=code,
                field_code=field_code,
                field_name=field_name,
                values={key: value for key, value in values.items() if value is not _MISSING},
                agency_ids=None if agency_ids is _MISSING else agency_ids,
                documents=None if documents is _MISSING else documents,
                workflow=None if workflow is _MISSING else workflow,
            ),
            [],
        )

    def _agency_ids(self, value):
        codes = list(dict.fromkeys(part.strip() for part in re.split(r"[|,;\n]", _text(value)) if part.strip()))
        unknown = [code for code in codes if code not in self.agencies]
        if unknown:
            raise _Invalid(*(_("unknown agency code %(code)s") % {"code": _shown(code)} for code in unknown))
        return [self.agencies[code] for code in codes]

    # Writing -------------------------------------------------------------------------------

    def apply(self, row):
        queryset = Procedure.objects.select_related("field").filter(code=row.code)
        if self.dry_run:
            existing = queryset.first()
            return CREATED if existing is None else (UPDATED if self.changes(existing, row) else UNCHANGED)
        with transaction.atomic():
            existing = queryset.select_for_update(of=("self",)).first()
            changes = self.changes(existing, row) if existing is not None else None
            field = self.ensure_field(row)
            if existing is None:
                self.create(row, field)
                return CREATED
            if not changes:
                return UNCHANGED
            self.update(existing, row, field, changes)
            return UPDATED

    @staticmethod
    def changes(procedure, row):
        """Names of what differs between the stored procedure and the row (empty: identical)."""
        changed = set()
        for name, value in row.values.items():
            stored = getattr(procedure, name)
            if isinstance(value, str):
                stored = _text(stored)  # compare modulo \r\n (admin textareas) and outer spaces
            if stored != value:
                changed.add(name)
        if procedure.field.code != row.field_code:
            changed.add("field")
        if row.agency_ids is not None and set(procedure.agencies.values_list("pk", flat=True)) != set(row.agency_ids):
            changed.add("agencies")
        if row.documents is not None:
            stored = procedure.documents.order_by("position", "id").values_list(
                "name", "originals", "copies", "note", "required"
            )
            if [(_text(n), o, c, _text(t), r) for n, o, c, t, r in stored] != row.documents:
                changed.add("documents")
        if row.workflow is not None:
            stored = procedure.workflow_steps.order_by("position", "id").values_list(
                "name", "role", "time_share", "agency_id"
            )
            # A step without an agency in the file keeps the one set in the admin.
            given = [(n, r, s, a) for n, r, s, a in row.workflow]
            kept = [(_text(n), r, s, a) for n, r, s, a in stored]
            if len(kept) != len(given) or any(
                k[:3] != g[:3] or (g[3] is not None and k[3] != g[3]) for k, g in zip(kept, given, strict=False)
            ):
                changed.add("workflow")
        return changed

    @staticmethod
    def ensure_field(row):
        field = Field.objects.filter(code=row.field_code).first()
        if field is None:
            return Field.objects.create(code=row.field_code, name=row.field_name)
        if row.field_name and field.name != row.field_name:
            field.name = row.field_name
            field.save(update_fields=["name"])
        return field

    def create(self, row, field):
        procedure = Procedure(code=row.code, field=field, **row.values)
        procedure.save()
        if row.agency_ids:
            procedure.agencies.set(row.agency_ids)
        self.replace_documents(procedure, row.documents or [])
        self.replace_workflow(procedure, row.workflow or [])

    def update(self, procedure, row, field, changes):
        for name, value in row.values.items():
            setattr(procedure, name, value)
        procedure.field = field
        procedure.version += 1  # the row is locked, so no concurrent increment is lost
        procedure.save()
        if "agencies" in changes:
            procedure.agencies.set(row.agency_ids)
        if "documents" in changes:
            self.replace_documents(procedure, row.documents)
        if "workflow" in changes:
            self.replace_workflow(procedure, row.workflow)

    @staticmethod
    def replace_documents(procedure, documents):
        templates = {
            _text(name): template
            for name, template in procedure.documents.exclude(template="").values_list("name", "template")
        }
        procedure.documents.all().delete()
        RequiredDocument.objects.bulk_create(
            RequiredDocument(
                procedure=procedure,
                position=position,
                name=name,
                originals=originals,
                copies=copies,
                note=note,
                required=required,
                template=templates.get(name, ""),
            )
            for position, (name, originals, copies, note, required) in enumerate(documents, start=1)
        )

    @staticmethod
    def replace_workflow(procedure, steps):
        agencies = {
            (_text(name), role): agency_id
            for name, role, agency_id in procedure.workflow_steps.filter(agency__isnull=False).values_list(
                "name", "role", "agency_id"
            )
        }
        procedure.workflow_steps.all().delete()
        WorkflowStep.objects.bulk_create(
            WorkflowStep(
                procedure=procedure,
                position=position,
                name=name,
                role=role,
                time_share=share,
                agency_id=agency_id or agencies.get((name, role)),
            )
            for position, (name, role, share, agency_id) in enumerate(steps, start=1)
        )
