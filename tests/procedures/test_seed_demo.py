"""`manage.py seed_demo`: the demo province, the real procedure catalogue, default workflows,
the demo users (DEBUG only) and idempotency."""

import json
from datetime import time
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import translation

from procedures.models import Agency, Field, Membership, Procedure, RequiredDocument, Role, WorkflowStep
from procedures.text import fold

DATA_DIR = Path(__file__).resolve().parents[2] / "procedures" / "data"
PASSWORD = "motcua-demo"
DEMO_ROLES = {
    "tiepnhan": Role.RECEPTION,
    "chuyenvien": Role.SPECIALIST,
    "lanhdao": Role.LEADER,
    "giamsat": Role.SUPERVISOR,
}

pytestmark = pytest.mark.django_db


def seed(*args):
    """Run the command in English (its msgids), so the checks on its output hold once translated."""
    out = StringIO()
    with translation.override("en"):
        call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def first_commune_code():
    rows = json.loads((DATA_DIR / "agencies.json").read_text(encoding="utf-8"))
    return next(row["code"] for row in rows if row["level"] == "commune")


def snapshot():
    """Everything a seed run could touch, in comparable form."""
    User = get_user_model()
    return {
        "counts": {
            model.__name__: model.objects.count()
            for model in (Agency, Field, Procedure, RequiredDocument, WorkflowStep, Membership, User)
        },
        "procedures": sorted(Procedure.objects.values_list("code", "version", "updated_at")),
        "agencies": sorted(
            Agency.objects.values_list(
                "code", "name", "parent__code", "level", "governing_body", "place_name", "address", "phone", "email"
            )
        ),
        "steps": sorted(
            WorkflowStep.objects.values_list("id", "procedure__code", "position", "name", "role", "time_share")
        ),
        "documents": sorted(RequiredDocument.objects.values_list("id", "procedure__code")),
        "users": sorted(
            User.objects.values_list("username", "password", "first_name", "last_name", "email", "is_staff")
        ),
        "memberships": sorted(Membership.objects.values_list("user__username", "agency__code", "role")),
    }


def test_seed_gives_the_demo_agencies_the_heading_and_place_name_of_their_forms():
    seed()
    commune = Agency.objects.get(code=first_commune_code())
    department = Agency.objects.filter(level=Agency.Level.DEPARTMENT).first()
    # A ward's centre belongs to the ward's People's Committee, not to the province above it in the tree.
    assert commune.heading_parent.startswith("Ủy ban nhân dân phường")
    assert commune.parent.level == Agency.Level.PROVINCE
    assert commune.dateline_place and commune.dateline_place != commune.parent.place_name
    assert department.heading_parent == "Ủy ban nhân dân tỉnh Thái Nguyên"
    assert department.dateline_place == "Thái Nguyên"  # inherited from the province


def test_seed_loads_at_least_60_published_procedures_in_at_least_8_fields():
    seed()
    published = Procedure.objects.filter(published=True)
    assert published.count() >= 60
    assert published.values("field").distinct().count() >= 8


@pytest.mark.parametrize(
    ("code", "field_code", "words"),
    [
        ("1.001193", "HT", "dang ky khai sinh"),
        ("1.000894", "HT", "dang ky ket hon"),
        ("1.000656", "HT", "dang ky khai tu"),
        ("2.000815", "CT", "chung thuc ban sao tu ban chinh"),
        ("1.004222", "CU", "dang ky thuong tru"),
        ("1.004194", "CU", "dang ky tam tru"),
        ("1.013978", "DD", "giay chung nhan quyen su dung dat"),
        ("1.001612", "HKD", "dang ky thanh lap ho kinh doanh"),
    ],
)
def test_named_procedures_exist_under_their_national_codes(code, field_code, words):
    seed()
    procedure = Procedure.objects.select_related("field").get(code=code)
    assert words in fold(procedure.name)
    assert procedure.field.code == field_code
    assert procedure.published


