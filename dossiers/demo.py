"""Sample dossiers for the demo (`manage.py seed_demo` with DEBUG on calls `seed_sample_dossiers`).

About a dozen dossiers in the demo commune, in varied states, spread over the last working days,
made by the demo officers through the real services (`dossier_create`, `dossier_act`), so their
codes, deadlines, events and notifications are exactly what real use would produce.
"""

from datetime import datetime, time, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from procedures import deadlines
from procedures.models import Membership, Procedure, Role

from .models import Channel, Dossier, Status, hash_pin, make_pin
from .services import dossier_act, dossier_create

# Marks the sample dossiers (the note is shown to officers): a second run finds them and stops.
SAMPLE_NOTE = "Hồ sơ mẫu (dữ liệu trình diễn)"
DEMO_USERNAMES = {"tiepnhan": Role.RECEPTION, "chuyenvien": Role.SPECIALIST, "lanhdao": Role.LEADER}

COLLECTED_BY_APPLICANT = object()  # in the plan below: the applicant collects the result in person
APPLICANTS = [
    ("Nguyễn Văn An", "001089004512", "0912345601", "Thôn Na Hôm"),
    ("Trần Thị Bình", "001192007733", "0912345602", "Bản Phăng"),
    ("Lò Văn Páo", "011085002291", "0912345603", "Bản Co Luống"),
    ("Lê Thị Cúc", "001195003318", "0912345604", "Thôn Nà Nhạn"),
    ("Phạm Minh Dũng", "001078006627", "0912345605", "Bản Pá Khoang"),
    ("Vàng Thị Mỷ", "011197001145", "0912345606", "Bản Mường Phăng"),
    ("Hoàng Văn Em", "001090008854", "0912345607", "Thôn Tân Bình"),
    ("Đỗ Thị Giang", "001186005569", "0912345608", "Bản Xôm"),
    ("Quàng Văn Hải", "011082004470", "0912345609", "Bản Khẩu Cắm"),
    ("Bùi Thị Hạnh", "001193002286", "0912345610", "Thôn Đông Mệt"),
    ("Ngô Văn Khánh", "001087009913", "0912345611", "Bản Pa Pốm"),
    ("Cà Thị Lan", "011199006604", "0912345612", "Bản Nghịu"),
]


def _say(stdout, message):
    if stdout is not None:
        stdout.write(message + "\n")


def _demo_officers():
    """(commune, {username: user}) of the demo officers, or (None, reason) when they are missing."""
    User = get_user_model()
    users = {u.username: u for u in User.objects.filter(username__in=DEMO_USERNAMES, is_active=True)}
    missing = sorted(set(DEMO_USERNAMES) - set(users))
    if missing:
        return None, _("demo users missing: %(users)s") % {"users": ", ".join(missing)}
    # The commune where all three hold their roles (the first one, by code).
    agency_ids = None
    for username, role in DEMO_USERNAMES.items():
        ids = set(Membership.objects.filter(user=users[username], role=role).values_list("agency_id", flat=True))
        agency_ids = ids if agency_ids is None else agency_ids & ids
    membership = (
        Membership.objects.filter(user=users["tiepnhan"], role=Role.RECEPTION, agency_id__in=agency_ids)
        .select_related("agency")
        .order_by("agency__code")
        .first()
    )
    if membership is None:
        return None, _("the demo users tiepnhan, chuyenvien and lanhdao do not share an agency")
    return membership.agency, users


def _past_working_days(count):
    """The last `count` working days before today, most recent first."""
    calendar = deadlines.get_calendar()
    days, day = [], timezone.localdate()
    while len(days) < count:
        day -= timedelta(days=1)
        if calendar.is_working_day(day):
            days.append(day)
    return days


def seed_sample_dossiers(stdout=None):
    """Create the sample dossiers once. Returns how many were created (0 when none)."""
    commune, users = _demo_officers()
    if commune is None:
        _say(stdout, _("Sample dossiers skipped: %(reason)s.") % {"reason": users})
        return 0
    if Dossier.objects.filter(receiving_agency=commune, note=SAMPLE_NOTE).exists():
        _say(stdout, _("Sample dossiers already exist in %(agency)s: nothing to do.") % {"agency": commune.name})
        shown = remembered_sample() or _new_sample_pin(commune)
        if shown is not None:
            _say_lookup(stdout, *shown)
        return 0
    procedures = list(
        Procedure.objects.published()
        .filter(agencies=commune)
        .exclude(workflow_steps__agency__isnull=False)  # the inter-agency ones: see _interagency_samples
        .prefetch_related("documents")
        .order_by("-processing_days", "code")
    )
    if not procedures:
        _say(stdout, _("Sample dossiers skipped: %(agency)s has no published procedure.") % {"agency": commune.name})
        return 0
    with transaction.atomic():
        created, shown = _create_samples(commune, users, procedures)
        created += _interagency_samples(commune, users)
    _say(
        stdout,
        _("Created %(count)d sample dossiers in %(agency)s.") % {"count": len(created), "agency": commune.name},
    )
    _remember_sample(*shown)
    _say_lookup(stdout, *shown)
    return len(created)


