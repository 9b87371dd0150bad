#!/usr/bin/env sh
# Back up the database (PostgreSQL: pg_dump -Fc; SQLite: online backup) and MEDIA_ROOT into
# var/backups/<timestamp>/ with a manifest of row counts and checksums (accounts/backup.py).
#   sh scripts/backup.sh [DIR]
# Uses the same DATABASE_URL / MEDIA_ROOT as the site (environment or .env).
set -eu
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
# DEBUG only lets the settings load without SECRET_KEY; it changes no path or database.
DEBUG=${DEBUG:-1} exec "$PY" manage.py backup_data "$@"
