"""Attachments: accepted by content (PDF, JPEG, PNG, DOCX, XLSX), refused otherwise with a readable
reason, stored under a random name with their hash and an "attach" event; downloads only for
dossiers the caller can see."""

import hashlib
import io
import struct
import zipfile
import zlib
from pathlib import Path

import openpyxl
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from rest_framework.test import APIClient

from dossiers.attachments import AttachmentRejected, add_attachment, sanitize_name, validate_upload
from dossiers.models import Attachment, DossierEvent
from tests.factories import Office

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"


def png_bytes():
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b"")
    )


def ooxml_bytes(main_type, extra_files=()):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/word/document.xml" ContentType="{main_type}"/></Types>',
        )
        archive.writestr("word/document.xml", "<w:document/>")
        for name in extra_files:
            archive.writestr(name, b"\x00" * 16)
    return buffer.getvalue()


def plain_zip():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a document")
    return buffer.getvalue()


def xlsx_bytes():
    workbook = openpyxl.Workbook()
    workbook.active["A1"] = "Danh sách"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload(name, content, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.fixture
def office(db):
    return Office(code="H56.33")


@pytest.fixture
def other(db):
    return Office(code="H56.34")


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def attachments_url(dossier, pk=None):
    base = f"/api/v1/dossiers/{dossier.code}/attachments/"
    return f"{base}{pk}/" if pk else base


def stored_files():
    root = Path(settings.MEDIA_ROOT)
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


# --- Validation by content -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("to-khai.pdf", PDF, ("application/pdf", "pdf")),
        ("TO-KHAI.PDF", PDF, ("application/pdf", "pdf")),
        ("anh.jpg", JPEG, ("image/jpeg", "jpg")),
        ("anh.jpeg", JPEG, ("image/jpeg", "jpg")),
        ("anh.png", png_bytes(), ("image/png", "png")),
        (
            "don.docx",
            ooxml_bytes(DOCX_MAIN),
            ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
        ),
        ("bang.xlsx", xlsx_bytes(), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx")),
    ],
)
def test_allowed_files_are_recognised_by_their_content(name, content, expected):
    assert validate_upload(upload(name, content)) == expected


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64, "not accepted"),
        ("trang.html", b"<!doctype html><script>alert(1)</script>", "not accepted"),
        ("trang.pdf", b"<html><body>not a pdf</body></html>", "not accepted"),
        ("hinh.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "not accepted"),
        ("run.sh", b"#!/bin/sh\nrm -rf /\n", "not accepted"),
        ("giay-to.pdf.exe", PDF, "does not match"),
        ("anh.pdf", png_bytes(), "does not match"),
        ("to-khai", PDF, "does not match"),
        ("don.docm", ooxml_bytes("application/vnd.ms-word.document.macroEnabled.main+xml"), "not accepted"),
        ("don.docx", ooxml_bytes(DOCX_MAIN, ["word/vbaProject.bin"]), "not accepted"),
        ("nen.docx", plain_zip(), "not accepted"),
        ("hong.docx", b"PK\x03\x04" + b"\x00" * 40, "not accepted"),
        ("rong.pdf", b"", "empty"),
    ],
)
def test_other_files_are_rejected_with_a_readable_reason(name, content, reason):
    with translation.override("en"), pytest.raises(AttachmentRejected, match=reason):
        validate_upload(upload(name, content))


def test_files_over_the_size_limit_are_rejected(settings):
    settings.ATTACHMENT_MAX_BYTES = 1000
    validate_upload(upload("nho.pdf", PDF + b" " * (1000 - len(PDF))))
    with translation.override("en"), pytest.raises(AttachmentRejected, match="too large"):
        validate_upload(upload("lon.pdf", PDF + b" " * 1000))


def test_a_right_to_left_override_cannot_disguise_an_executable_as_a_pdf():
    disguised = "hoa-don\u202efdp.exe"  # displays as "hoa-donexe.pdf"
    assert sanitize_name(disguised) == "hoa-donfdp.exe"
    with pytest.raises(AttachmentRejected):
        validate_upload(upload(disguised, PDF))


def test_names_lose_directories_control_and_bidi_characters_and_are_nfc():
    decomposed = "Gia\u0301y khai sinh.pdf"  # "á" as a + combining acute
    assert sanitize_name(f"C:\\Users\\an\\..\\{decomposed}") == "Giáy khai sinh.pdf"
    assert sanitize_name("../../etc/\u200bto\x00 khai\u2066\u2069  .pdf") == "to khai .pdf"
    assert sanitize_name("a" * 300 + ".pdf").endswith("a.pdf")
    assert len(sanitize_name("a" * 300 + ".pdf")) == 255


# --- Storing ----------------------------------------------------------------------------------------


