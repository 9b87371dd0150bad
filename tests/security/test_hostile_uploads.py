"""Hostile uploads (issue 8, item 5): files generated in code, sent through the API
(`POST /api/v1/dossiers/<code>/attachments/`) and through `validate_upload` directly. Each is
refused with a readable 400 or stored neutralised (random stored name, sanitised original name,
downloads as `attachment` with `nosniff`). There is no antivirus: the EICAR test string is
refused only because it is not a PDF."""

import base64
import binascii
import functools
import io
import re
import tracemalloc
import zipfile
import zlib
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from dossiers.attachments import AttachmentRejected, validate_upload
from dossiers.models import Attachment

from .conftest import token_for

LIMIT = 64 * 1024  # ATTACHMENT_MAX_BYTES during these tests
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
XLSX_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
STORED_NAME = re.compile(r"^attachments/\d{4}/\d{2}/[0-9a-f]{32}\.(pdf|jpg|png|docx|xlsx)$")


# --- Generated files ----------------------------------------------------------------------------


def pdf(*objects, trailer_extra=b""):
    """A small, well-formed PDF whose extra objects (bytes, without numbering) follow the catalog."""
    body = [
        b"<< /Type /Catalog /Pages 2 0 R" + trailer_extra + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        *objects,
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, obj in enumerate(body, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + obj + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(body) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(body) + 1, xref))
    return out.getvalue()


def pdf_with_object_stream(hidden, filters=b"/FlateDecode", encode=zlib.compress):
    """A PDF whose extra dictionary sits in an encoded object stream (PDF 1.5+)."""
    content = b"4 0 " + hidden
    compressed = encode(content)
    stream = b"<< /Type /ObjStm /N 1 /First 4 /Filter %s /Length %d >>\nstream\n" % (filters, len(compressed))
    return pdf(stream + compressed + b"\nendstream", trailer_extra=b" /OpenAction 4 0 R")


def ascii_hex(data):
    return binascii.hexlify(data).upper() + b">"


def ascii85(data):
    return base64.a85encode(data) + b"~>"


def ooxml(main_part, extra=(), content_types=None, compression=zipfile.ZIP_DEFLATED):
    part = "xl/workbook.xml" if "spreadsheet" in main_part or "excel" in main_part else "word/document.xml"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        archive.writestr(
            "[Content_Types].xml",
            content_types
            or (
                '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                f'content-types"><Override PartName="/{part}" ContentType="{main_part}"/></Types>'
            ),
        )
        archive.writestr(part, "<document/>")
        for name, data in extra:
            archive.writestr(name, data)
    return buffer.getvalue()


@functools.cache
def zip_bomb_honest():
    """200 MB of zeros in a ~200 kB DOCX: the central directory tells the truth."""
    return ooxml(DOCX_MAIN, extra=[("word/media/bomb.xml", b"\0" * (200 * 1024 * 1024 + 1))])


@functools.cache
def zip_bomb_lying():
    """[Content_Types].xml declared tiny in the headers but inflating to 100 MB (a lying zip)."""
    types = (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        f'content-types"><Override PartName="/word/document.xml" ContentType="{DOCX_MAIN}"/></Types>'
    )
    real = ooxml(DOCX_MAIN, content_types=types + " " * (100 * 1024 * 1024))
    size = zipfile.ZipFile(io.BytesIO(real)).getinfo("[Content_Types].xml").file_size
    lying = real.replace(size.to_bytes(4, "little"), len(types).to_bytes(4, "little"))
    assert zipfile.ZipFile(io.BytesIO(lying)).getinfo("[Content_Types].xml").file_size == len(types)
    return lying


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)
PLAIN_PDF = pdf()
SVG_SCRIPT = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'
HTML = b"<!doctype html><html><body><script>fetch('/api/v1/dossiers/').then(r=>r.text())</script></body></html>"
PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00" + b"\x00" * 64


@dataclass
class Hostile:
    label: str
    name: str
    content: bytes  # or a function making it (the zip bombs take a second to build)
    # "refuse": a 400 with a readable reason; "neutralise": stored, but harmless as stored and served.
    expect: str = "refuse"


