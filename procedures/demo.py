"""Demo data for `manage.py seed_demo`: one province with its departments and commune centres,
the real procedures of `procedures/data/procedures.json`, a default internal workflow for each,
and (only when DEBUG is on) the demo users of DESIGN.md §5.

Every step is idempotent: it compares before it writes, so a second run changes nothing and
`SeedSummary.changed` is False. The data files and where their facts come from are described
in `procedures/data/SOURCES.md`.
"""

import dataclasses
import json
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from .importing import ImportFormatError, import_records, read_file
from .models import DEFAULT_WORKFLOW, Agency, Field, Membership, Procedure, Role, WorkflowStep

DATA_DIR = Path(__file__).resolve().parent / "data"
AGENCIES_FILE = DATA_DIR / "agencies.json"
PROCEDURES_FILE = DATA_DIR / "procedures.json"

DEMO_PASSWORD = "motcua-demo"  # noqa: S105 - the documented demo password (DESIGN.md §5), used only with DEBUG on
DEMO_EMAIL_DOMAIN = "motcua.local"
AGENCY_FIELDS = ("name", "level", "governing_body", "place_name", "address", "phone", "email")


@dataclasses.dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str  # the full name ("Họ và tên") in Vietnamese order: procedures/admin.py UserAdmin
    last_name: str  # always empty (procedures/0006_officer_full_name)
    role: str | None  # None: the superuser, who needs no membership
    superuser: bool = False
    # The agency of the role; None: the demo commune. The department's officers (issue 16) work in
    # the provincial department that the demo's inter-agency procedures cross to.
    agency_code: str | None = None

    @property
    def email(self):
        return f"{self.username}@{DEMO_EMAIL_DOMAIN}"


DEMO_USERS = (
    DemoUser("admin", "Quản trị hệ thống", "", None, superuser=True),
    DemoUser("tiepnhan", "Nguyễn Thị Hoa", "", Role.RECEPTION),
    DemoUser("chuyenvien", "Trần Văn Nam", "", Role.SPECIALIST),
    DemoUser("lanhdao", "Lê Minh Đức", "", Role.LEADER),
    DemoUser("giamsat", "Phạm Thu Hà", "", Role.SUPERVISOR),
)

# The provincial department of the inter-agency demo (Sở Nông nghiệp và Môi trường, agencies.json):
# the land procedures of procedures.json cross from the commune to it and back.
DEMO_DEPARTMENT_CODE = "000.00.03.H55"
DEMO_USERS += (
    DemoUser("chuyenvien_so", "Vũ Thị Lan", "", Role.SPECIALIST, agency_code=DEMO_DEPARTMENT_CODE),
    DemoUser("lanhdao_so", "Đặng Quốc Hưng", "", Role.LEADER, agency_code=DEMO_DEPARTMENT_CODE),
)


class DemoDataError(Exception):
    """A demo data file is missing or malformed; nothing was written."""


@dataclasses.dataclass
class Tally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def changed(self):
        return bool(self.created or self.updated)


@dataclasses.dataclass
class SeedSummary:
    agencies: Tally = dataclasses.field(default_factory=Tally)
    procedures: Tally = dataclasses.field(default_factory=Tally)
    procedure_count: int = 0
    field_count: int = 0
    workflows_added: int = 0
    users: Tally | None = None  # None: skipped because DEBUG is off
    memberships_added: int = 0
    sample_dossiers: object = None  # whatever `seed(then=…)` returned

    @property
    def changed(self):
        return (
            self.agencies.changed
            or self.procedures.changed
            or bool(self.workflows_added)
            or (self.users is not None and self.users.changed)
            or bool(self.memberships_added)
            or bool(self.sample_dossiers)
        )


# --- Agencies ---------------------------------------------------------------------------------


def load_agencies(path=AGENCIES_FILE):
    """The agency rows of `path` as clean strings, validated against the model, parents before children."""
    try:
        rows = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise DemoDataError(_("Cannot read %(path)s: %(error)s") % {"path": path, "error": exc.strerror}) from exc
    except ValueError as exc:
        raise DemoDataError(_("%(path)s is not valid JSON: %(error)s") % {"path": path, "error": exc}) from exc
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise DemoDataError(_("%(path)s must hold a JSON array of objects.") % {"path": path})

    errors, by_code = [], {}
    for number, raw in enumerate(rows, start=1):
        row = {name: str(raw.get(name) or "").strip() for name in ("code", "parent_code", *AGENCY_FIELDS)}
        try:
            Agency(**{name: row[name] for name in ("code", *AGENCY_FIELDS)}).clean_fields(
                exclude=["parent", "merged_into"]
            )
        except ValidationError as exc:
            errors.extend(
                _("agency %(number)d, %(column)s: %(error)s") % {"number": number, "column": column, "error": message}
                for column, messages in exc.message_dict.items()
                for message in messages
            )
            continue
        if row["code"] in by_code:
            errors.append(_("agency %(number)d: duplicate code %(code)s") % {"number": number, "code": row["code"]})
        by_code[row["code"]] = row
    parents = {row["parent_code"] for row in by_code.values()} - {""}
    known = set(by_code) | set(Agency.objects.filter(code__in=parents).values_list("code", flat=True))
    for code, row in by_code.items():
        if row["parent_code"] and (row["parent_code"] not in known or row["parent_code"] == code):
            errors.append(
                _("agency %(code)s: unknown parent code %(parent)s") % {"code": code, "parent": row["parent_code"]}
            )
    if errors:
        raise DemoDataError("; ".join(errors))

    # Parents first: a row is ready once its parent is placed or lives outside the file (in the database).
    ordered, placed = [], set()
    while len(ordered) < len(by_code):
        ready = [
            code
            for code, row in by_code.items()
            if code not in placed
            and (not row["parent_code"] or row["parent_code"] in placed or row["parent_code"] not in by_code)
        ]
        if not ready:
            raise DemoDataError(_("%(path)s: the parent codes form a cycle.") % {"path": path})
        ordered.extend(by_code[code] for code in ready)
        placed.update(ready)
    return ordered


