"""Synthetic data for the benchmark (`manage.py seed_bench`, issue 7).

A province of `agencies` agencies (the province, its departments and commune centres, codes
`BENCH.xx`), `procedures` published procedures (the 61 real ones of `procedures/data` first,
then generated variants), officers in every agency, and `dossiers` dossiers spread over
`years` years with realistic statuses and 1-6 audit events each. Everything it creates is
recognisable by the `BENCH.` prefix (agencies, fields, procedures) or the `bench.` prefix
(usernames), so `reset()` removes exactly that and nothing else.

Speed: on PostgreSQL dossiers and events are written with COPY (psycopg 3 `cursor.copy`); for
large loads the secondary indexes, unique and foreign-key constraints of the two big tables are
dropped first and rebuilt afterwards (one transaction: a failure leaves nothing behind). On
SQLite (development only) rows go through `bulk_create` in batches.

Fidelity, and the approximations it makes (documented in docs/performance.md):

* Dossier codes are `<agency code>-<YYMMDD>-<NNNN>` with a daily sequence per competent agency and
  the acceptance day; dossiers not accepted yet have a provisional `TC-<desk code>-<YYMMDD>-<NNNN>`
  reference (`dossiers.codes`); `DossierSequence` rows of both kinds are written so that later
  intakes continue the sequences.
* Dossiers are accepted inside office sessions of working days (the project's calendar). Due
  dates come from the real deadline engine (`procedures.deadlines.compute_due_at`), memoised per
  (day, session, processing time, cut-off): under both policies the result depends only on those.
* Step deadlines of open dossiers come from the engine too (`add_working_minutes`); the step
  deadlines recorded on the events of finished dossiers, and the moments between intake and the
  end (assignment, proposal), are a linear wall-clock approximation.
* Each dossier's PIN is `bench_pin(code)` (a keyed function of the code), stored with the real
  `hash_pin`, so the benchmark can look up any dossier; never use this outside a bench database.
* One dossier (note `BENCH_50_EVENTS_NOTE`) has exactly 50 events (a send-back ping-pong).
* Events carry their hash chain (accounts/audit.py) and the statistics tables (dossiers/stats.py)
  are filled with `stats.replay`, the function `stats.rebuild()` applies; both are checked on a
  sample after writing.
"""

import bisect
import hashlib
import json
import math
import random
import time as clock
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Max, ProtectedError, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from dossiers import workflow
from dossiers.models import Dossier, DossierEvent, DossierSequence, Pause, Stage, Status, hash_pin, judge
from procedures import deadlines
from procedures.models import (
    DEFAULT_WORKFLOW,
    Agency,
    Field,
    Membership,
    Procedure,
    RequiredDocument,
    Role,
    WorkflowStep,
)

PREFIX = "BENCH."
USER_PREFIX = "bench."
# The password of every bench user (bench databases only; printed by the bench, documented).
BENCH_PASSWORD = "motcua-bench-password"  # noqa: S105 - a documented throw-away value for bench databases
BENCH_50_EVENTS_NOTE = "bench:50-events"
# Above this many dossiers (PostgreSQL), indexes and constraints are rebuilt after COPY.
REBUILD_INDEXES_FROM = 50_000
CHUNK = 20_000
PROCEDURES_FILE = Path(__file__).resolve().parent.parent / "procedures" / "data" / "procedures.json"


def _split(text, separator=None):
    return tuple(part.strip() for part in text.split(separator))


# Share of each kind of dossier (the issue asks for ~10 % open and ~2 % due in the next 3 days).
CATEGORIES = (
    ("due_soon", 0.020),  # open, due within the next 3 days
    ("overdue", 0.015),  # open, past its due date
    ("paused", 0.010),  # awaiting a supplement or a financial obligation
    ("online_waiting", 0.005),  # submitted online, not accepted yet
    ("running", 0.050),  # open, due later than 3 days from now
    ("returned", 0.740),
    ("result_ready", 0.030),
    ("refused", 0.060),
    ("withdrawn", 0.040),
    ("stopped", 0.030),
)
OPEN_CATEGORIES = ("due_soon", "overdue", "paused", "online_waiting", "running")


FIELDS = (
    ("HT", "Hộ tịch"),
    ("CT", "Chứng thực"),
    ("CU", "Cư trú"),
    ("DD", "Đất đai"),
    ("XD", "Xây dựng"),
    ("HKD", "Hộ kinh doanh"),
    ("HG", "Hòa giải ở cơ sở"),
    ("NCN", "Nuôi con nuôi"),
    ("TS", "Thủy sản"),
    ("YT", "Y tế"),
    ("GD", "Giáo dục và Đào tạo"),
    ("LD", "Lao động, người có công và xã hội"),
    ("GT", "Giao thông vận tải"),
    ("MT", "Môi trường"),
    ("VH", "Văn hóa, thể thao và du lịch"),
)

# Generated procedure names: verb × object × qualifier, per field.
VERBS = ("Cấp", "Cấp lại", "Cấp đổi", "Gia hạn", "Điều chỉnh", "Đăng ký", "Xác nhận", "Công nhận", "Thẩm định")
OBJECTS = {
    "HT": ("khai sinh", "kết hôn", "khai tử", "giám hộ", "nhận cha, mẹ, con", "trích lục hộ tịch"),
    "CT": ("bản sao từ bản chính", "chữ ký người dịch", "hợp đồng, giao dịch", "văn bản thỏa thuận phân chia di sản"),
    "CU": ("thường trú", "tạm trú", "lưu trú", "tách hộ"),
    "DD": ("giấy chứng nhận quyền sử dụng đất", "biến động đất đai", "chuyển mục đích sử dụng đất", "giao đất"),
    "XD": ("giấy phép xây dựng nhà ở riêng lẻ", "giấy phép sửa chữa, cải tạo", "chứng chỉ hành nghề xây dựng"),
    "HKD": ("giấy chứng nhận đăng ký hộ kinh doanh", "thay đổi nội dung đăng ký hộ kinh doanh"),
    "HG": ("hòa giải viên", "tổ trưởng tổ hòa giải"),
    "NCN": ("việc nuôi con nuôi trong nước", "giấy xác nhận đủ điều kiện nhận con nuôi"),
    "TS": ("giấy phép khai thác thủy sản", "nguồn gốc thủy sản", "tàu cá"),
    "YT": ("chứng chỉ hành nghề dược", "giấy phép hoạt động phòng khám", "giấy chứng nhận an toàn thực phẩm"),
    "GD": ("giấy phép thành lập trường mầm non", "văn bằng, chứng chỉ", "hoạt động giáo dục kỹ năng sống"),
    "LD": ("trợ cấp xã hội hằng tháng", "giấy phép lao động", "chế độ người có công", "hỗ trợ học nghề"),
    "GT": ("giấy phép lái xe", "đăng ký phương tiện thủy nội địa", "giấy phép kinh doanh vận tải"),
    "MT": ("giấy phép môi trường", "kế hoạch bảo vệ môi trường", "giấy phép khai thác nước dưới đất"),
    "VH": ("giấy phép tổ chức lễ hội", "giấy phép kinh doanh karaoke", "danh hiệu gia đình văn hóa"),
}
QUALIFIERS = (
    "",
    " đối với cá nhân",
    " đối với tổ chức",
    " có yếu tố nước ngoài",
    " trong trường hợp bị mất, hư hỏng",
    " cấp tỉnh",
    " cấp xã",
    " (liên thông)",
    " cho người nước ngoài",
    " theo hình thức trực tuyến",
)
DOCUMENT_NAMES = (
    "Tờ khai theo mẫu",
    "Bản sao thẻ căn cước hoặc giấy tờ tùy thân có ảnh",
    "Giấy tờ chứng minh nơi cư trú",
    "Văn bản ủy quyền (nếu nộp thay)",
    "Bản chính giấy tờ đã được cấp (trường hợp cấp lại, cấp đổi)",
    "Bản vẽ, sơ đồ vị trí",
    "Biên lai nộp phí, lệ phí",
)
PROCESSING_DAYS = tuple(
    (Decimal(days), int(weight))
    for days, weight in (item.split(":") for item in _split("0:18 0.5:4 1:10 2:8 3:16 5:16 7:8 10:8 15:6 20:4 30:2"))
)
DEPARTMENTS = _split(
    "Sở Tư pháp|Sở Xây dựng|Sở Nông nghiệp và Môi trường|Sở Y tế|Sở Công Thương|Sở Giáo dục và Đào tạo|"
    "Sở Nội vụ|Sở Tài chính|Sở Văn hóa, Thể thao và Du lịch|Sở Khoa học và Công nghệ",
    "|",
)
PLACE_NAMES = _split(
    "An Bình|Bình Minh|Cẩm Phả|Đồng Tâm|Gia Sàng|Hòa Bình|Hương Sơn|Kim Long|Lạc Hồng|Minh Khai|Nam Tiến|"
    "Phú Xuân|Quang Trung|Sơn Cẩm|Tân Lập|Thịnh Đức|Trung Thành|Văn Lang|Vạn Xuân|Yên Thế",
    "|",
)
FAMILY_NAMES = tuple(
    (name, int(weight))
    for name, weight in (
        item.split(":")
        for item in _split(
            "Nguyễn:38 Trần:11 Lê:9 Phạm:7 Hoàng:5 Phan:4 Vũ:4 Đặng:2 Bùi:2 Đỗ:2 Hồ:1 Ngô:1 Dương:1 Lý:1"
        )
    )
)
MIDDLE_NAMES = ("Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quang", "Thu", "Kim", "Xuân", "Hoài")
GIVEN_NAMES = _split(
    "An Bình Chi Dũng Giang Hà Hải Hạnh Hoa Hùng Hương Khánh Lan Linh Long Mai Minh Nam Nga Phong Phương Quân "
    "Sơn Tâm Thảo Trang Tuấn Vân Việt Yến"
)


