#!/usr/bin/env bash
# Make sure python3 can create virtual environments (Debian splits venv/ensurepip into
# python3-venv). Installs it with apt when run as root on Debian; otherwise says what to do.
set -euo pipefail
PYTHON=${1:-python3}
if "$PYTHON" -c 'import sys, venv, ensurepip; assert sys.version_info >= (3, 11)' 2>/dev/null; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-pip >/dev/null
    exit 0
fi
echo "CryptoViz needs Python >= 3.11 with venv: apt-get install python3 python3-venv" >&2
exit 1
