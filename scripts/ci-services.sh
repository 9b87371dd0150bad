#!/usr/bin/env bash
# Makes sure PostgreSQL and Redis answer on 127.0.0.1 for the second test run of .ci/run.
# Starts (and on a bare Debian, installs) them only when they are not already running.
# Needs root (or sudo) only when something has to be installed or started.
#   PostgreSQL: 127.0.0.1:5432, role `postgres` without password (trust on loopback).
#   Redis:      127.0.0.1:6379, no persistence.
# CI_PG_PORT, CI_PG_CLUSTER and CI_REDIS_PORT override 5432, main and 6379 (to try the script
# on a scratch cluster without touching the usual ones).
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=${CI_PG_PORT:-5432}
PG_CLUSTER=${CI_PG_CLUSTER:-main}
REDIS_PORT=${CI_REDIS_PORT:-6379}
WAIT_SECONDS=${CI_SERVICES_WAIT:-60}

log() { printf 'ci-services: %s\n' "$*"; }
die() { printf 'ci-services: ERROR: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" != "0" ]; then
    command -v sudo >/dev/null 2>&1 && SUDO="sudo -n"
fi

APT_UPDATED=0
apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "not a Debian system: install $* yourself"
    if [ "$APT_UPDATED" = 0 ]; then
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        APT_UPDATED=1
    fi
    log "installing $*"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" </dev/null
}

pg_up() { command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; }
redis_up() { command -v redis-cli >/dev/null 2>&1 && [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]; }
# Newest PostgreSQL version that has the cluster (Debian layout: /etc/postgresql/<ver>/<cluster>).
pg_version() { find /etc/postgresql -mindepth 2 -maxdepth 2 -type d -name "$PG_CLUSTER" -printf '%h\n' 2>/dev/null | xargs -r -n1 basename | sort -V | tail -n 1; }

wait_for() {
    local name=$1 check=$2 waited=0
    until "$check"; do
        [ "$waited" -ge "$WAIT_SECONDS" ] && die "$name does not answer after ${WAIT_SECONDS}s"
        sleep 1
        waited=$((waited + 1))
    done
    log "$name answers (after ${waited}s)"
}

# --- PostgreSQL ------------------------------------------------------------------
if pg_up; then
    log "PostgreSQL already running on $PG_HOST:$PG_PORT"
else
    if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(pg_version)" ]; then
        apt_install postgresql postgresql-contrib
    fi
    if ! pg_up; then
        ver=$(pg_version)
        [ -n "$ver" ] || die "no PostgreSQL cluster under /etc/postgresql"
        log "starting PostgreSQL $ver (cluster $PG_CLUSTER)"
        # "already running" (e.g. started by the package's postinst meanwhile) is not an error.
        $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" "$PG_CLUSTER" start || log "pg_ctlcluster start returned $?"
    fi
fi
wait_for PostgreSQL pg_up

# The tests connect as postgres@127.0.0.1 without a password (PGPASSWORD is honoured if set).
pg_login() { psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -w -tAc 'SELECT 1' >/dev/null 2>&1; }
if ! pg_login; then
    ver=$(pg_version)
    hba=/etc/postgresql/$ver/$PG_CLUSTER/pg_hba.conf
    if [ "${CI:-}" = "true" ] && [ -n "$ver" ] && [ -w "$hba" ] && ! grep -q '# motcua-ci' "$hba"; then
        # A fresh Debian cluster asks for a password over TCP; on a CI machine allow the
        # postgres role on loopback only (first match wins, hence prepended).
        log "allowing trust for role postgres on loopback in $hba (CI only)"
        {
            printf '# motcua-ci: the CI run connects as postgres on loopback without a password\n'
            printf 'host all postgres 127.0.0.1/32 trust\nhost all postgres ::1/128 trust\n'
            cat "$hba"
        } >"$hba.motcua-ci"
        cat "$hba.motcua-ci" >"$hba" && rm -f "$hba.motcua-ci"
        $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" "$PG_CLUSTER" reload
        sleep 1
    fi
    pg_login || die "PostgreSQL on $PG_HOST:$PG_PORT refuses role postgres without a password.
  Either export PGPASSWORD=<password of postgres>, or add this line at the top of pg_hba.conf and reload:
    host all postgres 127.0.0.1/32 trust"
fi
log "role postgres can connect over TCP"

# --- Redis -------------------------------------------------------------------------
if redis_up; then
    log "Redis already running on 127.0.0.1:$REDIS_PORT"
else
    if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
        apt_install redis-server
    fi
    if ! redis_up; then
        log "starting redis-server"
        redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no
    fi
fi
wait_for Redis redis_up