# The department's demo officers (procedures/demo.py DEMO_USERS).
DEPARTMENT_USERNAMES = {"chuyenvien_so": Role.SPECIALIST, "lanhdao_so": Role.LEADER}


def _interagency_samples(commune, users):
    """Dossiers of the inter-agency procedures (a step at the provincial department): one waiting
    for the department to accept it, one at the department's specialist, one back at the commune
    desk with its result. Skipped when the department's demo officers or those procedures are absent."""
    User = get_user_model()
    staff = {u.username: u for u in User.objects.filter(username__in=DEPARTMENT_USERNAMES, is_active=True)}
    crossing = list(
        Procedure.objects.published()
        .filter(agencies=commune, workflow_steps__agency__isnull=False)
        .distinct()
        .prefetch_related("documents")
        .order_by("code")
    )
    if len(staff) != len(DEPARTMENT_USERNAMES) or not crossing:
        return []
    reception, specialist = users["tiepnhan"], users["chuyenvien"]
    days = _past_working_days(6)

    def at(index, hour, minute=0):
        return timezone.make_aware(datetime.combine(days[index], time(hour, minute)))

    handed = [("assign", reception, None, {"assignee": specialist.pk}), ("hand_over", specialist, None, {})]
    accepted = [*handed, ("accept_handover", staff["chuyenvien_so"], None, {})]
    plan = [
        (at(1, 9), handed, ("Trịnh Văn Minh", "001085001231", "0912345621")),
        (at(3, 9), accepted, ("Nông Thị Nga", "001190004562", "0912345622")),
        (
            at(5, 9),
            [
                *accepted,
                ("propose_result", staff["chuyenvien_so"], None, {"result": "Giấy chứng nhận quyền sử dụng đất"}),
                ("approve", staff["lanhdao_so"], None, {}),
            ],
            ("Triệu Văn Phúc", "001079003393", "0912345623"),
        ),
    ]
    created = []
    for number, (received_at, steps, (name, id_number, phone)) in enumerate(plan):
        procedure = crossing[number % len(crossing)]
        dossier, _pin = dossier_create(
            actor=reception,
            procedure=procedure,
            applicant_name=name,
            applicant_id_number=id_number,
            applicant_phone=phone,
            applicant_address=f"Tổ dân phố {number + 1}, {commune.name}",
            documents=[
                {"name": d.name, "originals": d.originals, "copies": d.copies, "received": True}
                for d in procedure.documents.all()
            ],
            note=SAMPLE_NOTE,
            receiving_agency=commune,
            now=received_at,
        )
        for offset, (action, actor, _when, params) in enumerate(steps, start=1):
            when = received_at + timedelta(hours=offset)
            dossier = dossier_act(dossier=dossier, actor=actor, action=action, now=when, **params)
        created.append(dossier)
    return created


def _say_lookup(stdout, code, pin):
    _say(
        stdout,
        _("Try the public lookup (/tra-cuu/) with dossier code %(code)s and PIN %(pin)s.") % {"code": code, "pin": pin},
    )


# -- the sample code and PIN, for every run's banner (make run) -----------------------------------
# PINs are stored hashed: the sample's is kept in settings.DEMO_SAMPLE_FILE (demo data only: the
# samples exist only with DEBUG on), so a second `make run` can show it again.


