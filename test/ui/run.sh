#!/usr/bin/env bash
# The `vscode` test phase (called by scripts/test.mjs with TSDBDUMP_COUNTS=<file>): installs Node 24
# and code-server into ${TSDBDUMP_CACHE:-$HOME/.cache/tsdbdump} when missing, then runs the
# extension-host suite and the acceptance tests of the packaged .vsix (test/ui/run.mjs).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash test/ui/install.sh > /dev/null
exec node test/ui/run.mjs
