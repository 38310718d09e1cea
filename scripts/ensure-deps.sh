#!/usr/bin/env bash
# The one ensure step of `npm start` and `npm test` on a fresh Debian machine: installs what is
# missing, skipping what is there, and fails with one line saying why when it cannot.
#   ensure-deps.sh start   Debian packages, npm dependencies, Node 24 + code-server (tool cache)
#   ensure-deps.sh test    the same, plus Prometheus 3.x + promtool (scripts/ensure-prometheus.sh)
#                          and kubectl 1.30+ (scripts/ensure-kubectl.sh, only when the machine has
#                          none), both built from the Go module proxy into the tool cache; prints
#                          `export PATH=…` for a kubectl it placed there.
# Tool cache: TSDBDUMP_CACHE, default ~/.cache/tsdbdump. Every nested install runs without the
# outer npm's npm_* variables (scripts/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
clean_npm_env
mode=${1:-test}
case $mode in start|test) ;; *) fail ensure-deps "usage: ensure-deps.sh start|test" ;; esac
CACHE=$(tool_cache)

# Debian packages: real Prometheus 2.42 (fixtures, test pods) and busybox (pod filesystems) for the
# tests; Chromium for the workbench tests; headers and compilers for code-server's native modules.
need=()
if [ "$mode" = test ]; then
  command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || need+=(prometheus)
  [ -x /bin/busybox ] || command -v busybox >/dev/null 2>&1 || need+=(busybox-static)
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
fi
dpkg -s libkrb5-dev >/dev/null 2>&1 || need+=(libkrb5-dev)
for tool in g++ make python3; do command -v $tool >/dev/null 2>&1 || need+=($tool); done
command -v flock >/dev/null 2>&1 || need+=(util-linux)
[ -f /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
[ ${#need[@]} -eq 0 ] || apt_install ensure-deps "$CACHE/logs/apt.log" "${need[@]}"

if [ ! -d node_modules/esbuild ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  need_free_mb ensure-deps . 600 "the npm dependencies"
  echo "ensure-deps: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error > "$CACHE/logs/npm-ci.log" 2>&1 || {
    tail -5 "$CACHE/logs/npm-ci.log" >&2
    if grep -qE 'ENOTFOUND|ECONNREFUSED|EAI_AGAIN|ETIMEDOUT|ECONNRESET|network' "$CACHE/logs/npm-ci.log"; then
      fail ensure-deps "cannot reach the npm registry (no network?) to install the npm dependencies; see $CACHE/logs/npm-ci.log"
    fi
    grep -q ENOSPC "$CACHE/logs/npm-ci.log" && fail ensure-deps "the disk is full: npm ci could not write node_modules"
    fail ensure-deps "npm ci failed; see $CACHE/logs/npm-ci.log"
  }
fi

bash test/ui/install.sh > /dev/null

if [ "$mode" = test ]; then
  # Real Prometheus 3.x + promtool for the tests, built from the Go module proxy once per version.
  bash scripts/ensure-prometheus.sh > /dev/null
  kubectl_dir=$(bash scripts/ensure-kubectl.sh)
  # Only a kubectl built into the tool cache changes PATH; the machine's own stays where it is.
  [ "$kubectl_dir" != "$CACHE/bin" ] || echo "export PATH=\"$kubectl_dir:\$PATH\""
fi
