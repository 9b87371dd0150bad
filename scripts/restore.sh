#!/usr/bin/env sh
# Restore a backup written by scripts/backup.sh into an EMPTY database and MEDIA_ROOT (the
# PostgreSQL database is created when missing), then compare row counts and checksums with the
# backup's manifest: exit 0 only with 0 mismatches.
#   sh scripts/restore.sh [--force] DIR
# --force replaces a non-empty database and MEDIA_ROOT.
set -eu
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DEBUG=${DEBUG:-1} exec "$PY" manage.py restore_data "$@"
