"""The catalogue's Django admin: pages, search, actions, version bumps, the import page and the
officer roles on the user admin."""

from datetime import date
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from procedures.models import (
    Agency,
    CalendarOverride,
    Field,
    Membership,
    Procedure,
    RequiredDocument,
    Role,
    WorkflowStep,
)

DATA = Path(__file__).parent / "data"
IMPORT_URL = "admin:procedures_procedure_import"


@pytest.fixture
def catalogue(db):
    province = Agency.objects.create(code="000.00.00.H40", name="Ủy ban nhân dân tỉnh", level=Agency.Level.PROVINCE)
    department = Agency.objects.create(
        code="000.00.21.H40", name="Sở Tư pháp", level=Agency.Level.DEPARTMENT, parent=province
    )
    commune = Agency.objects.create(
        code="000.21.30.H40",
        name="Ủy ban nhân dân xã Hưng Nguyên",
        level=Agency.Level.COMMUNE,
        parent=province,
        effective_from=date(2025, 7, 1),
    )
    civil_status = Field.objects.create(code="HOTICH", name="Hộ tịch")
    certification = Field.objects.create(code="CHUNGTHUC", name="Chứng thực")
    birth = Procedure.objects.create(
        code="1.001193", name="Đăng ký khai sinh", field=civil_status, processing_days=Decimal("0")
    )
    birth.agencies.set([commune])
    RequiredDocument.objects.create(procedure=birth, position=1, name="Tờ khai đăng ký khai sinh")
    RequiredDocument.objects.create(procedure=birth, position=2, name="Giấy chứng sinh")
    WorkflowStep.objects.create(procedure=birth, position=1, name="Tiếp nhận", role=Role.RECEPTION, time_share=30)
    WorkflowStep.objects.create(procedure=birth, position=2, name="Phê duyệt", role=Role.LEADER, time_share=70)
    copy = Procedure.objects.create(
        code="2.000815", name="Chứng thực bản sao từ bản chính", field=certification, processing_days=Decimal("0")
    )
    hidden = Procedure.objects.create(
        code="2.000884", name="Chứng thực chữ ký", field=certification, processing_days=Decimal("0"), published=False
    )
    CalendarOverride.objects.create(date=date(2026, 4, 25), kind=CalendarOverride.Kind.WORKING_DAY, note="Làm bù")
    return {
        "province": province,
        "department": department,
        "commune": commune,
        "birth": birth,
        "copy": copy,
        "hidden": hidden,
    }


def english_client():
    """A client that chose English with the language switch (the portal ignores Accept-Language)."""
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser("quantri", "quantri@example.vn", "mat-khau-dai-123")


@pytest.fixture
def client_en(superuser):
    client = english_client()
    client.force_login(superuser)
    return client


class _FormFields(HTMLParser):
    """The fields a browser would submit from the form with id `form_id` (no file inputs)."""

    def __init__(self, form_id):
        super().__init__()
        self.form_id, self.inside, self.fields = form_id, False, []
        self.select = self.textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        if not self.inside or "name" not in attrs and tag != "option":
            return
        if tag == "input" and attrs.get("type") in ("checkbox", "radio"):
            if "checked" in attrs:
                self.fields.append((attrs["name"], attrs.get("value", "on")))
        elif tag == "input" and attrs.get("type") not in ("submit", "button", "file", "image"):
            self.fields.append((attrs["name"], attrs.get("value", "")))
        elif tag == "select":
            self.select = attrs["name"]
        elif tag == "option" and self.select and "selected" in attrs:
            self.fields.append((self.select, attrs.get("value", "")))
        elif tag == "textarea":
            self.textarea = [attrs["name"], ""]

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "select":
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            name, value = self.textarea
            self.fields.append((name, value.removeprefix("\r\n").removeprefix("\n")))
            self.textarea = None
        elif tag == "form":
            self.inside = False


