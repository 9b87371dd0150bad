"""Backup and restore of the database and the media files (scripts/backup.sh, scripts/restore.sh).

A backup directory holds:
- `db.dump` (PostgreSQL, `pg_dump -Fc`) or `db.sqlite3` (SQLite, the online backup API);
- `media.tar.gz`: everything under MEDIA_ROOT (dossier attachments);
- `manifest.json`: the backend, the time, and per table its row count and a SHA-256 over its
  rows in primary-key order; per media file its SHA-256.

A restore loads them into an empty database and MEDIA_ROOT, then recomputes the same figures
and lists every mismatch (0 expected).
"""

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

MANIFEST = "manifest.json"


class BackupError(Exception):
    pass


# --- Figures ---------------------------------------------------------------------------------


def _value(value):
    if isinstance(value, memoryview | bytes | bytearray):
        return hashlib.sha256(bytes(value)).hexdigest()
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value.normalize())
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def table_figures(conn=None):
    """{table: {"rows": n, "sha256": hex}} for every table of the connection's database."""
    conn = conn or connection
    figures = {}
    with conn.cursor() as cursor:
        tables = sorted(t.name for t in conn.introspection.get_table_list(cursor) if t.type == "t")
        for table in tables:
            if table.startswith("sqlite_"):
                continue
            columns = [c.name for c in conn.introspection.get_table_description(cursor, table)]
            key = conn.introspection.get_primary_key_column(cursor, table)
            order = [key] if key else columns
            qn = conn.ops.quote_name
            cursor.execute(
                f"SELECT {', '.join(qn(c) for c in columns)} FROM {qn(table)} "  # noqa: S608 (introspected names)
                f"ORDER BY {', '.join(qn(c) for c in order)}"
            )
            digest = hashlib.sha256()
            count = 0
            for row in cursor.fetchall():
                digest.update(json.dumps([_value(v) for v in row], default=str).encode())
                digest.update(b"\n")
                count += 1
            figures[table] = {"rows": count, "sha256": digest.hexdigest()}
    return figures