def seed_agencies(rows):
    """Create or update the agencies (matched by code); returns a Tally."""
    tally = Tally()
    for row in rows:
        code, parent_code = row["code"], row["parent_code"]
        wanted = {name: row[name] for name in AGENCY_FIELDS}
        wanted["parent"] = Agency.objects.get(code=parent_code) if parent_code else None
        agency = Agency.objects.filter(code=code).first()
        if agency is None:
            Agency.objects.create(code=code, **wanted)
            tally.created += 1
            continue
        changed = [name for name, value in wanted.items() if getattr(agency, name) != value]
        if changed:
            for name in changed:
                setattr(agency, name, wanted[name])
            agency.save(update_fields=changed)
            tally.updated += 1
        else:
            tally.unchanged += 1
    return tally


def demo_commune_code(path=AGENCIES_FILE):
    """The code of the demo commune centre: the first commune in the agencies file."""
    for row in load_agencies(path):
        if row["level"] == Agency.Level.COMMUNE:
            return row["code"]
    raise DemoDataError(_("%(path)s has no commune centre.") % {"path": path})


def get_demo_commune():
    """The demo commune centre (the demo users work there); for other apps' demo data."""
    return Agency.objects.get(code=demo_commune_code())


# --- Procedures and workflows -----------------------------------------------------------------


def seed_procedures(path=PROCEDURES_FILE):
    """Import the procedures file; returns (Tally, procedure codes in the file)."""
    try:
        records = read_file(path)
    except ImportFormatError as exc:
        raise DemoDataError(str(exc)) from exc
    report = import_records(records, dry_run=False)
    if report.errors:
        raise DemoDataError(
            "; ".join(
                _("line %(line)s (code %(code)s): %(reason)s")
                % {"line": error.line, "code": error.code or "-", "reason": error.reason}
                for error in report.errors
            )
        )
    codes = [str(row.get("code")).strip() for _line, row in records]
    return Tally(report.created, report.updated, report.unchanged), codes


def add_default_workflows(codes):
    """Give every procedure in `codes` without workflow steps the default four-step workflow."""
    bare = list(Procedure.objects.filter(code__in=codes, workflow_steps__isnull=True).values_list("pk", flat=True))
    WorkflowStep.objects.bulk_create(
        WorkflowStep(procedure_id=pk, position=position, name=name, role=role, time_share=share)
        for pk in bare
        for position, (name, role, share) in enumerate(DEFAULT_WORKFLOW, start=1)
    )
    return len(bare)


# --- Demo users -------------------------------------------------------------------------------


def seed_demo_users(commune, *, reset_passwords=False):
    """Create or update the demo users and their memberships in `commune`.

    Returns (Tally of users, number of memberships added). An existing user's password is only
    set again with `reset_passwords`.
    """
    User = get_user_model()
    tally, memberships = Tally(), 0
    for demo in DEMO_USERS:
        wanted = {
            "first_name": demo.first_name,
            "last_name": demo.last_name,
            "email": demo.email,
            "is_active": True,
            "is_staff": demo.superuser,
            "is_superuser": demo.superuser,
        }
        user = User.objects.filter(username=demo.username).first()
        if user is None:
            user = User(username=demo.username, **wanted)
            user.set_password(DEMO_PASSWORD)
            user.save()
            tally.created += 1
        else:
            changed = [name for name, value in wanted.items() if getattr(user, name) != value]
            for name in changed:
                setattr(user, name, wanted[name])
            if reset_passwords:
                user.set_password(DEMO_PASSWORD)
                changed.append("password")
            if changed:
                user.save(update_fields=changed)
                tally.updated += 1
            else:
                tally.unchanged += 1
        if demo.role:
            agency = commune if demo.agency_code is None else Agency.objects.filter(code=demo.agency_code).first()
            if agency is None:
                continue  # a custom agencies file without the department: no department officers
            _membership, created = Membership.objects.get_or_create(user=user, agency=agency, role=demo.role)
            memberships += created
    return tally, memberships


# --- Everything -------------------------------------------------------------------------------


def seed(
    *,
    stdout=None,
    reset_passwords=False,
    agencies_path=AGENCIES_FILE,
    procedures_path=PROCEDURES_FILE,
    then=None,
):
    """Seed the catalogue and the demo users in one transaction (a bad data file leaves the database
    untouched). `then(stdout)`, when given, runs last in that transaction: the applications' own demo
    data (`dossiers.demo.seed_sample_dossiers`), so the catalogue never imports them; it returns the
    number of objects it created or changed."""
    summary = SeedSummary()
    agency_rows = load_agencies(agencies_path)
    commune_code = next((row["code"] for row in agency_rows if row["level"] == Agency.Level.COMMUNE), None)
    if commune_code is None:
        raise DemoDataError(_("%(path)s has no commune centre.") % {"path": agencies_path})
    with transaction.atomic():
        summary.agencies = seed_agencies(agency_rows)
        summary.procedures, codes = seed_procedures(procedures_path)
        summary.procedure_count = len(codes)
        summary.field_count = Field.objects.filter(procedures__code__in=codes).distinct().count()
        summary.workflows_added = add_default_workflows(codes)
        if settings.DEBUG:
            commune = Agency.objects.get(code=commune_code)
            summary.users, summary.memberships_added = seed_demo_users(commune, reset_passwords=reset_passwords)
        summary.sample_dossiers = then(stdout) if then else None
    return summary
