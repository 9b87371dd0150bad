"""Shared fixtures: a small, realistic procedure catalogue built with the ORM, and the language."""

from datetime import time
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from procedures import search
from procedures.models import Agency, Field, Procedure, RequiredDocument, Role, WorkflowStep


@pytest.fixture(autouse=True)
def _default_language():
    """Every test starts, and leaves the next one, in the site's default language (Vietnamese).

    The language middleware activates the visitor's language for the thread and, like Django's
    LocaleMiddleware, leaves it active after the response: without this, a test that browsed in
    English would make the direct calls of the tests after it speak English."""
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fresh_search_index():
    """Each test's catalogue is rolled back after it: the search index starts afresh (in
    production another process's change is seen within SEARCH_INDEX_CHECK_SECONDS)."""
    search.invalidate()
    yield


@pytest.fixture
def english_client():
    """A client that chose English with the language switch (the portal ignores Accept-Language)."""
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def catalogue(db):
    """A province, one commune centre, two fields and five published procedures.

    Returns a namespace: `province`, `commune`, `civil_status`, `certification`, and the
    procedures `birth` (1.001193 "Đăng ký khai sinh"), `birth_foreign`, `birth_again`,
    `marriage` and `certified_copy` (same-day, cut-off 15:00).
    """
    province = Agency.objects.create(code="000.00.00.H12", name="UBND tỉnh Điện Biên", level=Agency.Level.PROVINCE)
    commune = Agency.objects.create(
        code="000.01.21.H12", name="UBND xã Mường Phăng", level=Agency.Level.COMMUNE, parent=province
    )
    civil_status = Field.objects.create(code="HT", name="Hộ tịch")
    certification = Field.objects.create(code="CT", name="Chứng thực")

    def procedure(code, name, field, agencies, **extra):
        item = Procedure.objects.create(code=code, name=name, field=field, **extra)
        item.agencies.set(agencies)
        return item

    birth = procedure(
        "1.001193",
        "Đăng ký khai sinh",
        civil_status,
        [commune],
        service_level=Procedure.ServiceLevel.FULL,
        processing_days=Decimal("1"),
        processing_time_text="Ngay trong ngày làm việc; sau 15 giờ thì trả trong ngày làm việc tiếp theo.",
        fee_vnd=0,
        fee_text="Miễn lệ phí đăng ký khai sinh đúng hạn.",
        steps="Nộp hồ sơ tại Bộ phận Một cửa UBND xã.",
        result="Giấy khai sinh (bản chính).",
        legal_basis="Luật Hộ tịch số 60/2014/QH13.",
        source="Quyết định 1872/QĐ-BTP",
    )
    RequiredDocument.objects.create(
        procedure=birth, position=1, name="Tờ khai đăng ký khai sinh theo mẫu", originals=1, copies=0
    )
    RequiredDocument.objects.create(
        procedure=birth, position=2, name="Giấy chứng sinh", originals=1, copies=0, note="Hoặc văn bản thay thế."
    )
    for position, (name, role, share) in enumerate(
        [
            ("Tiếp nhận hồ sơ", Role.RECEPTION, 10),
            ("Thẩm định", Role.SPECIALIST, 60),
            ("Phê duyệt", Role.LEADER, 20),
            ("Trả kết quả", Role.RECEPTION, 10),
        ],
        start=1,
    ):
        WorkflowStep.objects.create(procedure=birth, position=position, name=name, role=role, time_share=share)

    birth_foreign = procedure(
        "1.001695",
        "Đăng ký khai sinh có yếu tố nước ngoài",
        civil_status,
        [commune, province],
        service_level=Procedure.ServiceLevel.PARTIAL,
        processing_days=Decimal("3"),
        fee_vnd=75000,
    )
    birth_again = procedure(
        "1.004884",
        "Đăng ký lại khai sinh",
        civil_status,
        [commune],
        service_level=Procedure.ServiceLevel.PARTIAL,
        processing_days=Decimal("5"),
        fee_vnd=5000,
    )
    marriage = procedure(
        "1.000894",
        "Đăng ký kết hôn",
        civil_status,
        [commune],
        service_level=Procedure.ServiceLevel.PARTIAL,
        processing_days=Decimal("5"),
        fee_vnd=0,
    )
    certified_copy = procedure(
        "2.000815",
        "Chứng thực bản sao từ bản chính",
        certification,
        [commune],
        service_level=Procedure.ServiceLevel.NONE,
        processing_days=Decimal("0"),
        same_day_cutoff=time(15, 0),
        fee_vnd=2000,
        fee_text="2.000 đồng/trang.",
    )
    return SimpleNamespace(
        province=province,
        commune=commune,
        civil_status=civil_status,
        certification=certification,
        birth=birth,
        birth_foreign=birth_foreign,
        birth_again=birth_again,
        marriage=marriage,
        certified_copy=certified_copy,
    )