class BenchDataError(Exception):
    """Bench data cannot be written (already present, unknown model field…); nothing was written."""


def bench_pin(code):
    """The PIN of a seeded dossier: six digits derived from its code (bench databases only)."""
    digest = hashlib.sha256(f"motcua-bench:{code}".encode()).digest()
    return f"{int.from_bytes(digest[:4], 'big') % 10**6:06d}"


def agency_code(index, count):
    return f"{PREFIX}{index:0{max(2, len(str(count - 1)))}d}"


def bench_exists():
    return Agency.objects.filter(code__startswith=PREFIX).exists()


def bench_dossiers():
    agencies = Agency.objects.filter(code__startswith=PREFIX).values("pk")
    return Dossier.objects.filter(
        Q(competent_agency__in=agencies) | Q(receiving_agency__in=agencies) | Q(returning_agency__in=agencies)
    )


@dataclass
class Spec:
    dossiers: int = 1000
    procedures: int = 5000
    agencies: int = 30
    years: int = 5
    seed: int = 1
    now: datetime | None = None
    rebuild_indexes: str = "auto"  # auto | always | never (PostgreSQL only)
    vacuum: bool = True
    stats: bool = True  # rebuild the statistics tables (dossiers/stats.py) from the seeded events


@dataclass
class Summary:
    counts: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    desk_agency: str = ""
    fifty_events_code: str = ""


class _Timer:
    def __init__(self, summary, log):
        self.summary, self.log = summary, log

    def step(self, name):
        return _Step(self, name)


class _Step:
    def __init__(self, timer, name):
        self.timer, self.name = timer, name

    def __enter__(self):
        self.started = clock.perf_counter()
        return self

    def __exit__(self, *exc):
        elapsed = clock.perf_counter() - self.started
        self.timer.summary.timings[self.name] = round(elapsed, 3)
        if exc[0] is None:
            self.timer.log(f"  {self.name:<34} {elapsed:8.2f} s")


# --- Reset ---------------------------------------------------------------------------------


def _delete_pointing_to(model, ids_sql, params, skip=()):
    """Raw DELETE of the rows of every table with a foreign key to `model` among `ids_sql`
    (events are append-only for the ORM, statistics rows PROTECT agencies and fields)."""
    with connection.cursor() as cursor:
        for relation in model._meta.get_fields(include_hidden=True):
            # Reverse foreign keys, including the hidden ones (related_name="+").
            if not (relation.auto_created and not relation.concrete and (relation.one_to_many or relation.one_to_one)):
                continue
            if relation.related_model in skip:
                continue
            table = connection.ops.quote_name(relation.related_model._meta.db_table)
            column = connection.ops.quote_name(relation.field.column)
            cursor.execute(f"DELETE FROM {table} WHERE {column} IN ({ids_sql})", params)  # noqa: S608


def reset(log=print):
    """Delete every bench row: the dossiers of bench agencies and everything attached to them,
    bench users, procedures, fields and agencies. Nothing else is touched."""
    User = get_user_model()
    agencies = Agency.objects.filter(code__startswith=PREFIX)
    count = agencies.count()
    with transaction.atomic():
        if count:
            ids_sql, params = bench_dossiers().values("pk").query.sql_with_params()
            _delete_pointing_to(Dossier, ids_sql, params)
            with connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {_table(Dossier)} WHERE id IN ({ids_sql})", params)  # noqa: S608
        users = User.objects.filter(username__startswith=USER_PREFIX)
        user_count = users.count()
        try:
            users.delete()
        except ProtectedError as exc:
            raise BenchDataError("Bench users acted on dossiers that are not bench data: reset refused.") from exc
        Procedure.objects.filter(code__startswith=PREFIX).delete()
        for model, queryset in ((Field, Field.objects.filter(code__startswith=PREFIX)), (Agency, agencies)):
            ids_sql, params = queryset.values("pk").query.sql_with_params()
            _delete_pointing_to(model, ids_sql, params, skip=(Agency, Procedure))
        Field.objects.filter(code__startswith=PREFIX).delete()
        agencies.filter(parent__isnull=False).delete()
        agencies.delete()
    log(f"  removed the bench data of {count} agencies and {user_count} users")


# --- Catalogue and officers ------------------------------------------------------------------


def _weighted(rng, items):
    values, weights = zip(*items, strict=True)
    return rng.choices(values, weights=weights)[0]


