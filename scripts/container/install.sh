#!/usr/bin/env bash
# Container stage 2: install a wheel and its dependencies into a new virtualenv PREFIX,
# which the runtime stage copies as it is (same base image, same interpreter path).
# Usage: install.sh PREFIX WHEEL
set -euo pipefail
prefix=${1:?usage: install.sh PREFIX WHEEL}
wheel=${2:?usage: install.sh PREFIX WHEEL}
python=${PYTHON:-python3}
"$python" -m venv "$prefix"
"$prefix/bin/pip" install --quiet --disable-pip-version-check "$wheel"
"$prefix/bin/cryptoviz" --version
