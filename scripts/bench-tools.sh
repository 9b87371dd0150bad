#!/usr/bin/env bash
# The benchmark's load generator: Debian's wrk (issue 20: a C generator leaves the server the CPU
# that the asyncio one takes). Installed with apt when missing; where it cannot be installed (not
# Debian, no root), bench/run.py says so and falls back to bench/loadgen.py (docs/performance.md).
set -euo pipefail

command -v wrk >/dev/null 2>&1 && exit 0
SUDO=""
if [ "$(id -u)" != "0" ]; then
    command -v sudo >/dev/null 2>&1 && SUDO="sudo -n"
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "bench-tools: wrk is not installed and this is not a Debian system: the asyncio load generator is used" >&2
    exit 0
fi
echo "bench-tools: installing wrk"
if ! { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
    && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk </dev/null >/dev/null; }; then
    echo "bench-tools: could not install wrk: the asyncio load generator is used" >&2
fi