def form_data(response, form_id):
    parser = _FormFields(form_id)
    parser.feed(response.content.decode())
    data = {}
    for name, value in parser.fields:
        data.setdefault(name, []).append(value)
    return data


# --- Pages ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:procedures_agency_changelist",
        "admin:procedures_agency_add",
        "admin:procedures_membership_changelist",
        "admin:procedures_membership_add",
        "admin:procedures_field_changelist",
        "admin:procedures_field_add",
        "admin:procedures_procedure_changelist",
        "admin:procedures_procedure_add",
        "admin:procedures_calendaroverride_changelist",
        "admin:procedures_calendaroverride_add",
        "admin:auth_user_changelist",
        "admin:auth_user_add",
    ],
)
def test_admin_list_and_add_pages_respond(client_en, catalogue, url_name):
    url = reverse(url_name)

    assert client_en.get(url).status_code == 200
    if url.endswith("/add/"):
        return
    assert client_en.get(url, {"q": "khai sinh"}).status_code == 200


def test_change_pages_respond(client_en, catalogue, superuser):
    membership = Membership.objects.create(user=superuser, agency=catalogue["commune"], role=Role.LEADER)
    objects = [
        catalogue["commune"],
        catalogue["birth"],
        catalogue["birth"].field,
        membership,
        CalendarOverride.objects.get(),
        superuser,
    ]
    for obj in objects:
        url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
        assert client_en.get(url).status_code == 200, url


def test_changelist_filters_respond(client_en, catalogue):
    url = reverse("admin:procedures_procedure_changelist")
    for params in [
        {"published__exact": "0"},
        {"level__exact": "commune"},
        {"service_level__exact": "none"},
        {"field__id__exact": catalogue["birth"].field_id},
        {"agencies__id__exact": catalogue["commune"].pk},
    ]:
        response = client_en.get(url, params)
        assert response.status_code == 200, params
    agencies = client_en.get(reverse("admin:procedures_agency_changelist"), {"active": "yes"})
    assert [agency.code for agency in agencies.context["cl"].result_list] == [
        "000.00.00.H40",
        "000.00.21.H40",
        "000.21.30.H40",
    ]


def test_agency_list_links_to_sub_agencies(client_en, catalogue):
    province = catalogue["province"]

    response = client_en.get(reverse("admin:procedures_agency_changelist"))

    assert f"?parent__id__exact={province.pk}" in response.content.decode()
    children = client_en.get(reverse("admin:procedures_agency_changelist"), {"parent__id__exact": province.pk})
    assert {agency.code for agency in children.context["cl"].result_list} == {"000.00.21.H40", "000.21.30.H40"}


def test_procedure_search_finds_names_typed_without_diacritics(client_en, catalogue):
    url = reverse("admin:procedures_procedure_changelist")

    by_folded_name = client_en.get(url, {"q": "dang ky khai sinh"})
    by_code = client_en.get(url, {"q": "2.000815"})

    assert [p.code for p in by_folded_name.context["cl"].result_list] == ["1.001193"]
    assert [p.code for p in by_code.context["cl"].result_list] == ["2.000815"]


# --- Actions -------------------------------------------------------------------------------------


def test_publish_and_unpublish_actions_change_only_what_differs_and_say_how_many(client_en, catalogue):
    url = reverse("admin:procedures_procedure_changelist")
    everything = [str(pk) for pk in Procedure.objects.values_list("pk", flat=True)]

    response = client_en.post(url, {"action": "unpublish", "_selected_action": everything}, follow=True)

    assert "2 procedures were unpublished." in [str(message) for message in response.context["messages"]]
    assert not Procedure.objects.filter(published=True).exists()
    hidden = catalogue["hidden"]
    response = client_en.post(url, {"action": "publish", "_selected_action": [str(hidden.pk)]}, follow=True)
    assert "1 procedure was published." in [str(message) for message in response.context["messages"]]
    assert list(Procedure.objects.filter(published=True).values_list("code", flat=True)) == ["2.000884"]
    # Only the procedures that changed are logged: "hidden" was already unpublished.
    assert LogEntry.objects.filter(object_id=str(hidden.pk)).count() == 1
    assert LogEntry.objects.filter(object_id=str(catalogue["birth"].pk)).count() == 1


