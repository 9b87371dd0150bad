"""Shared fixtures of the adversarial suites: two commune centres (own / other agency), each with
one officer per role and a dossier brought to "processing" through the real services, and a
provincial department (`dept`) that the own commune handed a dossier to (`own.handed`, waiting in
the department's queue) and consulted on its processing dossier (inter-agency routing); the
other commune never dealt with the department."""

from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dossiers.attachments import add_attachment
from dossiers.services import dossier_act
from notifications.models import Notification, NotificationChannel
from procedures.models import Agency, RequiredDocument, Role, WorkflowStep
from tests.factories import Office, api_token, make_procedure, make_user


@pytest.fixture
def offices(db):
    """`own` and `other` offices, a citizen (no membership) and a superuser admin. Each office
    has a dossier in processing (`dossier`) with a distinctive applicant name."""
    own = Office(code="000.11.22.H56")
    other = Office(code="000.33.44.H56")
    own.dossier, own.pin = own.receive(applicant_name="Trần Thị Sở Hữu")
    own.act(own.dossier, "assign")
    other.dossier, other.pin = other.receive(applicant_name="Lê Văn Người Khác")
    other.act(other.dossier, "assign")
    citizen = make_user("congdan")
    admin = make_user("quantri", is_superuser=True, is_staff=True)
    dept = Office(code="000.00.77.H56")
    Agency.objects.filter(pk=dept.agency.pk).update(level=Agency.Level.DEPARTMENT, name="Sở Nông nghiệp và Môi trường")
    crossing = make_procedure(
        name="Đăng ký biến động đất đai",
        agencies=[own.agency],
        workflow=[
            ("Tiếp nhận hồ sơ", Role.RECEPTION, 10),
            ("Thẩm định hồ sơ", Role.SPECIALIST, 50),
            ("Phê duyệt", Role.LEADER, 30),
            ("Trả kết quả", Role.RECEPTION, 10),
        ],
    )
    WorkflowStep.objects.filter(procedure=crossing, position__in=[1, 2]).update(agency=dept.agency)
    own.handed, own.handed_pin = own.receive(procedure=crossing, applicant_name="Đinh Thị Liên Thông")
    own.handed = own.act(own.handed, "hand_over", own.reception)
    own.dossier = dossier_act(
        dossier=own.dossier,
        actor=own.specialist,
        action="consult",
        comment="Đề nghị cho ý kiến",
        agencies=[dept.agency.code],
        days="2",
    )
    return SimpleNamespace(own=own, other=other, dept=dept, citizen=citizen, admin=admin)


def token_for(user):
    return api_token(user)


def all_rounder(office, username="daniang"):
    """An officer holding reception, specialist and leader roles in `office` (to exercise every write)."""
    user = make_user(f"{office.agency.code}-{username}", agency=office.agency, role=Role.RECEPTION)
    for role in (Role.SPECIALIST, Role.LEADER):
        user.memberships.create(agency=office.agency, role=role)
    return user


@pytest.fixture
def world(offices, client):
    """Objects of both agencies: dossiers (from `offices`), an attachment and a notification each."""
    pdf = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    for office in (offices.own, offices.other):
        office.attachment = add_attachment(
            dossier=office.dossier,
            uploaded_file=SimpleUploadedFile("to-khai.pdf", pdf),
            actor=office.reception,
        )
        office.notification = Notification.objects.create(
            dedupe_key=f"matrix-{office.agency.code}",
            kind="test",
            channel=NotificationChannel.IN_APP,
            dossier=office.dossier,
            recipient=office.specialist,
            subject=f"Hồ sơ {office.dossier.code}",
            body=office.dossier.applicant_name,
        )
        office.document = RequiredDocument.objects.filter(procedure=office.procedure).first()
    return offices
