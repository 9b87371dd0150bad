"""Regenerate the screenshots of the printed forms shown in docs/forms.md.

    DEBUG=1 .venv/bin/python scripts/form_screenshots.py

A tool, not part of the application: it builds a few dossiers in a throw-away test database
(created and destroyed here, never the configured one) through the real services, with the test
suite's builders (a ward centre of Thái Nguyên, `tests.factories.ward_office`), renders each
form with `dossiers.pdf.render_form` and rasterises its first page with `pdftoppm -png -r 60`
(Debian poppler-utils) into docs/screenshots/forms/.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots" / "forms"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "motcua.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

PDFTOPPM = shutil.which("pdftoppm") or "pdftoppm"


def write_png(name, pdf):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "form.pdf"
        path.write_bytes(pdf)
        target = OUT / name
        # A fixed tool from Debian poppler-utils on fixed arguments (no user input).
        command = [PDFTOPPM, "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", str(path), str(target)]
        subprocess.run(command, check=True)  # noqa: S603
    print(f"{target.relative_to(ROOT)}.png")


def build_and_render():
    from dossiers.pdf import render_form
    from dossiers.services import close_expired_supplements
    from tests.factories import LONG_DOCUMENT_NAMES, name_officers, vn, ward_office

    office = ward_office(name="Đăng ký khai sinh")
    name_officers(office)
    documents = [{"name": name, "originals": 1, "copies": 0, "received": True} for name in LONG_DOCUMENT_NAMES]

    # Eight documents, a supplement during processing, the period restarted, an extension, the result.
    dossier, _pin = office.receive(now=vn(2026, 3, 2, 9, 0), documents=documents)
    office.act(dossier, "assign", now=vn(2026, 3, 2, 10, 0))
    office.act(
        dossier,
        "request_supplement",
        now=vn(2026, 3, 3, 9, 30),
        comment="Giấy chứng sinh nộp kèm bị tẩy xóa, không hợp lệ.",
        missing_documents=["Giấy chứng sinh (bản chính, không tẩy xóa)"],
    )
    office.act(dossier, "supplement_received", now=vn(2026, 3, 5, 9, 0))
    dossier = office.act(
        dossier,
        "extend",
        now=vn(2026, 3, 9, 10, 0),
        comment="Cần xác minh thông tin với UBND xã nơi cư trú trước đây.",
        new_due_at="20/03/2026",
    )
    write_png("form-01-receipt", render_form("receipt", dossier))
    write_png("form-04-extension", render_form("extension", dossier))
    office.act(dossier, "propose_result", now=vn(2026, 3, 10, 15, 0), result="Cấp giấy khai sinh")
    office.act(dossier, "approve", now=vn(2026, 3, 11, 11, 0))
    dossier = office.act(dossier, "return_result", now=vn(2026, 3, 11, 14, 0), collected_by="Nguyễn Văn An")
    write_png("form-06-control-slip", render_form("control-slip", dossier))

    # Incomplete at intake: the supplement request with every item and the PIN; later closed.
    incomplete, pin = office.receive(now=vn(2026, 3, 2, 9, 0), missing_documents=LONG_DOCUMENT_NAMES)
    write_png("form-02-supplement", render_form("supplement", incomplete, pin=pin))
    close_expired_supplements(now=vn(2026, 3, 25, 9, 0))
    incomplete.refresh_from_db()
    write_png("form-05-stop-notice", render_form("stop-notice", incomplete))

    refused, _pin = office.receive(now=vn(2026, 3, 2, 9, 0))
    office.act(refused, "assign", now=vn(2026, 3, 2, 10, 0))
    office.act(refused, "refuse", now=vn(2026, 3, 3, 14, 0), comment="Việc khai sinh đã được đăng ký tại xã khác.")
    write_png("form-03-refusal", render_form("refusal", refused))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        build_and_render()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