# --- Editing a procedure -------------------------------------------------------------------------


def change_url(procedure):
    return reverse("admin:procedures_procedure_change", args=[procedure.pk])


def test_saving_an_unchanged_procedure_keeps_its_version(client_en, catalogue):
    birth = catalogue["birth"]
    data = form_data(client_en.get(change_url(birth)), "procedure_form")

    response = client_en.post(change_url(birth), data)

    assert response.status_code == 302
    birth.refresh_from_db()
    assert birth.version == 1


def test_changing_a_procedure_or_only_its_documents_bumps_the_version_once(client_en, catalogue):
    birth = catalogue["birth"]
    data = form_data(client_en.get(change_url(birth)), "procedure_form")
    data["processing_days"] = ["1"]

    assert client_en.post(change_url(birth), data).status_code == 302
    birth.refresh_from_db()
    assert (birth.version, birth.processing_days) == (2, Decimal("1"))

    data = form_data(client_en.get(change_url(birth)), "procedure_form")
    data["documents-1-name"] = ["Giấy chứng sinh (bản chính)"]

    assert client_en.post(change_url(birth), data).status_code == 302
    birth.refresh_from_db()
    assert birth.version == 3
    assert list(birth.documents.values_list("name", flat=True)) == [
        "Tờ khai đăng ký khai sinh",
        "Giấy chứng sinh (bản chính)",
    ]


def test_workflow_shares_must_add_up_to_100(client_en, catalogue):
    birth = catalogue["birth"]
    data = form_data(client_en.get(change_url(birth)), "procedure_form")
    data["workflow_steps-1-time_share"] = ["50"]

    response = client_en.post(change_url(birth), data)

    assert response.status_code == 200
    assert "The workflow shares add up to 80, not 100." in response.content.decode()
    assert list(birth.workflow_steps.values_list("time_share", flat=True)) == [30, 70]
    birth.refresh_from_db()
    assert birth.version == 1


def test_agency_cannot_be_placed_under_its_own_sub_agency(client_en, catalogue):
    province, commune = catalogue["province"], catalogue["commune"]
    url = reverse("admin:procedures_agency_change", args=[province.pk])
    data = form_data(client_en.get(url), "agency_form")
    data["parent"] = [str(commune.pk)]

    response = client_en.post(url, data)

    assert response.status_code == 200
    assert "An agency cannot be placed under itself or one of its sub-agencies." in response.content.decode()
    province.refresh_from_db()
    assert province.parent is None


def test_agency_admin_edits_the_governing_body_and_place_name_printed_on_the_forms(client_en, catalogue):
    commune = catalogue["commune"]
    url = reverse("admin:procedures_agency_change", args=[commune.pk])
    page = client_en.get(url)
    assert "Printed forms" in page.content.decode()
    data = form_data(page, "agency_form")
    data["governing_body"] = ["Ủy ban nhân dân xã Mường Phăng"]
    data["place_name"] = ["Mường Phăng"]

    response = client_en.post(url, data)

    assert response.status_code == 302
    commune.refresh_from_db()
    assert commune.heading_parent == "Ủy ban nhân dân xã Mường Phăng"  # no longer the province's name
    assert commune.dateline_place == "Mường Phăng"


# --- Users and their roles -------------------------------------------------------------------------


