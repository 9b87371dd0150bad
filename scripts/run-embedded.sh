#!/bin/sh
# `make run`: the whole portal on one machine without any server: SQLite in var/, Celery
# worker + beat on kombu's filesystem broker in var/celery-broker. Ctrl+C stops everything.
set -e
HOST=${1:-127.0.0.1}
PORT=${2:-8000}
PY=.venv/bin/python
export DEBUG=${DEBUG:-1}
export SITE_URL=${SITE_URL:-http://$HOST:$PORT}
unset REDIS_URL
# The National Public Service Portal (docs/national-portal.md): the project's sandbox of it at
# $SITE_URL/sandbox/dvcqg/ (the Celery worker, another process, reaches it over HTTP there), with
# test citizens for the national-account sign-in and a few online submissions waiting.
export DVCQG_SANDBOX=${DVCQG_SANDBOX:-1}
# Signed results (docs/signing.md): leaders sign through the project's own CSC sandbox
# (/sandbox/csc/: the "phone" confirms by itself after a few seconds, or tap Confirm there) with its
# timestamp authority, all offline.
export SIGNING_CSC_SANDBOX=${SIGNING_CSC_SANDBOX:-1}
export RESULT_SIGNING_BACKEND=${RESULT_SIGNING_BACKEND:-csc}
export SIGNING_TSA_URL=${SIGNING_TSA_URL-$SITE_URL/sandbox/csc/tsa}
export SIGNING_SANDBOX_AUTO_CONFIRM_SECONDS=${SIGNING_SANDBOX_AUTO_CONFIRM_SECONDS:-5}
mkdir -p var/celery-broker var/mail

$PY manage.py migrate --noinput
# The sample dossiers are made before the web server (and so the signing sandbox) is up: the ones
# seeded as already approved carry no signed result; the two awaiting approval are for trying it.
RESULT_SIGNING_BACKEND= $PY manage.py seed_demo
if [ "$DVCQG_SANDBOX" = "1" ]; then $PY manage.py dvcqg_sandbox --submissions 2; fi
if [ "$SIGNING_CSC_SANDBOX" = "1" ]; then $PY manage.py signing_sandbox; fi

.venv/bin/celery -A motcua worker -B --pool solo --loglevel INFO \
  --schedule var/celerybeat-schedule >var/celery.log 2>&1 &
CELERY_PID=$!
trap 'kill $CELERY_PID 2>/dev/null; wait $CELERY_PID 2>/dev/null' EXIT INT TERM

cat <<MSG

  Một Cửa is running at $SITE_URL/
    officer workspace  $SITE_URL/can-bo/      admin  $SITE_URL/admin/
    API docs           $SITE_URL/api/docs/
    national portal    $SITE_URL/sandbox/dvcqg/  (sandbox: online submissions, faults, test citizens)
    citizen sign-in    $SITE_URL/cong-dan/ho-so/  (test citizen 001090000001, password motcua-demo)
    signing sandbox    $SITE_URL/sandbox/csc/  (the leader's "phone": confirm signatures, inject faults)
  Demo accounts (password: motcua-demo):
    admin (administrator), tiepnhan (reception), chuyenvien (specialist),
    lanhdao (leader), giamsat (supervisor); at the provincial department:
    chuyenvien_so (specialist), lanhdao_so (leader)
  Celery worker + beat log: var/celery.log   e-mails are written to var/mail/
  Press Ctrl+C to stop.

MSG
$PY manage.py runserver "$HOST:$PORT" --noreload
