"""Test data builders. Catalogue rows are made with the ORM; dossiers are always brought to a
state through the real services (`dossier_create`, `dossier_act`), never by assigning fields."""

import itertools
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model

from dossiers.services import dossier_act, dossier_create
from procedures.models import Agency, Field, Membership, Procedure, RequiredDocument, Role, WorkflowStep

VN = ZoneInfo("Asia/Ho_Chi_Minh")
_seq = itertools.count(1)


def vn(*args):
    """An aware datetime in Vietnam time: vn(2026, 3, 2, 9, 0)."""
    return datetime(*args, tzinfo=VN)


def make_agency(code=None, name=None, level=Agency.Level.COMMUNE, parent=None):
    n = next(_seq)
    return Agency.objects.create(
        code=code or f"T{n:03d}.X{n:02d}",
        name=name or f"Trung tâm phục vụ hành chính công xã {n}",
        level=level,
        parent=parent,
    )


def make_field(code="HT", name="Hộ tịch"):
    return Field.objects.get_or_create(code=code, defaults={"name": name})[0]


def make_procedure(
    *,
    code=None,
    name="Đăng ký khai sinh",
    days="3",
    agencies=(),
    cutoff=None,
    field=None,
    workflow=None,
    documents=("Tờ khai đăng ký khai sinh", "Giấy chứng sinh"),
):
    n = next(_seq)
    procedure = Procedure.objects.create(
        code=code or f"9.{n:06d}",
        name=name,
        field=field or make_field(),
        processing_days=Decimal(str(days)),
        same_day_cutoff=cutoff,
        fee_text="Miễn lệ phí",
        published=True,
    )
    procedure.agencies.set(agencies)
    for i, doc in enumerate(documents):
        RequiredDocument.objects.create(procedure=procedure, position=i, name=doc, originals=1)
    steps = workflow or [
        ("Tiếp nhận hồ sơ", Role.RECEPTION, 10),
        ("Thẩm định, xử lý", Role.SPECIALIST, 60),
        ("Phê duyệt", Role.LEADER, 20),
        ("Trả kết quả", Role.RECEPTION, 10),
    ]
    for i, (step_name, role, share) in enumerate(steps):
        WorkflowStep.objects.create(procedure=procedure, position=i, name=step_name, role=role, time_share=share)
    return procedure


def make_user(username=None, *, agency=None, role=None, password="motcua-demo", **extra):  # noqa: S107 (the demo password)
    User = get_user_model()
    user = User.objects.create_user(
        username=username or f"user{next(_seq)}", password=password, email=extra.pop("email", ""), **extra
    )
    if agency is not None and role is not None:
        Membership.objects.create(user=user, agency=agency, role=role)
    return user


class Office:
    """One commune centre with one officer per role and a 3-day procedure it implements."""

    def __init__(self, code=None, days="3", **procedure_kwargs):
        self.agency = make_agency(code=code)
        self.procedure = make_procedure(agencies=[self.agency], days=days, **procedure_kwargs)
        prefix = self.agency.code.replace(".", "").lower()
        self.reception = make_user(f"{prefix}-tiepnhan", agency=self.agency, role=Role.RECEPTION)
        self.specialist = make_user(f"{prefix}-chuyenvien", agency=self.agency, role=Role.SPECIALIST)
        self.leader = make_user(f"{prefix}-lanhdao", agency=self.agency, role=Role.LEADER)
        self.supervisor = make_user(f"{prefix}-giamsat", agency=self.agency, role=Role.SUPERVISOR)

    def receive(self, now=None, **kwargs):
        """A dossier received at the desk; returns (dossier, pin)."""
        data = {
            "applicant_name": "Nguyễn Văn An",
            "applicant_id_number": "001099012345",
            "applicant_phone": "0912345678",
            "applicant_email": "an@example.com",
            "applicant_address": "Thôn 1",
        }
        data.update(kwargs)
        return dossier_create(actor=self.reception, procedure=data.pop("procedure", self.procedure), now=now, **data)

    def act(self, dossier, action, user=None, now=None, **params):
        user = user or {
            "assign": self.reception,
            "receive": self.reception,
            "return_result": self.reception,
            "withdraw": self.reception,
            "approve": self.leader,
            "send_back": self.leader,
            "stop": self.leader,
            "reassign": self.leader,
            "refuse": self.leader,
        }.get(action, self.specialist)
        return dossier_act(dossier=dossier, actor=user, action=action, now=now, **params)

    def to_approval(self, now=None):
        dossier, pin = self.receive(now=now)
        self.act(dossier, "assign", now=now)
        dossier = self.act(dossier, "propose_result", now=now, result="Cấp giấy khai sinh")
        return dossier, pin


def api_token(user):
    """A new API token (django-rest-knox) for `user`: the key to send as `Authorization: Token <key>`."""
    from knox.models import AuthToken

    return AuthToken.objects.create(user)[1]


def ward_office(**kwargs):
    """An Office whose centre is a ward's one-stop centre of Thái Nguyên: under the province in the
    agency tree, but belonging to the ward's People's Committee (its governing body), with its own
    place name, as the demo agencies are (the printed forms' heading and date line)."""
    province = Agency.objects.get_or_create(
        code="000.00.00.H55",
        defaults={
            "name": "Ủy ban nhân dân tỉnh Thái Nguyên",
            "level": Agency.Level.PROVINCE,
            "place_name": "Thái Nguyên",
        },
    )[0]
    office = Office(**kwargs)
    office.agency.name = "Trung tâm Phục vụ hành chính công phường Phan Đình Phùng"
    office.agency.parent = province
    office.agency.governing_body = "Ủy ban nhân dân phường Phan Đình Phùng"
    office.agency.place_name = "Phường Phan Đình Phùng"
    office.agency.address = "Số 1 đường Hoàng Văn Thụ, phường Phan Đình Phùng, tỉnh Thái Nguyên"
    office.agency.phone = "0208 000 2001"
    office.agency.save()
    return office


def name_officers(office):
    """Give the office's reception officer, specialist and leader Vietnamese names (printed forms)."""
    for user, (first, last) in [
        (office.reception, ("Trần Thị", "Bình")),
        (office.specialist, ("Lê Văn", "Cường")),
        (office.leader, ("Phạm Minh", "Đức")),
    ]:
        user.first_name, user.last_name = first, last
        user.save(update_fields=["first_name", "last_name"])


# Eight document names as long as the real catalogue's (procedures/data/procedures.json), some
# over two lines of a form's table: the printed forms must still fit one page.
LONG_DOCUMENT_NAMES = [
    "Tờ khai đăng ký khai sinh theo mẫu",
    "Giấy chứng sinh",
    "Biên bản xác nhận việc trẻ bị bỏ rơi",
    "Văn bản xác nhận của cơ sở y tế đã thực hiện kỹ thuật hỗ trợ sinh sản",
    "Văn bản ủy quyền theo quy định của pháp luật",
    "Giấy tờ tùy thân (hộ chiếu, thẻ căn cước, căn cước điện tử hoặc giấy tờ có ảnh còn giá trị sử dụng)",
    "Văn bản thỏa thuận của cha, mẹ về việc lựa chọn quốc tịch cho con",
    "Giấy tờ chứng minh việc trẻ em nhập cảnh hợp pháp vào Việt Nam và văn bản xác nhận của cơ quan công an về "
    "việc trẻ em đang cư trú tại Việt Nam",
]