HOSTILE = [
    Hostile("oversize PDF", "to-khai.pdf", PLAIN_PDF + b"%" + b"0" * LIMIT),
    Hostile("empty file", "to-khai.pdf", b""),
    Hostile("wrong magic: PE executable named .pdf", "to-khai.pdf", PE),
    Hostile("wrong magic: PE executable named .jpg", "anh-the.jpg", PE),
    Hostile("PDF content named .pdf.exe", "giay-to.pdf.exe", PLAIN_PDF),
    Hostile("PE named .pdf.exe", "giay-to.pdf.exe", PE),
    Hostile(
        "PDF with JavaScript OpenAction",
        "to-khai.pdf",
        pdf(b"<< /S /JavaScript /JS (app.alert('x')) >>", trailer_extra=b" /OpenAction 4 0 R"),
    ),
    Hostile("PDF with escaped /J#61vaScript name", "to-khai.pdf", pdf(b"<< /S /J#61vaScript /J#53 (app.alert(1)) >>")),
    Hostile("PDF with JavaScript hidden in an object stream", "to-khai.pdf", pdf_with_object_stream(b"<< /JS (x) >>")),
    # Issue 13, finding 5: only zlib was decoded.
    Hostile(
        "PDF with JavaScript in an ASCIIHex object stream",
        "to-khai.pdf",
        pdf_with_object_stream(b"<< /S /JavaScript /JS (app.alert(1)) >>", b"/ASCIIHexDecode", ascii_hex),
    ),
    Hostile(
        "PDF with JavaScript in an ASCII85 + Flate object stream",
        "to-khai.pdf",
        pdf_with_object_stream(b"<< /JS (x) >>", b"[/A85 /Fl]", lambda data: ascii85(zlib.compress(data))),
    ),
    Hostile(
        "PDF with an object stream in a filter that cannot be decoded",
        "to-khai.pdf",
        pdf_with_object_stream(b"<< /Title (x) >>", b"/NoSuchDecode", lambda data: data),
    ),
    Hostile("PDF with a Launch action", "to-khai.pdf", pdf(b"<< /S /Launch /F (cmd.exe) >>")),
    Hostile("PDF with an embedded file", "to-khai.pdf", pdf(b"<< /Type /EmbeddedFile /Length 0 >>")),
    Hostile("SVG with script", "con-dau.svg", SVG_SCRIPT),
    Hostile("SVG with script named .png", "con-dau.png", SVG_SCRIPT),
    Hostile("HTML page", "trang.html", HTML),
    Hostile("HTML named .pdf", "to-khai.pdf", HTML),
    Hostile("GIF image (not an accepted type)", "anh.gif", b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + b"\x00" * 20),
    Hostile("JPEG named .png", "anh-the.png", JPEG),
    Hostile("PHP code after a PNG header, named .php", "shell.php", PNG + b"<?php system($_GET['c']); ?>"),
    Hostile("EICAR test string named .pdf", "eicar.pdf", EICAR),
    Hostile("EICAR test string named .txt", "eicar.txt", EICAR),
    Hostile("plain ZIP named .docx", "to-khai.docx", ooxml(DOCX_MAIN, content_types="<Types/>")),
    Hostile(
        "macro-enabled Word (vbaProject.bin) named .docx",
        "to-khai.docx",
        ooxml(DOCX_MAIN, extra=[("word/vbaProject.bin", b"\xd0\xcf\x11\xe0")]),
    ),
    Hostile(
        "macro-enabled Excel content type named .xlsx",
        "bang-ke.xlsx",
        ooxml("application/vnd.ms-excel.sheet.macroEnabled.main+xml"),
    ),
    Hostile("DOCX named .xlsx", "bang-ke.xlsx", ooxml(DOCX_MAIN)),
    Hostile("zip bomb disguised as DOCX", "to-khai.docx", zip_bomb_honest),
    Hostile("lying zip bomb disguised as DOCX", "to-khai.docx", zip_bomb_lying),
    Hostile("right-to-left override hiding .exe", "hoa-don\u202efdp.exe", PLAIN_PDF),
    Hostile("shell script", "cai-dat.sh", b"#!/bin/sh\nrm -rf /\n"),
    # Neutralised: the content is an accepted type; the name is what is hostile.
    Hostile("path traversal name", "../../../../etc/cron.d/to-khai.pdf", PLAIN_PDF, "neutralise"),
    Hostile("Windows path traversal name", "..\\..\\Windows\\System32\\to-khai.pdf", PLAIN_PDF, "neutralise"),
    Hostile("right-to-left override inside a .pdf name", "to-khai\u202egnp.pdf", PLAIN_PDF, "neutralise"),
    Hostile("control characters and 1,000-character name", "a\x07\t\x1b" * 250 + ".pdf", PLAIN_PDF, "neutralise"),
    Hostile("HTML polyglot behind a PDF header", "to-khai.pdf", b"%PDF-1.4\n" + HTML, "neutralise"),
]
REFUSED = [h for h in HOSTILE if h.expect == "refuse"]
NEUTRALISED = [h for h in HOSTILE if h.expect == "neutralise"]


@pytest.fixture(autouse=True)
def small_limit(settings):
    settings.ATTACHMENT_MAX_BYTES = LIMIT


def upload(item):
    content = item.content() if callable(item.content) else item.content
    return SimpleUploadedFile(item.name, content, content_type="application/pdf")


