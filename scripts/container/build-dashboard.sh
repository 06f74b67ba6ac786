#!/usr/bin/env bash
# Container stage 1 (Node.js): build the dashboard from web/ into cryptoviz/static/dashboard
# (vite.config.ts names the output folder). Usage: build-dashboard.sh SRC
set -euo pipefail
src=${1:?usage: build-dashboard.sh SRC}
cd "$src/web"
# The build tools are devDependencies: an inherited NODE_ENV=production would skip them.
unset NODE_ENV
# The locked versions; `npm ci` refuses a lock that lacks other platforms' rollup builds.
npm install --no-save --no-audit --no-fund
npm run build
test -f "$src/cryptoviz/static/dashboard/index.html"
