#!/usr/bin/env bash
# `npm test`: installs what is missing (scripts/ensure-deps.sh), builds, type-checks, lints, then
# runs every test phase (unit + integration on real Prometheus data, the loopback cluster with real
# kubectl, the extension in a real VS Code workbench, `npm start` from a clean clone) and ends with
# one line `N passed, N failed`.
set -euo pipefail
cd "$(dirname "$0")/.."
# The ensure step prints `export PATH=…` for the tools it placed in the tool cache (kubectl).
tool_paths=$(bash scripts/ensure-deps.sh test)
eval "$tool_paths"
node scripts/build.mjs --tests
npx --no-install eslint --max-warnings=0 .
exec node scripts/test.mjs "$@"
