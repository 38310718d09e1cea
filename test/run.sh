#!/usr/bin/env bash
# `npm test`: installs what is missing, builds, type-checks, lints, then runs every test phase
# (unit + integration on real Prometheus data, the loopback cluster with real kubectl, the
# extension in a real VS Code workbench) and ends with one line `N passed, N failed`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
node scripts/build.mjs --tests
npx --no-install eslint --max-warnings=0 .
exec node scripts/test.mjs "$@"
