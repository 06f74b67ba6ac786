#!/usr/bin/env bash
# Make sure Node.js (>= 18) and npm are there to build and test the dashboard (web/).
# Installs Debian's packages with apt when run as root; otherwise says what to do.
set -euo pipefail
node_ok() {
    command -v node >/dev/null && command -v npm >/dev/null &&
        node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)'
}
if node_ok; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    node_ok && exit 0
fi
echo "The CryptoViz dashboard needs Node.js >= 18 and npm: apt-get install nodejs npm" >&2
exit 1
