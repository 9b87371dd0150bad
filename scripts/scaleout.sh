#!/usr/bin/env bash
# The scale-out drill (docs/scaling.md, bench/scaleout.py): PgBouncer, a streaming replica, two app
# instances behind HAProxy, shared media, and Debian's wrk sending the mixed load through them.
#   bash scripts/scaleout.sh            # make bench-scaleout: 100,000 dossiers, by hand
#   bash scripts/scaleout.sh --smoke    # CI (.ci/run): 300 dossiers, about two minutes
# Runs as root (CI) or as postgres. Installs the missing Debian packages (pgbouncer, haproxy, wrk)
# like scripts/ci-services.sh; needs PostgreSQL and Redis on 127.0.0.1 (scripts/ci-services.sh
# starts them). Everything the drill starts is stopped and its folder removed, even on failure:
# bench/scaleout.py cleans up itself, and this script's trap catches what a killed Python left.
# SCALEOUT_KEEP=1 keeps the work folder (logs, generated configurations) for a post-mortem.
# Other options go to bench/scaleout.py (--help): --phase-seconds, --reuse, --drop, --results-dir…
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-.venv/bin/python}

log() { printf 'scaleout: %s\n' "$*"; }
die() { printf 'scaleout: ERROR: %s\n' "$*" >&2; exit 2; }

SUDO=""
if [ "$(id -u)" != "0" ]; then
    command -v sudo >/dev/null 2>&1 && SUDO="sudo -n"
fi

missing=()
command -v pgbouncer >/dev/null 2>&1 || missing+=(pgbouncer)
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v pg_basebackup >/dev/null 2>&1 || missing+=(postgresql-client)
if [ "${#missing[@]}" -gt 0 ]; then
    command -v apt-get >/dev/null 2>&1 || die "not a Debian system: install ${missing[*]} yourself"
    log "installing ${missing[*]}"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
fi
# The packages' own services are not wanted (Debian starts them where systemd runs): the drill
# starts its own PgBouncer and HAProxy on free ports.

WORK=$(mktemp -d -t motcua-scaleout.XXXXXX)
cleanup() {
    local rc=$?
    # Process groups the drill started and did not stop (a killed or crashed Python).
    for file in "$WORK"/*.pgid; do
        [ -e "$file" ] || continue
        kill -KILL -- "-$(cat "$file")" 2>/dev/null || true
    done
    if [ -f "$WORK/replica/postmaster.pid" ]; then
        pg_ctl=$(ls -d /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -n 1)
        runuser -u postgres -- "${pg_ctl:-pg_ctl}" -D "$WORK/replica" -m immediate stop >/dev/null 2>&1 || true
    fi
    # The replication line the drill may have put at the top of pg_hba.conf.
    for hba in /etc/postgresql/*/*/pg_hba.conf; do
        [ -w "$hba" ] || continue
        if head -n 1 "$hba" | grep -q '^# motcua-scaleout'; then
            tail -n +3 "$hba" >"$hba.motcua-scaleout" && cat "$hba.motcua-scaleout" >"$hba" && rm -f "$hba.motcua-scaleout"
            psql -w -h 127.0.0.1 -U postgres -d postgres -Atc 'SELECT pg_reload_conf()' >/dev/null 2>&1 || true
        fi
    done
    if [ -n "${SCALEOUT_KEEP:-}" ]; then
        log "kept $WORK (logs and configurations)"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

keep=()
[ -n "${SCALEOUT_KEEP:-}" ] && keep=(--keep)
"$PY" bench/scaleout.py --work-dir "$WORK" "${keep[@]}" "$@"