def test_an_attachment_is_stored_under_a_random_name_with_its_hash_and_an_attach_event(office):
    dossier, _pin = office.receive()
    events_before = dossier.events.count()
    attachment = add_attachment(
        dossier=dossier,
        uploaded_file=upload("../Tờ khai\u202e.pdf", PDF),
        actor=office.reception,
        kind=Attachment.Kind.SUPPLEMENT,
    )
    assert attachment.original_name == "Tờ khai.pdf"
    assert attachment.sha256 == hashlib.sha256(PDF).hexdigest()
    assert (attachment.size, attachment.content_type, attachment.kind) == (len(PDF), "application/pdf", "supplement")
    path = Path(attachment.file.path)
    assert path.read_bytes() == PDF
    assert path.is_relative_to(Path(settings.MEDIA_ROOT))
    assert not any(path.is_relative_to(Path(folder)) for folder in settings.STATICFILES_DIRS)
    assert "khai" not in path.name and path.suffix == ".pdf"
    dossier.refresh_from_db()
    assert dossier.events.count() == events_before + 1
    event = dossier.events.last()
    assert event.action == "attach"
    assert event.from_status == event.to_status == dossier.status
    assert event.from_stage == event.to_stage == dossier.stage
    assert event.actor == office.reception
    assert event.data["attachment_id"] == attachment.pk
    assert event.data["sha256"] == attachment.sha256


def test_a_rejected_upload_stores_nothing(office):
    dossier, _pin = office.receive()
    files_before, events_before = stored_files(), DossierEvent.objects.count()
    with pytest.raises(AttachmentRejected):
        add_attachment(dossier=dossier, uploaded_file=upload("x.pdf.exe", PDF), actor=office.reception)
    assert not Attachment.objects.exists()
    assert DossierEvent.objects.count() == events_before
    assert stored_files() == files_before


# --- API ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content"), [("to-khai.pdf", PDF), ("anh.png", png_bytes()), ("bang.xlsx", xlsx_bytes())]
)
def test_officers_upload_allowed_files_through_the_api(office, name, content):
    dossier, _pin = office.receive()
    response = client_for(office.specialist).post(
        attachments_url(dossier), {"file": upload(name, content), "kind": "supplement"}, format="multipart"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["size"], body["kind"]) == (name, len(content), "supplement")
    assert body["url"].endswith(attachments_url(dossier, body["id"]))
    assert Attachment.objects.get(pk=body["id"]).dossier == dossier


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("setup.exe", b"MZ\x90\x00" + b"\x00" * 64),
        ("trang.html", b"<html><script>alert(1)</script></html>"),
        ("hinh.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>'),
        ("giay-to.pdf.exe", PDF),
        ("anh.pdf", png_bytes()),
        ("rong.pdf", b""),
    ],
)
def test_the_api_refuses_bad_files_with_a_readable_400(office, name, content):
    dossier, _pin = office.receive()
    response = client_for(office.reception).post(
        attachments_url(dossier), {"file": upload(name, content)}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["file"][0]
    assert not Attachment.objects.exists()


def test_the_api_refuses_oversized_files(office, settings):
    settings.ATTACHMENT_MAX_BYTES = 1000
    dossier, _pin = office.receive()
    client = client_for(office.reception)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.post(attachments_url(dossier), {"file": upload("lon.pdf", PDF + b" " * 2000)}, format="multipart")
    assert response.status_code == 400
    assert "too large" in response.json()["file"][0]


def test_an_upload_without_a_file_is_a_400(office):
    dossier, _pin = office.receive()
    response = client_for(office.reception).post(attachments_url(dossier), {"kind": "other"}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()


def test_a_download_is_an_attachment_with_nosniff(office):
    dossier, _pin = office.receive()
    attachment = add_attachment(dossier=dossier, uploaded_file=upload("Tờ khai.pdf", PDF), actor=office.reception)
    response = client_for(office.leader).get(attachments_url(dossier, attachment.pk), HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "filename*=utf-8''T%E1%BB%9D%20khai.pdf" in response["Content-Disposition"]
    assert response["Content-Length"] == str(len(PDF))


def test_another_commune_can_neither_download_nor_upload(office, other):
    dossier, _pin = office.receive()
    attachment = add_attachment(dossier=dossier, uploaded_file=upload("a.pdf", PDF), actor=office.reception)
    own, _pin = other.receive()
    for user in (other.reception, other.leader, other.supervisor):
        client = client_for(user)
        assert client.get(attachments_url(dossier, attachment.pk)).status_code == 404
        # Not through one of their own dossiers either.
        assert client.get(attachments_url(own, attachment.pk)).status_code == 404
        response = client.post(attachments_url(dossier), {"file": upload("b.pdf", PDF)}, format="multipart")
        assert response.status_code == 404
    assert Attachment.objects.count() == 1


def test_a_supervisor_may_download_but_not_upload(office):
    dossier, _pin = office.receive()
    attachment = add_attachment(dossier=dossier, uploaded_file=upload("a.pdf", PDF), actor=office.reception)
    client = client_for(office.supervisor)
    assert client.get(attachments_url(dossier, attachment.pk)).status_code == 200
    response = client.post(attachments_url(dossier), {"file": upload("b.pdf", PDF)}, format="multipart")
    assert response.status_code == 403
    assert Attachment.objects.count() == 1


def test_anonymous_callers_cannot_download(office):
    dossier, _pin = office.receive()
    attachment = add_attachment(dossier=dossier, uploaded_file=upload("a.pdf", PDF), actor=office.reception)
    assert APIClient().get(attachments_url(dossier, attachment.pk)).status_code == 401
