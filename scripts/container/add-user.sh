#!/usr/bin/env bash
# Container stage 3: the unprivileged user the appliance runs as, owner of its state folder.
# Usage: add-user.sh ROOT: the filesystem to change, / in the image (the tests pass a folder).
set -euo pipefail
root=${1:?usage: add-user.sh ROOT}
uid=10001
prefix=()
if [ "$root" != / ]; then
    prefix=(--prefix "$root")
fi
groupadd "${prefix[@]}" --gid "$uid" cryptoviz
# --no-log-init: a high uid would otherwise grow a sparse lastlog of gigabytes in the layer.
useradd "${prefix[@]}" --uid "$uid" --gid "$uid" --no-log-init --no-create-home \
    --home-dir /var/lib/cryptoviz --shell /usr/sbin/nologin cryptoviz
install -d -m 0750 -o "$uid" -g "$uid" "${root%/}/var/lib/cryptoviz"
