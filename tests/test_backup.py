"""`make backup` / `make restore`: a backup restored into a fresh database and media folder has
the same row count and checksum in every table and the same media files: 0 mismatches.

Runs the real scripts in subprocesses against real databases (a SQLite file; PostgreSQL when
DATABASE_URL points at it), because the restore replaces a whole database."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow

BUILD = """
from io import BytesIO
from django.core.files.uploadedfile import SimpleUploadedFile
from tests.factories import Office
from dossiers.attachments import add_attachment
from accounts.models import AuditEntry
office = Office()
dossier, pin = office.receive()
office.act(dossier, "assign")
office.act(dossier, "propose_result", result="Cấp giấy khai sinh")
office.to_approval()
pdf = b"%PDF-1.4\\n1 0 obj<<>>endobj\\ntrailer<<>>\\n%%EOF\\n"
upload = SimpleUploadedFile("to-khai.pdf", pdf, "application/pdf")
add_attachment(dossier=dossier, uploaded_file=upload, actor=office.reception)
AuditEntry.record(AuditEntry.Kind.LOGIN, user=office.reception)
print("built", dossier.code)
"""

FIGURES = """
import json
from accounts.backup import media_figures, table_figures
print(json.dumps({"tables": table_figures(), "media": media_figures()}))
"""


def pg_url(name):
    base = os.environ.get("DATABASE_URL", "")
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path="/" + name))


def run(args, env, check=True):
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def script(name, args, env):
    return subprocess.run(
        ["sh", f"scripts/{name}", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def environment(tmp_path, database_url, media):
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONIOENCODING": "utf-8",
        "DEBUG": "1",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": database_url,
        "REDIS_URL": "",
        "MEDIA_ROOT": str(media),
        "PY": sys.executable,
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    }


def figures(env):
    return json.loads(run(["shell", "-c", FIGURES], env).stdout.strip().splitlines()[-1])


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request, tmp_path):
    """(source URL, fresh target URL) on the backend under test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/source.sqlite3", f"sqlite:///{tmp_path}/restored.sqlite3"
        return
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("DATABASE_URL is not PostgreSQL")
    import psycopg

    suffix = secrets.token_hex(4)
    names = [f"motcua_backup_src_{suffix}", f"motcua_backup_dst_{suffix}"]
    yield pg_url(names[0]), pg_url(names[1])
    admin = urlsplit(pg_url("postgres"))
    with psycopg.connect(
        host=admin.hostname,
        port=admin.port or 5432,
        user=admin.username,
        password=admin.password,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create_pg_database(url):
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username,
        password=parts.password,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(f'CREATE DATABASE "{parts.path.lstrip("/")}"')


def test_a_restored_backup_matches_row_for_row_and_file_for_file(tmp_path, databases):
    source_url, target_url = databases
    if source_url.startswith("postgres"):
        create_pg_database(source_url)
    source = environment(tmp_path, source_url, tmp_path / "media-source")
    run(["migrate", "--noinput"], source)
    assert "built" in run(["shell", "-c", BUILD], source).stdout
    before = figures(source)
    assert before["media"], "the attachment is in the media folder"
    assert before["tables"]["dossiers_dossier"]["rows"] == 2

    backup_dir = tmp_path / "backups" / "one"
    made = script("backup.sh", [str(backup_dir)], source)
    assert made.returncode == 0, made.stdout + made.stderr
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    assert manifest["tables"] == before["tables"]

    target = environment(tmp_path, target_url, tmp_path / "media-restored")
    restored = script("restore.sh", [str(backup_dir)], target)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "0 mismatches" in restored.stdout

    after = figures(target)  # computed independently of the restore command
    mismatches = [name for name in before["tables"] if before["tables"][name] != after["tables"].get(name)]
    mismatches += [name for name in before["media"] if before["media"][name] != after["media"].get(name)]
    assert set(after["tables"]) == set(before["tables"])
    assert mismatches == []
    # The restored audit trail is intact too.
    assert "OK" in run(["verify_audit_chain"], target).stdout


def test_restore_refuses_a_database_that_is_not_empty(tmp_path):
    env = environment(tmp_path, f"sqlite:///{tmp_path}/db.sqlite3", tmp_path / "media")
    run(["migrate", "--noinput"], env)
    made = script("backup.sh", [str(tmp_path / "b")], env)
    assert made.returncode == 0, made.stderr

    refused = script("restore.sh", [str(tmp_path / "b")], env)

    assert refused.returncode != 0
    assert "not empty" in refused.stderr
    assert "Traceback" not in refused.stderr
    forced = script("restore.sh", ["--force", str(tmp_path / "b")], env)
    assert forced.returncode == 0, forced.stderr


def test_restore_of_a_folder_that_is_not_a_backup_is_a_clear_error(tmp_path):
    env = environment(tmp_path, f"sqlite:///{tmp_path}/db.sqlite3", tmp_path / "media")

    result = script("restore.sh", [str(tmp_path)], env)

    assert result.returncode != 0
    assert "not a backup directory" in result.stderr and "Traceback" not in result.stderr
