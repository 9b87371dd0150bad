#!/usr/bin/env sh
# Dependency and code security scan, run by CI (.ci/run) and by hand:
#   sh scripts/security-scan.sh
# 1. pip-audit: every pinned runtime package against the PyPI/OSV advisory database
#    (needs network access to pypi.org; exit 1 on any known vulnerability).
# 2. bandit: our Python code, skipped rules documented in scripts/bandit.yaml.
set -eu
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

echo "== pip-audit -r requirements.txt"
# Packages PyPI's advisory API does not know (a private mirror, or a sandbox whose proxy
# answers 404 for release pages) are listed as "could not be audited"; PIP_AUDIT_STRICT=1
# turns that into a failure (use it where pypi.org is fully reachable).
strict=""
[ "${PIP_AUDIT_STRICT:-0}" = "1" ] && strict="--strict"
report=$(mktemp)
trap 'rm -f "$report"' EXIT
status=0
"$VENV/bin/pip-audit" --progress-spinner off $strict -r requirements.txt >"$report" 2>&1 || status=$?
grep -v "could not be audited" "$report" || true
skipped=$(grep -c "could not be audited" "$report" || true)
[ "$skipped" -gt 0 ] && echo "pip-audit: $skipped package(s) could not be audited (not known to the advisory API)"
[ "$status" -eq 0 ] || { echo "pip-audit failed (exit status $status)" >&2; exit "$status"; }

echo "== bandit"
"$VENV/bin/bandit" -q -c scripts/bandit.yaml -r motcua procedures dossiers accounts -x '*/migrations/*,*/tests/*'
echo "security scan: clean"
