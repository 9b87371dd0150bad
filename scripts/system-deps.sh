#!/bin/sh
# Installs the Debian packages Một Cửa needs when they are missing (nothing else):
#   WeasyPrint: pango + harfbuzz-subset; fonts with Vietnamese glyphs (Times New Roman →
#   Liberation Serif); tests: chromium (Playwright drives Debian's browser, never a download),
#   poppler-utils (pdftoppm) and zbar-tools (QR decoding); gettext for translators.
# Usage: sh scripts/system-deps.sh run|test|venv   (venv: only python3-venv, for a bare Debian)
set -e
RUN_PKGS="libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-liberation2 fonts-dejavu-core fonts-noto-core"
case "${1:-test}" in
  venv) PKGS="python3-venv" ;;
  run) PKGS="$RUN_PKGS" ;;
  *) PKGS="$RUN_PKGS chromium poppler-utils zbar-tools gettext" ;;
esac
command -v dpkg-query >/dev/null 2>&1 || { echo "system-deps: not a Debian system; install the equivalents of: $PKGS"; exit 0; }
MISSING=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || MISSING="$MISSING $p"
done
[ -z "$MISSING" ] && exit 0
echo "system-deps: installing$MISSING"
SUDO=""
if [ "$(id -u)" != "0" ]; then
  command -v sudo >/dev/null 2>&1 && SUDO="sudo" || { echo "system-deps: run as root or install:$MISSING" >&2; exit 1; }
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $MISSING
