#!/usr/bin/env bash
# Container stage 2: build the cryptoviz wheel from SRC, which already holds the built
# dashboard, so the build backend needs no Node.js. Usage: build-wheel.sh SRC OUT
set -euo pipefail
src=${1:?usage: build-wheel.sh SRC OUT}
out=${2:?usage: build-wheel.sh SRC OUT}
python=${PYTHON:-python3}
test -f "$src/cryptoviz/static/dashboard/index.html" || {
    echo "build-wheel: $src/cryptoviz/static/dashboard is not built" >&2
    exit 1
}
mkdir -p "$out"
"$python" -m pip wheel --no-deps --wheel-dir "$out" "$src"
ls "$out"/cryptoviz-*.whl