def test_user_admin_manages_officer_roles_inline(client_en, catalogue):
    officer = get_user_model().objects.create_user("tiepnhan", password="mat-khau-dai-123")
    url = reverse("admin:auth_user_change", args=[officer.pk])
    data = form_data(client_en.get(url), "user_form")
    data.update(
        {
            "memberships-TOTAL_FORMS": ["1"],
            "memberships-0-agency": [str(catalogue["commune"].pk)],
            "memberships-0-role": [Role.RECEPTION],
        }
    )

    response = client_en.post(url, data)

    assert response.status_code == 302
    assert list(officer.memberships.values_list("agency__code", "role")) == [("000.21.30.H40", "reception")]
    by_role = client_en.get(reverse("admin:auth_user_changelist"), {"memberships__role": "reception"})
    assert [user.username for user in by_role.context["cl"].result_list] == ["tiepnhan"]


# --- Import page ---------------------------------------------------------------------------------


def upload(name="procedures.csv", content=None):
    return SimpleUploadedFile(name, content if content is not None else (DATA / "procedures.csv").read_bytes())


def test_changelist_links_to_the_import_page(client_en, catalogue):
    response = client_en.get(reverse("admin:procedures_procedure_changelist"))

    assert reverse(IMPORT_URL) in response.content.decode()


def test_import_page_imports_the_file_and_shows_the_report(client_en, catalogue):
    assert client_en.get(reverse(IMPORT_URL)).status_code == 200

    response = client_en.post(reverse(IMPORT_URL), {"file": upload()})

    assert response.status_code == 200
    report = response.context["report"]
    # The fixture catalogue already holds 3 of the file's procedures (with other details): updated.
    assert (report.created, report.updated, report.unchanged) == (14, 3, 0)
    assert Procedure.objects.filter(code__in=["1.000894", "1.000593"]).count() == 2
    html = response.content.decode()
    assert '<td class="report-created">14</td>' in html
    assert '<td class="report-updated">3</td>' in html
    assert '<td class="report-errors">3</td>' in html
    assert "<td>13</td><td>1.000656</td><td>duplicate code in file, first seen on line 4</td>" in html
    assert "unknown agency code XYZ.99" in html
    assert "workflow shares add up to 80, not 100" in html
    assert "Ignored unknown columns: stt" in html


def test_import_page_dry_run_shows_the_report_and_saves_nothing(client_en, catalogue):
    response = client_en.post(reverse(IMPORT_URL), {"file": upload(), "dry_run": "on"})

    assert response.status_code == 200
    assert "Dry run: nothing was saved." in response.content.decode()
    assert response.context["report"].created == 14
    assert Procedure.objects.count() == 3


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("procedures.txt", b"code,name", "Unsupported file type “.txt”"),
        ("procedures.csv", b"code,name\n1,a\n", "Missing required column(s): field_code, processing_days."),
        ("procedures.xlsx", b"not a workbook", "The file is not a readable XLSX workbook"),
    ],
)
def test_import_page_shows_a_form_error_for_an_unreadable_file(client_en, catalogue, name, content, message):
    response = client_en.post(reverse(IMPORT_URL), {"file": upload(name, content)})

    assert response.status_code == 200
    assert response.context["report"] is None
    assert message in response.context["form"].errors["file"][0]
    assert Procedure.objects.count() == 3


def test_import_page_needs_the_add_procedure_permission(catalogue):
    clerk = get_user_model().objects.create_user("xem", password="mat-khau-dai-123", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_procedure"))
    client = english_client()
    client.force_login(clerk)

    changelist = client.get(reverse("admin:procedures_procedure_changelist"))

    assert changelist.status_code == 200
    assert reverse(IMPORT_URL) not in changelist.content.decode()
    assert client.get(reverse(IMPORT_URL)).status_code == 403
    assert client.post(reverse(IMPORT_URL), {"file": upload()}).status_code == 403
    assert Procedure.objects.count() == 3


def test_agency_autocomplete_for_procedures_finds_agencies(client_en, catalogue):
    response = client_en.get(
        reverse("admin:autocomplete"),
        {"app_label": "procedures", "model_name": "procedure", "field_name": "agencies", "term": "Hưng Nguyên"},
    )

    assert response.status_code == 200
    assert [result["id"] for result in response.json()["results"]] == [str(catalogue["commune"].pk)]
