#!/bin/sh
# `make run`: the whole portal on one machine without any server: SQLite in var/, Celery
# worker + beat on kombu's filesystem broker in var/celery-broker. Ctrl+C stops everything.
set -e
HOST=${1:-127.0.0.1}
PORT=${2:-8000}
PY=.venv/bin/python
export DEBUG=${DEBUG:-1}
# The demo shows our Vietnamese error pages; FRIENDLY_ERROR_PAGES=0 make run gives Django's debug pages.
export FRIENDLY_ERROR_PAGES=${FRIENDLY_ERROR_PAGES:-1}
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

# The sample dossier's code and PIN (kept by seed_demo: they are shown on every run).
SAMPLE_CODE=""; SAMPLE_PIN=""
if [ -r "${DEMO_SAMPLE_FILE:-var/demo-sample.txt}" ]; then
  read -r SAMPLE_CODE SAMPLE_PIN <"${DEMO_SAMPLE_FILE:-var/demo-sample.txt}" || true
fi

cat <<MSG

  Một Cửa đang chạy tại $SITE_URL/
    không gian cán bộ   $SITE_URL/can-bo/      quản trị  $SITE_URL/admin/
    ki-ốt sảnh chờ      $SITE_URL/kiosk/
    tài liệu API        $SITE_URL/api/docs/
    cổng quốc gia       $SITE_URL/sandbox/dvcqg/  (môi trường thử: hồ sơ trực tuyến, lỗi giả lập, công dân thử)
    công dân đăng nhập  $SITE_URL/cong-dan/ho-so/  (công dân thử 001090000001, mật khẩu motcua-demo)
    ký số thử nghiệm    $SITE_URL/sandbox/csc/  ("điện thoại" của lãnh đạo: xác nhận chữ ký, giả lập lỗi)
  Tài khoản thử (mật khẩu: motcua-demo):
    admin (quản trị), tiepnhan (tiếp nhận), chuyenvien (chuyên viên),
    lanhdao (lãnh đạo), giamsat (giám sát)
MSG
if [ -n "$SAMPLE_CODE" ]; then
  cat <<MSG
  Hồ sơ mẫu để thử tra cứu: mã hồ sơ $SAMPLE_CODE, mã PIN $SAMPLE_PIN
    $SITE_URL/tra-cuu/?ma=$SAMPLE_CODE&pin=$SAMPLE_PIN
MSG
fi
cat <<MSG
  Nhật ký Celery: var/celery.log   thư điện tử được ghi vào var/mail/
  Đổi cổng hoặc địa chỉ: make run PORT=8080 HOST=0.0.0.0
  Nhấn Ctrl+C để dừng.

MSG
$PY manage.py runserver "$HOST:$PORT" --noreload