def create_agencies(spec):
    count = max(3, spec.agencies)
    departments = max(1, min(len(DEPARTMENTS), count // 6))
    province = Agency.objects.create(
        code=agency_code(0, count),
        name="Ủy ban nhân dân tỉnh Thử Tải",
        level=Agency.Level.PROVINCE,
        address="Tỉnh Thử Tải",
        email="ubnd@bench.motcua.local",
    )
    rows = []
    for i in range(1, count):
        if i <= departments:
            name, level = f"{DEPARTMENTS[i - 1]} tỉnh Thử Tải", Agency.Level.DEPARTMENT
        else:
            n = i - departments - 1
            place = PLACE_NAMES[n % len(PLACE_NAMES)] + (
                f" {n // len(PLACE_NAMES) + 1}" if n >= len(PLACE_NAMES) else ""
            )
            kind = "phường" if n % 3 == 0 else "xã"
            name, level = f"Trung tâm Phục vụ hành chính công {kind} {place}", Agency.Level.COMMUNE
        rows.append(
            Agency(
                code=agency_code(i, count),
                name=name,
                level=level,
                parent=province,
                address=f"{name.split('công ')[-1]}, tỉnh Thử Tải",
                phone=f"0208 {i:03d} 0000",
            )
        )
    Agency.objects.bulk_create(rows)
    return list(Agency.objects.filter(code__startswith=PREFIX).order_by("code"))


def _real_procedures():
    try:
        return json.loads(PROCEDURES_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []


def _procedure_blueprints(spec, rng):
    """(name, field code, level, service level, processing days, cutoff, fee, documents, result) per procedure."""
    blueprints, seen = [], set()
    for item in _real_procedures():
        if len(blueprints) >= spec.procedures:
            break
        docs = [(d["name"], int(d.get("originals") or 1), int(d.get("copies") or 0)) for d in item.get("documents", [])]
        days = Decimal(str(item.get("processing_days") or 0))
        cutoff = time(15, 0) if days == 0 and item.get("field_code") in ("CT", "HT") else None
        blueprints.append(
            (
                item["name"],
                item.get("field_code") or "HT",
                item.get("level") or "commune",
                item.get("service_level") or "none",
                days,
                cutoff,
                item.get("fee_vnd"),
                docs or [(DOCUMENT_NAMES[0], 1, 0)],
                (item.get("result") or "")[:200],
            )
        )
        seen.add(item["name"])
    combos = [
        (f"{verb} {obj}{qualifier}", code)
        for code, objects in OBJECTS.items()
        for obj in objects
        for verb in VERBS
        for qualifier in QUALIFIERS
    ]
    rng.shuffle(combos)
    number = 0
    while len(blueprints) < spec.procedures:
        name, code = combos[number % len(combos)]
        if number >= len(combos):
            name = f"{name} (mẫu {number // len(combos) + 1})"
        number += 1
        if name in seen:
            continue
        seen.add(name)
        days = _weighted(rng, PROCESSING_DAYS)
        docs = [(n, 1, rng.choice((0, 0, 1))) for n in rng.sample(DOCUMENT_NAMES, rng.randint(2, 4))]
        blueprints.append(
            (
                name,
                code,
                "commune" if rng.random() < 0.6 else "province",
                rng.choice(("full", "partial", "partial", "none")),
                days,
                time(15, 0) if days == 0 and rng.random() < 0.5 else None,
                rng.choice((0, 0, 15000, 50000, 100000, 500000)),
                docs,
                "Văn bản chấp thuận hoặc giấy tờ theo yêu cầu",
            )
        )
    return blueprints


def create_catalogue(spec, rng, agencies):
    province = agencies[0]
    departments = [a for a in agencies if a.level == Agency.Level.DEPARTMENT]
    communes = [a for a in agencies if a.level == Agency.Level.COMMUNE] or [province]
    Field.objects.bulk_create([Field(code=f"{PREFIX}{code}", name=name) for code, name in FIELDS])
    fields = {f.code.removeprefix(PREFIX): f for f in Field.objects.filter(code__startswith=PREFIX)}
    blueprints = _procedure_blueprints(spec, rng)
    width = max(5, len(str(len(blueprints))))
    procedures = []
    for i, (name, field_code, level, service_level, days, cutoff, fee, _docs, result) in enumerate(blueprints, 1):
        procedure = Procedure(
            code=f"{PREFIX}P{i:0{width}d}",
            name=name,
            field=fields.get(field_code) or fields["HT"],
            level=level,
            service_level=service_level,
            processing_days=days,
            processing_time_text=f"{days} ngày làm việc",
            same_day_cutoff=cutoff,
            fee_vnd=fee,
            fee_text="Miễn phí" if not fee else f"{fee:,} đồng".replace(",", "."),
            steps="1. Nộp hồ sơ tại Bộ phận Một cửa hoặc trực tuyến.\n2. Nhận kết quả theo phiếu hẹn.",
            result=result,
            legal_basis="Nghị định số 118/2025/NĐ-CP",
            source="Dữ liệu thử tải",
            published=True,
        )
        procedure.refresh_search_columns()
        procedures.append(procedure)
    Procedure.objects.bulk_create(procedures, batch_size=1000)
    by_code = {p.code: p for p in Procedure.objects.filter(code__startswith=PREFIX).only("id", "code", "field_id")}
    documents, steps, links = [], [], []
    through = Procedure.agencies.through
    plans = []
    for i, blueprint in enumerate(blueprints, 1):
        procedure = by_code[f"{PREFIX}P{i:0{width}d}"]
        name, field_code, level, service_level, days, cutoff, fee, docs, result = blueprint
        for position, (doc_name, originals, copies) in enumerate(docs, 1):
            documents.append((procedure.pk, position, doc_name, originals, copies, "", ""))
        for position, (step_name, role, share) in enumerate(DEFAULT_WORKFLOW, 1):
            steps.append((procedure.pk, position, step_name, str(role), None, share))
        if level == "commune":
            implementing = communes
        else:
            implementing = [departments[i % len(departments)]] if departments else [province]
        links.extend((procedure.pk, a.pk) for a in implementing)
        snapshot = {
            "code": procedure.code,
            "name": name,
            "version": 1,
            "processing_days": str(days),
            "same_day_cutoff": cutoff.strftime("%H:%M") if cutoff else None,
            "fee_text": "Miễn phí" if not fee else f"{fee:,} đồng".replace(",", "."),
            "documents": [{"name": n, "originals": o, "copies": c} for n, o, c in docs],
            "workflow": [{"name": n, "role": r.value, "share": s} for n, r, s in DEFAULT_WORKFLOW],
        }
        received_docs = [{"name": n, "originals": o, "copies": c, "received": True} for n, o, c in docs]
        plans.append(
            _ProcedurePlan(
                id=procedure.pk,
                code=procedure.code,
                field_id=procedure.field_id,
                days=days,
                cutoff=cutoff,
                online=service_level != "none",
                commune_level=level == "commune",
                agencies=[a.pk for a in implementing],
                snapshot=json.dumps(snapshot, ensure_ascii=False),
                documents=json.dumps(received_docs, ensure_ascii=False),
                missing=[docs[-1][0]],
                result=result or name,
            )
        )
    _write(RequiredDocument, ("procedure_id", "position", "name", "originals", "copies", "note", "template"), documents)
    _write(WorkflowStep, ("procedure_id", "position", "name", "role", "agency_id", "time_share"), steps)
    _write(through, ("procedure_id", "agency_id"), links)
    return plans, len(documents), len(steps), len(links)


@dataclass
class _ProcedurePlan:
    id: int
    code: str
    field_id: int
    days: Decimal
    cutoff: time | None
    online: bool
    commune_level: bool
    agencies: list
    snapshot: str
    documents: str
    missing: list
    result: str


@dataclass
class _Staff:
    reception: list
    specialist: list
    leader: list


def create_officers(agencies):
    """Per agency: two reception officers, two specialists, one leader; a supervisor at the
    province; `bench.tinh`, reception officer and specialist of every agency (the user whose
    queue is long enough for page 1,000); one password hash computed once and reused."""
    User = get_user_model()
    password = make_password(BENCH_PASSWORD)
    users, plan = [], []
    for agency in agencies:
        suffix = agency.code.removeprefix(PREFIX)
        for username, role in (
            (f"{USER_PREFIX}{suffix}.tiepnhan1", Role.RECEPTION),
            (f"{USER_PREFIX}{suffix}.tiepnhan2", Role.RECEPTION),
            (f"{USER_PREFIX}{suffix}.chuyenvien1", Role.SPECIALIST),
            (f"{USER_PREFIX}{suffix}.chuyenvien2", Role.SPECIALIST),
            (f"{USER_PREFIX}{suffix}.lanhdao", Role.LEADER),
        ):
            users.append(User(username=username, password=password, first_name="Cán bộ", last_name=username[-12:]))
            plan.append((username, agency.pk, role))
    users.append(User(username=f"{USER_PREFIX}giamsat", password=password, first_name="Giám sát", last_name="tỉnh"))
    plan.append((f"{USER_PREFIX}giamsat", agencies[0].pk, Role.SUPERVISOR))
    users.append(User(username=f"{USER_PREFIX}tinh", password=password, first_name="Cán bộ", last_name="toàn tỉnh"))
    for agency in agencies:
        # Not a leader: leaders must use two-factor login in production (REQUIRE_2FA_FOR_LEADERS).
        for role in (Role.RECEPTION, Role.SPECIALIST):
            plan.append((f"{USER_PREFIX}tinh", agency.pk, role))
    User.objects.bulk_create(users, batch_size=1000)
    ids = dict(User.objects.filter(username__startswith=USER_PREFIX).values_list("username", "pk"))
    Membership.objects.bulk_create(
        [Membership(user_id=ids[u], agency_id=a, role=r) for u, a, r in plan], batch_size=2000
    )
    staff = {}
    for username, agency_id, role in plan:
        if username == f"{USER_PREFIX}tinh" or role == Role.SUPERVISOR:
            continue
        entry = staff.setdefault(agency_id, _Staff([], [], []))
        getattr(entry, {"reception": "reception", "specialist": "specialist", "leader": "leader"}[role]).append(
            (ids[username], username)
        )
    return staff, len(users), len(plan)


# --- Dossiers --------------------------------------------------------------------------------

DOSSIER_COLUMNS = _split(
    """id code procedure_id procedure_version procedure_snapshot receiving_agency_id competent_agency_id
    returning_agency_id applicant_name applicant_id_number applicant_phone applicant_email applicant_address channel
    status stage documents note submitted_at received_at due_at original_due_at finished_at returned_at assignee_id
    step_started_at step_due_at supplement_requests result_summary returned_to return_method pin_hash created_by_id
    created_at updated_at handling_agency_id"""
)
EVENT_COLUMNS = _split(
    """id dossier_id actor_id action from_status to_status from_stage to_stage comment data step_due_at step_outcome
    created_at"""
)
JSON_COLUMNS = {"procedure_snapshot", "documents", "data", "criteria"}
DUE_AT = DOSSIER_COLUMNS.index("due_at")
STATUS, FINISHED_AT, RETURNED_AT = (DOSSIER_COLUMNS.index(name) for name in ("status", "finished_at", "returned_at"))
# Citizens' ratings (ratings/): this share of the dossiers that ended (returned, refused, withdrawn,
# stopped) is rated, at these weights; some ratings "not satisfied" carry a comment.
RATED_SHARE = 0.35
RATING_LEVELS = (("very_satisfied", 55), ("satisfied", 35), ("unsatisfied", 10))
RATEABLE = (int(Status.RETURNED), int(Status.REFUSED), int(Status.WITHDRAWN), int(Status.STOPPED))
RATING_COMMENTS = ("Phải đi lại nhiều lần.", "Trả kết quả chậm so với giấy hẹn.", "Cán bộ hướng dẫn chưa rõ.")
RATING_COLUMNS = _split("dossier_id level criteria comment needs_attention created_at updated_at changes")
REVISION_COLUMNS = _split("dossier_id at level criteria comment channel ip_address")


def _columns(model, known):
    """`known` plus any column added to the model since this file was written (filled with the
    field's default), or BenchDataError when a new column has no default."""
    extra, values = [], []
    attnames = [f.attname for f in model._meta.concrete_fields]
    unknown = set(known) - set(attnames)
    if unknown:
        raise BenchDataError(f"{model.__name__} has no column(s) {', '.join(sorted(unknown))}: update bench_data.py.")
    for f in model._meta.concrete_fields:
        if f.attname in known or (f.primary_key and f.get_internal_type() in ("AutoField", "BigAutoField")):
            continue
        if f.has_default():
            value = f.get_default()
        elif f.null:
            value = None
        elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            value = timezone.now()
        elif f.blank and f.empty_strings_allowed:
            # A blank text column (e.g. the audit's chain_head and state_hash): empty, as in the
            # rows written before the column existed.
            value = ""
        else:
            raise BenchDataError(f"seed_bench cannot fill the new column {model.__name__}.{f.attname}: update it.")
        extra.append(f.attname)
        values.append(value)
    return tuple(known) + tuple(extra), tuple(values)


class _MemoCalendar(deadlines.WorkingCalendar):
    """The project's calendar with `is_working_day` memoised (the engine asks it millions of times)."""

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "_memo", {})

    def is_working_day(self, d):
        memo = self._memo
        answer = memo.get(d)
        if answer is None:
            answer = memo[d] = super().is_working_day(d)
        return answer


class _Clock:
    """Working days of the period and fast aware datetimes inside office sessions."""

    def __init__(self, spec, now):
        self.tz = timezone.get_default_timezone()
        self.now = timezone.localtime(now, self.tz)
        base = deadlines.get_calendar()
        self.calendar = _MemoCalendar(
            extra_days_off=base.extra_days_off, extra_working_days=base.extra_working_days, sessions=base.sessions
        )
        self.sessions = self.calendar.sessions
        self.session_minutes = [(e.hour * 60 + e.minute) - (s.hour * 60 + s.minute) for s, e in self.sessions]
        today = self.now.date()
        start = today - timedelta(days=round(365.25 * spec.years))
        self.days = []
        d = start
        while d <= today:
            if self.calendar.is_working_day(d):
                self.days.append(d)
            d += timedelta(days=1)
        if not self.days:
            raise BenchDataError("No working day in the period.")
        # Intake grows over the years: recent days weigh twice as much as the first ones.
        n = len(self.days)
        self.cum_weights = list(math.fsum((1 + i / n,)) for i in range(n))
        total = 0.0
        for i, w in enumerate(self.cum_weights):
            total += w
            self.cum_weights[i] = total
        self._due_cache = {}

    def at(self, day, minute_of_day):
        return datetime(day.year, day.month, day.day, minute_of_day // 60, minute_of_day % 60, tzinfo=self.tz)

    def in_session(self, rng, day):
        """(aware datetime, session index) at a random moment of an office session of `day`."""
        total = sum(self.session_minutes)
        pick = rng.randrange(total)
        for index, length in enumerate(self.session_minutes):
            if pick < length:
                start = self.sessions[index][0]
                return self.at(day, start.hour * 60 + start.minute + pick), index
            pick -= length
        raise AssertionError("unreachable")

    def received(self, rng, back=None):
        """A moment inside office hours: `back` working days before today, or anywhere in the period."""
        if back is None:
            index = bisect.bisect_left(self.cum_weights, rng.random() * self.cum_weights[-1])
        else:
            index = max(0, len(self.days) - 1 - back)
        index = min(index, len(self.days) - 1)
        while True:
            moment, session = self.in_session(rng, self.days[index])
            if moment < self.now or index == 0:
                return moment, session
            index -= 1

    def office(self, moment):
        """`moment` moved into an office session of its day when it falls outside one (the time
        within the session is derived from the moment itself, so it stays deterministic), and
        never later than now."""
        local = moment.astimezone(self.tz)
        minute = local.hour * 60 + local.minute
        for start, end in self.sessions:
            if start.hour * 60 + start.minute <= minute < end.hour * 60 + end.minute:
                return min(local, self.now)
        total = sum(self.session_minutes)
        pick = (minute * 7919 + local.second) % total
        for (start, _end), length in zip(self.sessions, self.session_minutes, strict=True):
            if pick < length:
                moved = self.at(local.date(), start.hour * 60 + start.minute + pick)
                return min(moved, self.now)
            pick -= length
        return min(local, self.now)

    def due(self, received_at, session, plan):
        after_cutoff = plan.cutoff is not None and received_at.time() > plan.cutoff
        key = (received_at.date(), session, plan.days, after_cutoff)
        due = self._due_cache.get(key)
        if due is None:
            due = deadlines.compute_due_at(received_at, plan.days, cutoff=plan.cutoff, calendar=self.calendar)
            due = timezone.localtime(due, self.tz)
            self._due_cache[key] = due
        return due

    def step_due(self, received_at, due_at, share):
        """The engine's step deadline: `share` % of the working time between intake and due."""
        start = deadlines.counting_start(received_at, self.calendar)
        total = deadlines.working_minutes_between(start, due_at, self.calendar)
        return deadlines.add_working_minutes(start, total * share / 100, self.calendar)


def _between(rng, start, end, low=0.0, high=1.0):
    span = (end - start).total_seconds()
    return start + timedelta(seconds=int(span * (low + (high - low) * rng.random())))


# Each kind of event the generator writes: (action, the (status, stage) it starts from, or None
# for the event that creates the dossier). Where it leads comes from the workflow table, exactly as
# `dossier_act` / `dossier_create` apply it.
_MOVE_SOURCES = {
    "submit": ("submit", None),
    "receive": ("receive", None),
    "accept": ("receive", (Status.SUBMITTED_ONLINE, Stage.INTAKE)),
    "intake_supplement": ("request_supplement", None),
    "assign": ("assign", (Status.RECEIVED, Stage.INTAKE)),
    "propose": ("propose_result", (Status.PROCESSING, Stage.PROCESSING)),
    "send_back": ("send_back", (Status.PROCESSING, Stage.APPROVAL)),
    "supplement": ("request_supplement", (Status.PROCESSING, Stage.PROCESSING)),
    "obligation": ("request_obligation", (Status.PROCESSING, Stage.PROCESSING)),
    "approve": ("approve", (Status.PROCESSING, Stage.APPROVAL)),
    "return": ("return_result", (Status.RESULT_READY, Stage.RETURN)),
    "refuse_at_intake": ("refuse", (Status.SUBMITTED_ONLINE, Stage.INTAKE)),
    "refuse": ("refuse", (Status.PROCESSING, Stage.PROCESSING)),
    "withdraw": ("withdraw", (Status.RECEIVED, Stage.INTAKE)),
    "stop": ("stop", (Status.AWAITING_SUPPLEMENT, Stage.INTAKE)),
}


def _move(action, source):
    """(action, from status, to status, from stage, to stage) of one move."""
    if source is None:
        status, stage = workflow.CREATION[action]
        return (action, None, int(status), "", str(stage))
    status, stage = workflow.outcome_of(action, *source)
    return (action, int(source[0]), int(status), str(source[1]), str(stage))


MOVES = {name: _move(*spec) for name, spec in _MOVE_SOURCES.items()}


class _Draft:
    """The state of one dossier while its history is generated."""

    def __init__(self, clock_, plan, channel, desk, specialist, leader):
        self.clock, self.plan, self.channel = clock_, plan, channel
        self.desk, self.specialist, self.leader = desk, specialist, leader
        self.submitted = self.received = self.due = self.finished = self.returned = None
        self.status, self.stage = Status.RECEIVED, Stage.INTAKE
        self.assignee = self.step_started = self.step_due = None
        self.supplement_requests = 0
        self.result_summary = self.returned_to = self.return_method = self.note = ""
        self.events = []  # (move, actor id, moment, step deadline, comment)

    def add(self, move, actor, at, step_due=None, comment=""):
        if actor is not None:
            # Officers act during office hours, never before the previous event.
            at = self.clock.office(at)
        if self.events:
            at = max(at, self.events[-1][2])
        self.events.append((move, actor, at, step_due, comment))
        _action, _from_status, to_status, _from_stage, to_stage = MOVES[move]
        self.status, self.stage = to_status, to_stage

    def fraction(self, low, high, rng, start=None, end=None):
        return _between(rng, start or self.received, end or self.due, low, high)


def _js(value):
    """JSON text of a value, as `json.dumps(..., ensure_ascii=False)` (cached: most values repeat)."""
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = _JS_CACHE.get(value)
    if text is None:
        text = json.dumps(value, ensure_ascii=False)
        if len(_JS_CACHE) < 100_000:
            _JS_CACHE[value] = text
    return text


_JS_CACHE = {}
CHAIN_COLUMNS = ("prev_hash", "hash")


class _Chain:
    """The per-dossier hash chain of DossierEvent (accounts/audit.py), computed while generating.

    A hand-written canonical form is ~5× faster than `audit.canonical_json`; it is checked against
    the real function on the first events and abandoned for it at the first difference, so a change
    in the audit module can only make seeding slower, never write a broken chain."""

    FIELDS = EVENT_COLUMNS[1:]  # the row without its id, in EVENT_COLUMNS order
    CHECKED = 500

    def __init__(self):
        from accounts import audit

        self.audit = audit
        self.fast = set(audit.EVENT_FIELDS) == set(self.FIELDS)
        self.checked = 0

    @staticmethod
    def _utc(moment):
        if moment is None:
            return "null"
        return '"' + moment.astimezone(dt_timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds") + '"'

    def canonical_fast(self, row):
        (
            _id,
            dossier,
            actor,
            action,
            from_status,
            to_status,
            from_stage,
            to_stage,
            comment,
            data,
            step_due,
            outcome,
            at,
        ) = row
        return (
            f'{{"action":{_js(action)},"actor_id":{"null" if actor is None else int(actor)},"comment":{_js(comment)},'
            f'"created_at":{self._utc(at)},"data":{data},"dossier_id":{int(dossier)},"from_stage":{_js(from_stage)},'
            f'"from_status":{"null" if from_status is None else int(from_status)},"step_due_at":{self._utc(step_due)},'
            f'"step_outcome":{_js(outcome)},"to_stage":{_js(to_stage)},"to_status":{int(to_status)}}}'
        )

    def canonical_exact(self, row):
        values = dict(zip(self.FIELDS, row[1:], strict=True))
        values["data"] = json.loads(values["data"])
        return self.audit.canonical_json(SimpleNamespace(**values), self.audit.EVENT_FIELDS)

    def hash(self, previous, row):
        if self.fast and self.checked < self.CHECKED:
            self.checked += 1
            if self.canonical_fast(row) != self.canonical_exact(row):
                self.fast = False
        text = self.canonical_fast(row) if self.fast else self.canonical_exact(row)
        return hashlib.sha256((previous + text).encode()).hexdigest()


class _Statistics:
    """The statistics rows (dossiers/stats.py) of the generated dossiers, computed in memory with
    `stats.replay`, the very function `stats.rebuild()` applies to each dossier, and written with
    the dossiers. `rebuild()` reloads every event through the ORM (about 1 ms per dossier); this
    costs a few µs. Checked against `replay` on the stored rows after writing (`check`).

    It also rates RATED_SHARE of the dossiers that ended (a `Rating` and its `RatingRevision`,
    written with the dossiers) and counts them as `stats.on_rating_saved` does: on the day the
    dossier ended (`stats.rating_deltas`)."""

    def __init__(self, rng=None, now=None):
        from reporting import stats

        self.stats = stats
        self.replay, self.counter_rows = stats.replay, stats._counter_rows
        self.totals = defaultdict(Counter)
        self.facts, self.spans = [], []
        self.fact_count = self.span_count = 0
        self.rng, self.now = rng or random.Random(0), now or timezone.now()
        self.ratings, self.revisions = [], []
        self.rating_count = 0

    @classmethod
    def available(cls):
        try:
            from reporting import stats
        except ImportError:
            return False
        return all(hasattr(stats, name) for name in ("replay", "_counter_rows", "StatFact", "StatSpan", "StatCounter"))

    def add(self, row, events, field_id):
        dossier = SimpleNamespace(
            pk=row[0], channel=row[13], competent_agency_id=row[6], procedure=SimpleNamespace(field_id=field_id)
        )
        # Every generated event states the dossier's final due date (its `data` is {"due_at": …, …});
        # replay reads nothing else from `data`.
        due = row[DUE_AT]
        data = {"due_at": due.isoformat() if due else None}
        history = [
            SimpleNamespace(action=e[3], from_status=e[4], to_status=e[5], created_at=e[12], data=data) for e in events
        ]
        fact, spans, deltas = self.replay(dossier, history)
        if fact is None:
            return
        self.facts.append(
            (fact.dossier_id, fact.agency_id, fact.field_id, fact.channel, fact.received_on, fact.finished_on)
            + (fact.finish_kind, fact.late)
        )
        self.spans.extend((s.dossier_id, s.start_on, s.end_on, s.paused, s.due_on) for s in spans)
        if fact.finished_on is not None and row[STATUS] in RATEABLE and self.rng.random() < RATED_SHARE:
            level = self.rate(row[0], row[RETURNED_AT] or row[FINISHED_AT] or events[-1][12])
            deltas.update(self.stats.rating_deltas(fact.finished_on, None, level))
        for (grain, day), values in self.counter_rows(deltas).items():
            self.totals[(grain, day, fact.agency_id, fact.field_id)].update(values)

    def rate(self, dossier_id, ended):
        """A rating (and its revision) of the dossier a little after it ended; returns its level."""
        rng = self.rng
        level = _weighted(rng, RATING_LEVELS)
        comment = rng.choice(RATING_COMMENTS) if level == "unsatisfied" and rng.random() < 0.6 else ""
        at = min(ended + timedelta(minutes=rng.randint(5, 3 * 24 * 60)), self.now)
        attention = level == "unsatisfied" or bool(comment)
        self.ratings.append((dossier_id, level, "{}", comment, attention, at, at, 0))
        self.revisions.append((dossier_id, at, level, "{}", comment, "lookup", None))
        return level

    def flush(self):
        stats = self.stats
        fact_columns = (
            "dossier_id",
            "agency_id",
            "field_id",
            "channel",
            "received_on",
            "finished_on",
            "finish_kind",
            "late",
        )
        _write(stats.StatFact, fact_columns, self.facts)
        _write(stats.StatSpan, ("dossier_id", "start_on", "end_on", "paused", "due_on"), self.spans)
        self.fact_count += len(self.facts)
        self.span_count += len(self.spans)
        self.facts, self.spans = [], []
        if self.ratings:
            from ratings.models import Rating, RatingRevision

            _write(Rating, RATING_COLUMNS, self.ratings)
            _write(RatingRevision, REVISION_COLUMNS, self.revisions)
            self.rating_count += len(self.ratings)
            self.ratings, self.revisions = [], []

    def finish(self):
        self.flush()
        names = None
        rows = []
        for (grain, day, agency_id, field_id), values in self.totals.items():
            if not any(values.values()):
                continue
            if names is None:
                names = sorted(
                    f.attname
                    for f in self.stats.StatCounter._meta.concrete_fields
                    if f.get_internal_type() == "IntegerField"
                )
            rows.append((grain, day, agency_id, field_id) + tuple(values.get(n, 0) for n in names))
        if rows:
            _write(self.stats.StatCounter, ("grain", "day", "agency_id", "field_id", *names), rows)
        return len(rows)

    def check(self, dossier_ids):
        """Compare the stored facts of some dossiers with `replay` on their stored events."""
        stats = self.stats
        for dossier in Dossier.objects.filter(pk__in=dossier_ids).select_related("procedure"):
            events = list(DossierEvent.objects.filter(dossier=dossier).order_by("created_at", "id"))
            fact, _spans, _deltas = stats.replay(dossier, events)
            stored = stats.StatFact.objects.filter(pk=dossier.pk).first()
            expected = None if fact is None else (fact.received_on, fact.finished_on, fact.finish_kind, fact.late)
            got = None if stored is None else (stored.received_on, stored.finished_on, stored.finish_kind, stored.late)
            if expected != got:
                return False
        return True


class _Generator:
    """Builds dossier rows and their events, chunk by chunk (see the module docstring)."""

    def __init__(self, spec, rng, plans, agencies, staff, now):
        self.rng, self.plans, self.staff = rng, plans, staff
        self.clock = _Clock(spec, now)
        self.now = self.clock.now
        self.agency_codes = {a.pk: a.code for a in agencies}
        self.communes = [a.pk for a in agencies if a.level == Agency.Level.COMMUNE] or [agencies[0].pk]
        # Communes differ in size: the first (the bench's "desk" agency) is the largest.
        self.commune_cum = _cumulative([1 / (i + 1) ** 0.7 for i in range(len(self.communes))])
        # A few procedures take most of the intake (Zipf); the real ones come first.
        self.procedure_cum = _cumulative([1 / (i + 1) ** 1.1 for i in range(len(plans))])
        self.long_plans = [i for i, p in enumerate(plans) if p.days >= 5] or list(range(len(plans)))
        self.long_cum = _cumulative([1 / (i + 1) ** 1.1 for i in range(len(self.long_plans))])
        self.category_cum = _cumulative([w for _c, w in CATEGORIES])
        self.sequences = {}
        self.names = [
            f"{_weighted(rng, FAMILY_NAMES)} {rng.choice(MIDDLE_NAMES)} {rng.choice(GIVEN_NAMES)}" for _ in range(4000)
        ]
        self.addresses = [f"Thôn {i % 25 + 1}, {PLACE_NAMES[i % len(PLACE_NAMES)]}, tỉnh Thử Tải" for i in range(500)]
        # Fail before generating anything when the models gained a column this file cannot fill.
        _columns(Dossier, DOSSIER_COLUMNS)
        event_columns = {f.attname for f in DossierEvent._meta.concrete_fields}
        self.chain = _Chain() if set(CHAIN_COLUMNS) <= event_columns else None
        self.event_columns = EVENT_COLUMNS + (CHAIN_COLUMNS if self.chain else ())
        _columns(DossierEvent, self.event_columns)
        self.pauses = []
        self.field_of = {p.id: p.field_id for p in plans}

    def pick(self, cum):
        return min(bisect.bisect_left(cum, self.rng.random() * cum[-1]), len(cum) - 1)

    def code(self, d, competent, receiving):
        """The dossier's code as `dossiers.codes` gives it: the Art. 28 code of the competent agency
        and the acceptance day once accepted, else a provisional reference of the receiving desk and
        the submission day (seeded dossiers accepted later keep no provisional reference)."""
        if d.received is not None:
            agency_id, moment, kind, prefix = competent, d.received, DossierSequence.Kind.CODE, ""
        else:
            agency_id, moment, kind, prefix = receiving, d.submitted, DossierSequence.Kind.REFERENCE, "TC-"
        key = (agency_id, moment.date(), kind)
        value = self.sequences[key] = self.sequences.get(key, 0) + 1
        return f"{prefix}{self.agency_codes[agency_id]}-{moment:%y%m%d}-{value:04d}"

    # -- histories ---------------------------------------------------------------------------

    def _receive(self, d, back):
        """Accept the dossier `back` working days ago (None: anywhere in the period)."""
        d.received, session = self.clock.received(self.rng, back)
        d.due = self.clock.due(d.received, session, d.plan)
        if d.channel == "online":
            d.submitted = d.received - timedelta(minutes=self.rng.randint(30, 2000))
            d.add("submit", None, d.submitted)
            d.add("accept", d.desk[0], d.received)
        else:
            d.submitted = d.received
            d.add("receive", d.desk[0], d.received)
        d.step_started = d.received

    def _assign(self, d, at, step_due):
        d.add("assign", d.desk[0], at, step_due)
        d.assignee = d.specialist
        d.step_started = at

    def _open(self, d, category):
        rng, clock_ = self.rng, self.clock
        days = int(math.ceil(d.plan.days))
        if category == "due_soon":
            self._receive(d, self._due_soon_back(d.plan, days))
        else:
            self._receive(d, days + rng.randint(1, 40) if category == "overdue" else rng.randint(0, max(0, days - 4)))
        intake_due = clock_.step_due(d.received, d.due, 10)
        roll = rng.random()
        if roll < 0.2:
            d.step_due = intake_due
            return
        self._assign(d, min(d.fraction(0.0, 0.08, rng), self.now), intake_due)
        d.step_due = clock_.step_due(d.received, d.due, 70)
        if roll > 0.8:
            at = min(_between(rng, d.step_started, max(d.step_started, self.now), 0.3, 1.0), self.now)
            d.add("propose", d.specialist[0], at, d.step_due)
            d.result_summary = d.plan.result
            d.step_started, d.step_due = at, clock_.step_due(d.received, d.due, 90)

    def _due_soon_back(self, plan, days):
        """How many working days ago a dossier of `plan` must have been accepted to be due within
        the next three days (the most recent such day; 0 if none)."""
        horizon = self.now + timedelta(days=3)
        for back in range(days + 1, -1, -1):
            index = max(0, len(self.clock.days) - 1 - back)
            day = self.clock.days[index]
            for session, (start, _end) in enumerate(self.clock.sessions):
                moment = self.clock.at(day, start.hour * 60 + start.minute)
                if moment < self.now and self.now <= self.clock.due(moment, session, plan) < horizon:
                    return back
        return 0

    def _paused(self, d, dossier_id):
        rng, clock_ = self.rng, self.clock
        missing = "\n".join(d.plan.missing)
        if rng.random() < 0.5:
            # Incomplete at the desk: the one intake supplement request; the clock has not started.
            d.channel = "in_person"
            d.submitted, _session = clock_.received(rng, rng.randint(0, 10))
            d.add("intake_supplement", d.desk[0], d.submitted, comment=missing)
            d.supplement_requests, d.step_started = 1, d.submitted
            return
        self._receive(d, rng.randint(0, 3))
        intake_due = clock_.step_due(d.received, d.due, 10)
        self._assign(d, min(d.fraction(0.0, 0.08, rng), self.now), intake_due)
        d.step_due = clock_.step_due(d.received, d.due, 70)
        at = min(_between(rng, d.step_started, self.now, 0.1, 0.9), self.now)
        if rng.random() < 0.5:
            d.add("supplement", d.specialist[0], at, comment=missing)
            d.supplement_requests = 1
            self.pauses.append((dossier_id, Pause.Kind.SUPPLEMENT, at))
        else:
            d.add("obligation", d.specialist[0], at, comment="Đề nghị nộp lệ phí theo quy định.")
            self.pauses.append((dossier_id, Pause.Kind.OBLIGATION, at))

    def _online_waiting(self, d):
        d.channel = "online"
        moment, _session = self.clock.received(self.rng, self.rng.randint(0, 1))
        d.submitted = min(moment, self.now - timedelta(minutes=5))
        d.add("submit", None, d.submitted)
        d.step_started = d.submitted
        d.step_due = deadlines.add_working_minutes(d.submitted, 8 * 60, self.clock.calendar)

    def _stopped(self, d):
        d.channel = "in_person"
        d.submitted, _session = self.clock.received(self.rng, None)
        d.add("intake_supplement", d.desk[0], d.submitted, comment="\n".join(d.plan.missing))
        d.supplement_requests = 1
        d.finished = min(d.submitted + timedelta(days=15, minutes=self.rng.randint(0, 600)), self.now)
        d.add("stop", d.leader[0], d.finished, comment="Quá thời hạn bổ sung hồ sơ (Điều 19.5).")
        d.step_started = d.finished

    def _closed(self, d, category):
        rng = self.rng
        if category == "refused" and d.channel == "online" and rng.random() < 0.4:
            # Refused before acceptance: no period ever started.
            moment, _session = self.clock.received(rng, None)
            d.submitted = moment - timedelta(minutes=rng.randint(30, 2000))
            d.finished = moment
            d.add("submit", None, d.submitted)
            d.add("refuse_at_intake", d.desk[0], d.finished, comment="Hồ sơ không thuộc thẩm quyền giải quyết.")
            d.step_started = d.finished
            return
        self._receive(d, None)
        roll = rng.random()
        if roll < 0.6:
            finished = d.fraction(0.2, 0.9, rng)  # early
        elif roll < 0.85:
            finished = _between(rng, max(d.received, d.due - timedelta(hours=3)), d.due)  # on the due day
        else:
            finished = d.due + timedelta(minutes=rng.randint(30, 12 * 24 * 60))  # late
        d.finished = max(d.received + timedelta(minutes=1), min(finished, self.now - timedelta(minutes=1)))
        # Step deadlines of finished dossiers: a linear wall-clock approximation (module docstring).
        span = d.due - d.received
        intake_due, processing_due, approval_due = (d.received + span * share for share in (0.1, 0.7, 0.9))
        if category == "withdrawn":
            d.add("withdraw", d.desk[0], d.finished, intake_due, comment="Công dân xin rút hồ sơ.")
            d.step_started = d.finished
            return
        self._assign(d, _between(rng, d.received, d.finished, 0.0, 0.15), intake_due)
        if category == "refused":
            d.add("refuse", d.leader[0], d.finished, processing_due, comment="Hồ sơ không đủ điều kiện theo quy định.")
            d.step_started = d.finished
            return
        d.add("propose", d.specialist[0], _between(rng, d.step_started, d.finished, 0.6, 0.95), processing_due)
        d.add("approve", d.leader[0], d.finished, approval_due)
        d.result_summary = d.plan.result
        d.step_started, d.step_due = d.finished, d.due
        if category == "returned":
            d.returned = max(d.finished, min(d.finished + timedelta(minutes=rng.randint(10, 7200)), self.now))
            d.return_method = "post" if d.channel == "post" else "in_person"
            d.returned_to = "applicant"
            d.add("return", d.desk[0], d.returned, d.due)
            d.step_started, d.step_due = d.returned, None

    # -- rows --------------------------------------------------------------------------------

    def dossier(self, dossier_id, event_id, category=None, plan_index=None, competent=None):
        """(dossier row, event rows) of one generated dossier."""
        rng = self.rng
        if category is None:
            category = CATEGORIES[self.pick(self.category_cum)][0]
        if plan_index is None:
            plan_index = self.long_plans[self.pick(self.long_cum)] if category == "running" else None
            plan_index = self.pick(self.procedure_cum) if plan_index is None else plan_index
        plan = self.plans[plan_index]
        if competent is None:
            competent = self.communes[self.pick(self.commune_cum)] if plan.commune_level else plan.agencies[0]
        receiving = competent
        if plan.commune_level and rng.random() < 0.05:
            receiving = rng.choice(self.communes)  # boundary-free intake (phi địa giới)
        roll = rng.random()
        channel = "online" if plan.online and roll < 0.35 else ("post" if roll > 0.97 else "in_person")
        staff = self.staff[competent]
        d = _Draft(
            self.clock,
            plan,
            channel,
            rng.choice(self.staff[receiving].reception),
            rng.choice(staff.specialist),
            staff.leader[0],
        )
        if category in ("due_soon", "overdue", "running"):
            self._open(d, category)
        elif category == "paused":
            self._paused(d, dossier_id)
        elif category == "online_waiting":
            self._online_waiting(d)
        elif category == "stopped":
            self._stopped(d)
        else:
            self._closed(d, category)
        return self.rows(d, dossier_id, event_id, competent, receiving)

    def rows(self, d, dossier_id, event_id, competent, receiving):
        rng = self.rng
        applicant = self.names[rng.randrange(len(self.names))]
        code = self.code(d, competent, receiving)
        row = (
            dossier_id,
            code,
            d.plan.id,
            1,
            d.plan.snapshot,
            receiving,
            competent,
            receiving,
            applicant,
            f"0{rng.randrange(10**10, 10**11)}",
            f"09{rng.randrange(10**7, 10**8)}",
            f"congdan{dossier_id}@example.vn" if rng.random() < 0.3 else "",
            self.addresses[rng.randrange(len(self.addresses))],
            d.channel,
            int(d.status),
            str(d.stage),
            d.plan.documents,
            d.note,
            d.submitted,
            d.received,
            d.due,
            None,
            d.finished,
            d.returned,
            d.assignee[0] if d.assignee else None,
            d.step_started,
            d.step_due,
            d.supplement_requests,
            d.result_summary,
            applicant if d.returned_to else "",
            d.return_method,
            hash_pin(code, bench_pin(code)),
            d.desk[0],
            d.submitted,
            d.events[-1][2],
            # One agency receives, handles and returns every benchmark dossier (no inter-agency steps).
            competent,
        )
        due_json = _js(d.due.isoformat() if d.due else None)
        plain = f'{{"due_at":{due_json}}}'
        events, previous = [], ""
        for offset, (move, actor, at, step_due, comment) in enumerate(d.events):
            action, from_status, to_status, from_stage, to_stage = MOVES[move]
            # The data column is written as canonical JSON (sorted keys, no spaces): the text the
            # audit chain hashes (accounts/audit.py) and the same value once stored as jsonb.
            if action == "request_supplement":
                data = f'{{"due_at":{due_json},"missing_documents":{_js(d.plan.missing)}}}'
            elif action == "assign":
                data = f'{{"assignee":{_js(d.specialist[1])},"due_at":{due_json}}}'
            elif action == "return_result":
                data = f'{{"collected_by":{_js(applicant)},"due_at":{due_json},"method":{_js(d.return_method)}}}'
            else:
                data = plain
            row_ = (
                event_id + offset,
                dossier_id,
                actor,
                action,
                from_status,
                to_status,
                from_stage,
                to_stage,
                comment,
                data,
                step_due,
                judge(at, step_due),
                at,
            )
            if self.chain is not None:
                digest = self.chain.hash(previous, row_)
                row_ += (previous, digest)
                previous = digest
            events.append(row_)
        return row, events

    def fifty_events(self, dossier_id, event_id):
        """A dossier in processing at the desk agency whose proposed result was sent back 24
        times: 50 events (the dossier-detail scenario)."""
        rng, competent = self.rng, self.communes[0]
        staff = self.staff[competent]
        d = _Draft(
            self.clock,
            self.plans[self.long_plans[0]],
            "in_person",
            staff.reception[0],
            staff.specialist[0],
            staff.leader[0],
        )
        self._receive(d, rng.randint(0, 2))
        end = max(self.now - timedelta(minutes=5), d.received + timedelta(hours=1))
        moments = sorted(_between(rng, d.received, end) for _ in range(49))
        self._assign(d, moments[0], None)
        for i in range(24):
            d.add("propose", d.specialist[0], moments[1 + 2 * i])
            comment = f"Lần {i + 1}: đề nghị bổ sung căn cứ pháp lý và sửa lại dự thảo kết quả."
            d.add("send_back", d.leader[0], moments[2 + 2 * i], comment=comment)
        d.step_started, d.step_due = moments[-1], self.clock.step_due(d.received, d.due, 70)
        d.note = BENCH_50_EVENTS_NOTE
        return self.rows(d, dossier_id, event_id, competent, competent)


def _cumulative(weights):
    total, result = 0.0, []
    for w in weights:
        total += w
        result.append(total)
    return result


# --- Writing ----------------------------------------------------------------------------------


def _check_chains(audit, code):
    """Verify, as `verify_audit_chain` would, the chains of the 50-event dossier and of a few
    others: a seeded chain that does not verify is a bug here, not tampering."""
    sample = list(bench_dossiers().filter(code=code).values_list("pk", flat=True))
    sample += list(bench_dossiers().order_by("-pk").values_list("pk", flat=True)[:20])
    for pk in sample:
        rows = DossierEvent.objects.filter(dossier_id=pk).order_by("id")
        _count, broken, reason = audit.verify_chain(rows, audit.EVENT_FIELDS)
        if broken is not None:
            raise BenchDataError(f"The seeded audit chain of dossier {pk} does not verify ({reason}).")


def _rebuild_statistics(log):
    """Recompute the statistics tables (dossiers/stats.py) from the seeded events, when that module
    exists: the dashboards read those tables, not the dossiers."""
    try:
        from reporting import stats
    except ImportError:
        log("  (no dossiers.stats module: statistics tables not rebuilt)")
        return 0
    rebuild = getattr(stats, "rebuild", None)
    return rebuild() if rebuild else 0


def _table(model):
    return connection.ops.quote_name(model._meta.db_table)


def _constraints_and_indexes(model):
    """(drop statements, create statements) of a table's secondary indexes, unique and foreign-key
    constraints (PostgreSQL). The primary key stays: other tables reference it."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype IN ('u', 'f') ORDER BY contype DESC, conname",
            [table],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
            "AND i.tablename = %s AND i.indexname NOT IN (SELECT conname FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype IN ('p', 'u', 'x')) ORDER BY i.indexname",
            [table, table],
        )
        indexes = cursor.fetchall()
    quoted = connection.ops.quote_name(table)
    drops = [f"ALTER TABLE {quoted} DROP CONSTRAINT {connection.ops.quote_name(n)}" for n, _t, _d in constraints]
    drops += [f"DROP INDEX {connection.ops.quote_name(n)}" for n, _d in indexes]
    creates = [
        f"ALTER TABLE {quoted} ADD CONSTRAINT {connection.ops.quote_name(n)} {d}" for n, t, d in constraints if t == "u"
    ]
    creates += [d for _n, d in indexes]
    creates += [
        f"ALTER TABLE {quoted} ADD CONSTRAINT {connection.ops.quote_name(n)} {d}" for n, t, d in constraints if t == "f"
    ]
    return drops, creates


def _copy(table, columns, rows):
    cols = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
        write = copy.write_row
        for row in rows:
            write(row)


def _bulk(model, columns, rows):
    objects = []
    for row in rows:
        values = dict(zip(columns, row, strict=True))
        for name in JSON_COLUMNS & values.keys():
            if isinstance(values[name], str):
                values[name] = json.loads(values[name])
        objects.append(model(**values))
    model.objects.bulk_create(objects, batch_size=500)


def _write(model, columns, rows):
    """Insert `rows` (tuples in `columns` order; JSON as text): COPY on PostgreSQL, else bulk_create."""
    columns, extra = _columns(model, columns)
    if extra:
        rows = (row + extra for row in rows)
    if connection.vendor == "postgresql":
        db_columns = {f.attname: f.column for f in model._meta.concrete_fields}
        _copy(_table(model), [db_columns[c] for c in columns], rows)
    else:
        _bulk(model, columns, rows)


def seed(spec, log=print):
    """Write the bench data described by `spec`. Raises BenchDataError when bench data exist."""
    if spec.dossiers < 0 or spec.procedures < 1 or spec.agencies < 3 or spec.years < 1:
        raise BenchDataError("Need dossiers ≥ 0, procedures ≥ 1, agencies ≥ 3 and years ≥ 1.")
    if bench_exists():
        raise BenchDataError("Bench data already exist in this database: run seed_bench with --reset to replace them.")
    rng = random.Random(spec.seed)
    now = spec.now or timezone.now()
    summary = Summary()
    timer = _Timer(summary, log)
    postgres = connection.vendor == "postgresql"
    rebuild = postgres and (
        spec.rebuild_indexes == "always" or (spec.rebuild_indexes == "auto" and spec.dossiers >= REBUILD_INDEXES_FROM)
    )
    started = clock.perf_counter()
    with transaction.atomic():
        with timer.step("agencies and officers"):
            agencies = create_agencies(spec)
            staff, users, memberships = create_officers(agencies)
        with timer.step("fields and procedures"):
            plans, documents, steps, links = create_catalogue(spec, rng, agencies)
        summary.counts.update(
            agencies=len(agencies),
            users=users,
            memberships=memberships,
            procedures=len(plans),
            required_documents=documents,
            workflow_steps=steps,
            procedure_agencies=links,
        )
        generator = _Generator(spec, rng, plans, agencies, staff, now)
        # The largest commune: the bench's reception desk (creates, transitions, the 50-event dossier).
        summary.desk_agency = generator.agency_codes[generator.communes[0]]
        drops, creates = [], []
        if rebuild:
            with timer.step("drop indexes and constraints"), connection.cursor() as cursor:
                # Foreign keys are deferred: fire the pending checks of the rows written so far,
                # or PostgreSQL refuses to alter the referenced tables.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
                for model in (Dossier, DossierEvent):
                    d, c = _constraints_and_indexes(model)
                    drops += d
                    creates += c
                for statement in drops:
                    cursor.execute(statement)
        if postgres:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
                cursor.execute(f"LOCK TABLE {_table(Dossier)}, {_table(DossierEvent)} IN SHARE ROW EXCLUSIVE MODE")
        next_dossier = (Dossier.objects.aggregate(m=Max("id"))["m"] or 0) + 1
        next_event = (DossierEvent.objects.aggregate(m=Max("id"))["m"] or 0) + 1
        statistics = _Statistics(random.Random(spec.seed + 1), now) if spec.stats and _Statistics.available() else None
        generated = written_events = 0
        generate_time = copy_time = 0.0
        with timer.step(f"dossiers and events ({'COPY' if postgres else 'bulk_create'})"):
            while generated < spec.dossiers:
                t0 = clock.perf_counter()
                dossier_rows, event_rows = [], []
                size = min(CHUNK, spec.dossiers - generated)
                for _ in range(size):
                    if generated == 0:
                        row, events = generator.fifty_events(next_dossier, next_event)
                        summary.fifty_events_code = row[1]
                    else:
                        row, events = generator.dossier(next_dossier, next_event)
                    dossier_rows.append(row)
                    event_rows.extend(events)
                    if statistics is not None:
                        statistics.add(row, events, generator.field_of[row[2]])
                    next_dossier += 1
                    next_event += len(events)
                    generated += 1
                t1 = clock.perf_counter()
                _write(Dossier, DOSSIER_COLUMNS, dossier_rows)
                _write(DossierEvent, generator.event_columns, event_rows)
                if statistics is not None:
                    statistics.flush()
                t2 = clock.perf_counter()
                generate_time += t1 - t0
                copy_time += t2 - t1
                written_events += len(event_rows)
                if spec.dossiers >= 4 * CHUNK:
                    log(f"    {generated:>10,} dossiers, {written_events:>11,} events")
        summary.timings["generate"] = round(generate_time, 3)
        summary.timings["write"] = round(copy_time, 3)
        if generator.pauses:
            Pause.objects.bulk_create(
                [Pause(dossier_id=d, kind=k, started_at=t) for d, k, t in generator.pauses], batch_size=2000
            )
        with timer.step("sequences"):
            DossierSequence.objects.bulk_create(
                [
                    DossierSequence(agency_id=a, day=d, kind=k, last_value=v)
                    for (a, d, k), v in generator.sequences.items()
                ],
                batch_size=5000,
            )
            with connection.cursor() as cursor:
                for statement in connection.ops.sequence_reset_sql(no_style(), [Dossier, DossierEvent]):
                    cursor.execute(statement)
        if rebuild:
            with timer.step("rebuild indexes and constraints"), connection.cursor() as cursor:
                cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
                for statement in creates:
                    cursor.execute(statement)
        if generator.chain is not None:
            with timer.step("check the audit chains"):
                _check_chains(generator.chain.audit, summary.fifty_events_code)
        if statistics is not None:
            with timer.step("statistics counters"):
                summary.counts["statistics_counters"] = statistics.finish()
                summary.counts["statistics_facts"] = statistics.fact_count
                summary.counts["statistics_spans"] = statistics.span_count
                summary.counts["ratings"] = statistics.rating_count
            sample = list(bench_dossiers().order_by("-pk").values_list("pk", flat=True)[:50])
            if not statistics.check(sample):
                log("  the in-memory statistics differ from dossiers.stats.replay: rebuilding them instead")
                statistics = None
        if spec.stats and statistics is None:
            with timer.step("statistics rebuild"):
                summary.counts["statistics_facts"] = _rebuild_statistics(log)
        if connection.vendor == "sqlite":
            # bulk_create stamps auto_now(_add) columns with the current time; restore history.
            bench_dossiers().update(created_at=Coalesce("submitted_at", "received_at"))
        summary.counts.update(dossiers=generated, events=written_events, pauses=len(generator.pauses))
        summary.counts["sequences"] = len(generator.sequences)
    if postgres:
        name = "analyze" if connection.in_atomic_block or not spec.vacuum else "vacuum analyze"
        with timer.step(name), connection.cursor() as cursor:
            big = f"{_table(Dossier)}, {_table(DossierEvent)}"
            from ratings.models import Rating, RatingRevision
            from reporting import stats

            # Every table the load wrote: the planner must not guess (autovacuum may be off or late).
            small = ", ".join(
                _table(m)
                for m in (
                    Procedure,
                    Agency,
                    Membership,
                    RequiredDocument,
                    WorkflowStep,
                    DossierSequence,
                    stats.StatFact,
                    stats.StatSpan,
                    stats.StatCounter,
                    Rating,
                    RatingRevision,
                )
            )
            if connection.in_atomic_block or not spec.vacuum:
                cursor.execute(f"ANALYZE {big}, {small}")
            else:
                # Vacuumed too, as autovacuum would after a bulk load: the visibility map lets
                # covering indexes answer without the table (the index's unsatisfied ratings).
                cursor.execute(f"VACUUM (ANALYZE) {big}, {small}")
    summary.timings["total"] = round(clock.perf_counter() - started, 3)
    return summary