def api_upload(client, offices, item, user=None):
    user = user or offices.own.reception
    return client.post(
        reverse("dossier-attachments", args=[offices.own.dossier.code]),
        {"file": upload(item), "kind": "application"},
        HTTP_AUTHORIZATION=f"Token {token_for(user)}",
    )


def test_the_hostile_set_is_large_and_varied():
    assert len(HOSTILE) >= 20
    assert len({h.label for h in HOSTILE}) == len(HOSTILE)


@pytest.mark.parametrize("item", REFUSED, ids=[h.label for h in REFUSED])
def test_validator_refuses_hostile_file_with_a_reason(item):
    with pytest.raises(AttachmentRejected) as refused:
        validate_upload(upload(item))
    assert len(str(refused.value).strip()) >= 5


@pytest.mark.django_db
@pytest.mark.parametrize("item", REFUSED, ids=[h.label for h in REFUSED])
def test_api_refuses_hostile_file_with_readable_400_and_stores_nothing(client, offices, item):
    events_before = offices.own.dossier.events.count()
    response = api_upload(client, offices, item)
    assert response.status_code == 400, response.content
    messages = response.json()["file"]
    assert messages and all(isinstance(m, str) and len(m.strip()) >= 5 for m in messages)
    assert not Attachment.objects.exists()
    assert offices.own.dossier.events.count() == events_before


@pytest.mark.django_db
@pytest.mark.parametrize("item", NEUTRALISED, ids=[h.label for h in NEUTRALISED])
def test_api_stores_hostile_name_neutralised_and_serves_it_as_a_download(client, offices, item):
    response = api_upload(client, offices, item)
    assert response.status_code == 201, response.content
    attachment = Attachment.objects.get()
    assert STORED_NAME.match(attachment.file.name), attachment.file.name
    name = attachment.original_name
    assert name.endswith(".pdf") and len(name) <= 255
    assert not re.search(r"[/\\\x00-\x1f\u202a-\u202e\u2066-\u2069]", name), name
    assert ".." not in name
    assert attachment.content_type == "application/pdf"

    officer = f"Token {token_for(offices.own.reception)}"
    api = client.get(response.json()["url"], HTTP_AUTHORIZATION=officer)
    client.force_login(offices.own.specialist)
    page = client.get(reverse("dossiers:attachment", args=[attachment.pk]))
    for download in (api, page):
        assert download.status_code == 200
        assert download["Content-Disposition"].startswith("attachment;")
        assert download["X-Content-Type-Options"] == "nosniff"
        assert download["Content-Type"] == "application/pdf"
        assert "sandbox" in download["Content-Security-Policy"]
        assert b"".join(download.streaming_content) == item.content


@pytest.mark.django_db
def test_genuine_documents_are_still_accepted(client, offices):
    """The control group: the checks that refuse the hostile set do not refuse real documents."""
    from dossiers.pdf import render_form

    genuine = [
        Hostile("receipt PDF printed by WeasyPrint", "bien-nhan.pdf", render_form("receipt", offices.own.dossier)),
        Hostile("minimal PDF", "to-khai.pdf", PLAIN_PDF),
        Hostile("PDF with a harmless object stream", "to-khai.pdf", pdf_with_object_stream(b"<< /Title (x) >>")),
        Hostile(
            "PDF with a harmless ASCIIHex object stream",
            "to-khai.pdf",
            pdf_with_object_stream(b"<< /Title (x) >>", b"/AHx", ascii_hex),
        ),
        Hostile("JPEG", "anh-the.jpeg", JPEG),
        Hostile("PNG", "so-do.png", PNG),
        Hostile("DOCX", "don.docx", ooxml(DOCX_MAIN)),
        Hostile("XLSX", "bang-ke.xlsx", ooxml(XLSX_MAIN)),
    ]
    for item in genuine:
        response = api_upload(client, offices, item)
        assert response.status_code == 201, (item.label, response.content)
    assert Attachment.objects.count() == len(genuine)


def test_zip_bombs_are_not_inflated_in_memory():
    for content in (zip_bomb_honest(), zip_bomb_lying()):
        assert len(content) < 1024 * 1024
        tracemalloc.start()
        try:
            with pytest.raises(AttachmentRejected):
                validate_upload(SimpleUploadedFile("to-khai.docx", content))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 16 * 1024 * 1024, peak


@pytest.mark.django_db
def test_uploads_need_a_role_on_the_dossier(client, offices):
    """Upload is an officer write: a supervisor, another agency's officer or a citizen cannot attach."""
    item = Hostile("plain", "to-khai.pdf", PLAIN_PDF)
    assert api_upload(client, offices, item, user=offices.own.supervisor).status_code == 403
    assert api_upload(client, offices, item, user=offices.other.reception).status_code == 404
    assert api_upload(client, offices, item, user=offices.citizen).status_code == 403
    assert not Attachment.objects.exists()