def test_same_day_procedures_have_zero_days_and_a_15h_cutoff_and_real_fees():
    seed()
    birth = Procedure.objects.get(code="1.001193")
    assert (birth.processing_days, birth.same_day_cutoff, birth.fee_vnd) == (Decimal("0"), time(15), 0)
    copy = Procedure.objects.get(code="2.000815")
    assert (copy.processing_days, copy.same_day_cutoff, copy.fee_vnd) == (Decimal("0"), time(15), 2000)
    residence = Procedure.objects.get(code="1.004222")
    assert residence.processing_days == Decimal("7")


def test_every_procedure_has_documents_a_source_agencies_and_the_default_workflow():
    seed()
    default = [
        ("Tiếp nhận hồ sơ", Role.RECEPTION, 10),
        ("Thẩm định, xử lý", Role.SPECIALIST, 60),
        ("Phê duyệt", Role.LEADER, 20),
        ("Trả kết quả", Role.RECEPTION, 10),
    ]
    for procedure in Procedure.objects.prefetch_related("documents", "agencies", "workflow_steps"):
        assert 1 <= len(procedure.documents.all()) <= 6, procedure.code
        assert procedure.source.strip(), procedure.code
        assert procedure.agencies.all(), procedure.code
        steps = [(step.name, step.role, step.time_share) for step in procedure.workflow_steps.all()]
        if procedure.code in INTERAGENCY:
            continue  # test_the_land_procedures_cross_to_the_department
        assert steps == default, procedure.code


# The demo's inter-agency procedures (issue 16): their workflow crosses to the provincial department.
INTERAGENCY = ("1.013978", "1.012817")


def test_the_land_procedures_cross_to_the_department_and_its_officers_exist(settings):
    settings.DEBUG = True
    seed()
    department = Agency.objects.get(code="000.00.03.H55")
    for code in INTERAGENCY:
        steps = list(Procedure.objects.get(code=code).workflow_steps.order_by("position"))
        assert [s.agency for s in steps] == [None, None, department, department, None], code
        assert sum(s.time_share for s in steps) == 100
    for username, role in (("chuyenvien_so", Role.SPECIALIST), ("lanhdao_so", Role.LEADER)):
        user = get_user_model().objects.get(username=username)
        assert user.check_password("motcua-demo")
        assert list(user.memberships.values_list("agency__code", "role")) == [(department.code, role)]
    before = list(WorkflowStep.objects.order_by("pk").values_list("pk", "agency_id"))
    seed()  # idempotent, the steps' agencies included
    assert list(WorkflowStep.objects.order_by("pk").values_list("pk", "agency_id")) == before


def test_agencies_form_one_province_with_a_department_and_three_commune_centres():
    seed()
    province = Agency.objects.get(level=Agency.Level.PROVINCE)
    children = Agency.objects.filter(parent=province)
    assert children.filter(level=Agency.Level.DEPARTMENT).count() >= 1
    assert children.filter(level=Agency.Level.COMMUNE).count() >= 3
    # Commune-level procedures are offered by every commune centre, province-level ones by provincial units.
    communes = set(children.filter(level=Agency.Level.COMMUNE))
    birth = Procedure.objects.get(code="1.001193")
    assert communes <= set(birth.agencies.all())
    for procedure in Procedure.objects.filter(level=Procedure.Level.PROVINCE):
        assert all(agency.level == Agency.Level.DEPARTMENT for agency in procedure.agencies.all()), procedure.code


def test_with_debug_demo_users_get_their_roles_in_the_demo_commune_and_can_log_in(settings, client):
    settings.DEBUG = True
    seed()
    User = get_user_model()
    commune = Agency.objects.get(code=first_commune_code())
    for username, role in DEMO_ROLES.items():
        user = User.objects.get(username=username)
        assert list(user.memberships.values_list("agency", "role")) == [(commune.pk, role)]
        assert user.email == f"{username}@motcua.local"
        assert user.get_full_name() == user.first_name and not user.last_name  # one "Họ và tên" field
        assert not user.is_staff
        assert client.login(username=username, password=PASSWORD)
        client.logout()
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert client.login(username="admin", password=PASSWORD)