def _remember_sample(code, pin):
    path = Path(settings.DEMO_SAMPLE_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{code} {pin}\n", encoding="utf-8")


def remembered_sample():
    """(code, PIN) of the sample dossier shown by the first run, if it is still valid, else None."""
    try:
        code, pin = Path(settings.DEMO_SAMPLE_FILE).read_text(encoding="utf-8").split()[:2]
    except (OSError, ValueError):
        return None
    dossier = Dossier.objects.with_code(code).filter(note=SAMPLE_NOTE).first()
    return (dossier.code, pin) if dossier is not None and dossier.check_pin(pin) else None


def _new_sample_pin(commune):
    """Samples seeded before the PIN was remembered: give the first received one a new PIN."""
    dossier = (
        Dossier.objects.filter(receiving_agency=commune, note=SAMPLE_NOTE, status=Status.RECEIVED)
        .order_by("received_at", "pk")
        .first()
    )
    if dossier is None:
        return None
    pin = make_pin()
    dossier.pin_hash = hash_pin(dossier.pin_key, pin)
    dossier.save(update_fields=["pin_hash"])
    _remember_sample(dossier.code, pin)
    return dossier.code, pin


def _create_samples(commune, users, procedures):
    """Plan every sample dossier, then create them in intake order (so the daily sequence numbers
    follow the clock) and take each one's actions. Returns (dossiers, (code, PIN) to print)."""
    reception, specialist, leader = users["tiepnhan"], users["chuyenvien"], users["lanhdao"]
    days = _past_working_days(30)
    calendar = deadlines.get_calendar()
    # Open dossiers use procedures of about a week (not overdue yet); the overdue one the shortest.
    typical = sorted(procedures, key=lambda p: (abs(p.processing_days - 5), p.code))
    typical = [p for p in typical if 3 <= p.processing_days <= 10][:4] or typical[:4]
    shortest = min(procedures, key=lambda p: (p.processing_days, p.code))

    def at(index, hour, minute=0):
        return timezone.make_aware(datetime.combine(days[index], time(hour, minute)))

    def proc(n):
        return typical[n % len(typical)]

    def assign(when):
        return ("assign", reception, when, {"assignee": specialist.pk})

    def propose(procedure, when):
        return ("propose_result", specialist, when, {"result": (procedure.result or procedure.name)[:500]})

    def to_approval(procedure, assigned, proposed):
        return [assign(assigned), propose(procedure, proposed)]

    overdue_day = next(
        (
            i
            for i in range(3, len(days))
            if deadlines.compute_due_at(at(i, 9), shortest.processing_days, calendar=calendar) < at(0, 8)
        ),
        len(days) - 1,
    )
    incomplete = proc(2)
    missing = [d.name for d in incomplete.documents.all()][:1] or ["Tờ khai theo mẫu"]
    # (received or submitted at, procedure, extra create arguments, [(action, actor, at, params)]).
    plan = [
        # Received at the desk on the last working day: its code and PIN are printed.
        (at(0, 9, 15), proc(0), {}, []),
        # Submitted online, waiting for the desk to accept it.
        (at(0, 20, 5), proc(1), {"channel": Channel.ONLINE}, []),
        # Incomplete at intake: the one supplement request (Mẫu 02).
        (at(0, 10, 30), incomplete, {"missing_documents": missing}, []),
        # Being processed by the specialist.
        (at(1, 8), proc(0), {}, [assign(at(1, 8, 30))]),
        (at(0, 14), proc(1), {}, [assign(at(0, 14, 30))]),
        # Waiting for the leader's approval (on the phone).
        (at(2, 9), proc(0), {}, to_approval(proc(0), at(2, 10), at(0, 15))),
        (at(1, 14), proc(3), {}, to_approval(proc(3), at(1, 15), at(0, 9))),
        # Waiting for the applicant to pay the fee: the clock stands still.
        (
            at(1, 9, 40),
            proc(1),
            {},
            [
                assign(at(1, 10)),
                ("request_obligation", specialist, at(0, 8, 30), {"comment": "Đề nghị nộp lệ phí theo quy định."}),
            ],
        ),
        # Result ready at the desk.
        (at(4, 8), proc(2), {}, [*to_approval(proc(2), at(4, 9), at(3, 16)), ("approve", leader, at(2, 8), {})]),
        # Result handed back.
        (
            at(5, 14),
            proc(0),
            {},
            [
                *to_approval(proc(0), at(5, 15), at(4, 10)),
                ("approve", leader, at(3, 9), {}),
                ("return_result", reception, at(2, 10), {"collected_by": COLLECTED_BY_APPLICANT}),
            ],
        ),
        # Overdue: received long enough ago that even the shortest procedure's deadline has passed.
        (at(overdue_day, 9), shortest, {}, [assign(at(overdue_day, 10))]),
        # Submitted online and refused at intake, with the reason (Mẫu 03).
        (
            at(2, 21),
            proc(1),
            {"channel": Channel.ONLINE},
            [("refuse", reception, at(1, 8), {"comment": "Hồ sơ không thuộc thẩm quyền giải quyết của xã."})],
        ),
    ]
    created, shown = [], None
    for (received_at, procedure, extra, steps), applicant in zip(
        sorted(plan, key=lambda item: item[0]), APPLICANTS, strict=False
    ):
        name, id_number, phone, address = applicant
        dossier, pin = dossier_create(
            actor=reception,
            procedure=procedure,
            applicant_name=name,
            applicant_id_number=id_number,
            applicant_phone=phone,
            applicant_address=f"{address}, {commune.name}",
            documents=[
                {"name": d.name, "originals": d.originals, "copies": d.copies, "received": True}
                for d in procedure.documents.all()
            ],
            note=SAMPLE_NOTE,
            receiving_agency=commune,
            now=received_at,
            **extra,
        )
        for action, actor, now, params in steps:
            if params.get("collected_by") is COLLECTED_BY_APPLICANT:
                params = {**params, "collected_by": name}
            dossier = dossier_act(dossier=dossier, actor=actor, action=action, now=now, **params)
        created.append(dossier)
        if shown is None and dossier.status == Status.RECEIVED and received_at == at(0, 9, 15):
            shown = (dossier.code, pin)
    return created, shown