def media_figures(root=None):
    root = Path(root or settings.MEDIA_ROOT)
    figures = {}
    if root.is_dir():
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            figures[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return figures


def compare(expected, actual):
    """Human-readable mismatches between two manifests' "tables" and "media" sections."""
    problems = []
    for section in ("tables", "media"):
        want, got = expected.get(section, {}), actual.get(section, {})
        for name in sorted(set(want) | set(got)):
            if name not in got:
                problems.append(f"{section}: {name} is missing")
            elif name not in want:
                problems.append(f"{section}: {name} is unexpected")
            elif want[name] != got[name]:
                problems.append(f"{section}: {name} differs ({want[name]} != {got[name]})")
    return problems


# --- Database helpers ------------------------------------------------------------------------


def _pg_env(db):
    env = dict(os.environ)
    env.update(
        {
            "PGHOST": str(db.get("HOST") or ""),
            "PGPORT": str(db.get("PORT") or ""),
            "PGUSER": str(db.get("USER") or ""),
            "PGPASSWORD": str(db.get("PASSWORD") or ""),
            "PGDATABASE": str(db["NAME"]),
        }
    )
    return {k: v for k, v in env.items() if v != "" or not k.startswith("PG")}


def _run(args, env):
    tool = shutil.which(args[0])
    if tool is None:
        raise BackupError(f"{args[0]} is not installed (Debian: postgresql-client).")
    result = subprocess.run([tool, *args[1:]], env=env, capture_output=True, text=True)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{args[0]} failed: {result.stderr.strip()}")
    return result


def is_empty():
    with connection.cursor() as cursor:
        return not [t for t in connection.introspection.get_table_list(cursor) if not t.name.startswith("sqlite_")]


# --- Backup ------------------------------------------------------------------------------------


def backup(target=None):
    """Write a backup directory and return its path."""
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    out = Path(target or Path(settings.VAR_DIR) / "backups" / stamp)
    out.mkdir(parents=True, exist_ok=False)
    db = settings.DATABASES["default"]
    vendor = connection.vendor
    if vendor == "postgresql":
        # The figures and the dump see the same snapshot, whatever the site writes meanwhile.
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cursor.execute("SELECT pg_export_snapshot()")
                snapshot = cursor.fetchone()[0]
            dump = ["pg_dump", "-Fc", "--no-owner", "--no-privileges", f"--snapshot={snapshot}"]
            _run([*dump, "-f", str(out / "db.dump")], _pg_env(db))
            tables = table_figures()
    elif vendor == "sqlite":
        source = sqlite3.connect(str(db["NAME"]))
        target_db = sqlite3.connect(str(out / "db.sqlite3"))
        try:
            source.backup(target_db)  # consistent even while the site writes (online backup API)
        finally:
            target_db.close()
            source.close()
        # The figures of the copy itself.
        connections.settings["backup-copy"] = {**db, "NAME": str(out / "db.sqlite3")}
        try:
            tables = table_figures(connections["backup-copy"])
        finally:
            connections["backup-copy"].close()
            del connections["backup-copy"]
            del connections.settings["backup-copy"]
    else:
        raise BackupError(f"unsupported database {vendor}")
    media_root = Path(settings.MEDIA_ROOT)
    with tarfile.open(out / "media.tar.gz", "w:gz") as tar:
        if media_root.is_dir():
            tar.add(media_root, arcname=".")
    manifest = {
        "created_at": timezone.now().isoformat(),
        "vendor": vendor,
        "tables": tables,
        "media": media_figures(media_root),
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return out


# --- Restore -----------------------------------------------------------------------------------


def _create_pg_database_if_missing(db):
    import psycopg

    params = {
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **{k: v for k, v in params.items() if v}) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone()
        if not exists:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(db["NAME"])))


def restore(source, force=False):
    """Load a backup directory into the configured (empty) database and MEDIA_ROOT, then
    compare. Returns the list of mismatches (empty = identical)."""
    source = Path(source)
    manifest_path = source / MANIFEST
    if not manifest_path.is_file():
        raise BackupError(f"{source} is not a backup directory (no {MANIFEST}).")
    manifest = json.loads(manifest_path.read_text())
    db = settings.DATABASES["default"]
    vendor = connection.vendor
    if manifest["vendor"] != vendor:
        raise BackupError(f"this backup is of a {manifest['vendor']} database, the target is {vendor}.")
    if vendor == "postgresql":
        connection.close()
        _create_pg_database_if_missing(db)
    if not is_empty() and not force:
        raise BackupError("the target database is not empty; restore into a new database or pass --force.")
    media_root = Path(settings.MEDIA_ROOT)
    if media_root.is_dir() and any(media_root.iterdir()) and not force:
        raise BackupError(f"MEDIA_ROOT {media_root} is not empty; pass --force to replace it.")

    if vendor == "postgresql":
        if force:
            with connection.cursor() as cursor:
                cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        connection.close()
        _run(
            [
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "-d",
                db["NAME"],
                str(source / "db.dump"),
            ],
            _pg_env(db),
        )
    else:
        connection.close()
        target = Path(db["NAME"])
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        backup_db = sqlite3.connect(str(source / "db.sqlite3"))
        target_db = sqlite3.connect(str(target))
        try:
            backup_db.backup(target_db)
        finally:
            target_db.close()
            backup_db.close()

    if media_root.is_dir() and force:
        shutil.rmtree(media_root)
    media_root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(source / "media.tar.gz", "r:gz") as tar:
        tar.extractall(media_root, filter="data")  # refuses absolute paths, .. and links outside

    connection.close()
    actual = {"tables": table_figures(), "media": media_figures(media_root)}
    return compare(manifest, actual)
