#!/usr/bin/env bash
# Installs what tsdbdump's tests and sample need on a fresh Debian machine, skipping what is there:
# Debian packages (real Prometheus for fixtures and test pods, busybox for pod filesystems, Chromium
# for the workbench tests) and the npm dependencies. code-server lives in a cache folder and is
# installed by test/ui/ensure-code-server.sh when the UI tests first need it.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || need+=(prometheus)
[ -x /bin/busybox ] || command -v busybox >/dev/null 2>&1 || need+=(busybox-static)
[ "${1:-}" = --no-browser ] || command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ "${1:-}" = --no-browser ] || dpkg -s libkrb5-dev >/dev/null 2>&1 || need+=(libkrb5-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "ensure-deps: installing Debian packages: ${need[*]}" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get -o DPkg::Lock::Timeout=900 update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${need[@]}" >&2
fi
if [ ! -d node_modules/esbuild ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "ensure-deps: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