def test_without_debug_no_demo_users_are_created(settings):
    settings.DEBUG = False
    out = seed()
    assert not get_user_model().objects.exists()
    assert not Membership.objects.exists()
    assert "Demo users skipped" in out
    assert Procedure.objects.count() >= 60  # the catalogue is still loaded


def test_a_second_run_changes_nothing_and_says_so(settings):
    settings.DEBUG = True
    first = seed()
    before = snapshot()
    second = seed()
    assert snapshot() == before
    assert "Nothing changed" in second
    assert "Nothing changed" not in first


def test_a_rerun_restores_edited_demo_rows_and_bumps_the_procedure_version(settings):
    settings.DEBUG = True
    seed()
    Agency.objects.filter(code=first_commune_code()).update(name="Đã sửa")
    procedure = Procedure.objects.get(code="1.000894")
    procedure.fee_vnd = 123
    procedure.save()
    out = seed()
    assert Agency.objects.get(code=first_commune_code()).name != "Đã sửa"
    procedure.refresh_from_db()
    assert (procedure.fee_vnd, procedure.version) == (0, 2)
    assert "Agencies: 0 created, 1 updated" in out
    assert "Procedures: 0 created, 1 updated" in out


def test_a_rerun_keeps_a_custom_workflow(settings):
    seed()
    procedure = Procedure.objects.get(code="1.001193")
    procedure.workflow_steps.all().delete()
    WorkflowStep.objects.create(procedure=procedure, position=1, name="Một bước", role=Role.RECEPTION, time_share=100)
    seed()
    assert list(procedure.workflow_steps.values_list("name", "time_share")) == [("Một bước", 100)]


def test_existing_passwords_are_kept_unless_reset_is_asked_for(settings, client):
    settings.DEBUG = True
    seed()
    user = get_user_model().objects.get(username="tiepnhan")
    user.set_password("changed-by-officer")
    user.save()
    seed()
    assert client.login(username="tiepnhan", password="changed-by-officer")
    seed("--reset-passwords")
    assert client.login(username="tiepnhan", password=PASSWORD)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"code": "X.1", "name": "Xã", "parent_code": "NO.SUCH", "level": "commune"}, "unknown parent code NO.SUCH"),
        ({"code": "X.1", "name": "Xã", "level": "village"}, "agency 1, level"),
        ({"code": "X.1", "name": "Xã", "level": "commune", "email": "not-an-address"}, "agency 1, email"),
        ({"name": "Xã", "level": "commune"}, "agency 1, code"),
    ],
)
def test_a_bad_agencies_file_is_a_clear_error_and_writes_nothing(tmp_path, row, message):
    bad = tmp_path / "agencies.json"
    bad.write_text(json.dumps([row]), encoding="utf-8")
    with pytest.raises(CommandError, match=message):
        seed("--agencies", str(bad))
    assert not Agency.objects.exists()
    assert not Procedure.objects.exists()


def test_an_unreadable_agencies_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        seed("--agencies", str(tmp_path / "missing.json"))
    (tmp_path / "broken.json").write_text("[{", encoding="utf-8")
    with pytest.raises(CommandError, match="not valid JSON"):
        seed("--agencies", str(tmp_path / "broken.json"))


def test_a_bad_procedure_row_rolls_the_whole_seed_back(tmp_path):
    rows = json.loads((DATA_DIR / "procedures.json").read_text(encoding="utf-8"))[:2]
    rows[1]["agency_codes"] = "NO.SUCH"
    bad = tmp_path / "procedures.json"
    bad.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(CommandError, match="unknown agency code NO.SUCH"):
        seed("--procedures", str(bad))
    assert not Agency.objects.exists()
    assert not Procedure.objects.exists()
