#!/usr/bin/env bash
# The cluster tests' truth test is the real kubectl, 1.30 or newer (WebSocket exec). When the
# machine has none, builds one from the Go module proxy into <tool cache>/bin (a `main` over
# k8s.io/kubectl/pkg/cmd, as kubectl's own cmd/kubectl is). Prints the directory holding kubectl.
# Env: TSDBDUMP_CACHE, TSDBDUMP_BUILD_KUBECTL=1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
clean_npm_env
KUBECTL_MODULE_VERSION=v0.37.2
CACHE=$(tool_cache)

kubectl_minor() { "$1" version --client -o json 2>/dev/null | sed -n 's/.*"minor": *"\([0-9]*\).*/\1/p' | head -1; }
# TSDBDUMP_BUILD_KUBECTL=1 ignores the machine's kubectl (to check the build path on a machine that has one).
if [ "${TSDBDUMP_BUILD_KUBECTL:-}" != 1 ] && command -v kubectl >/dev/null 2>&1 && [ "$(kubectl_minor kubectl)" -ge 30 ] 2>/dev/null; then
  dirname "$(command -v kubectl)"; exit 0
fi
out="$CACHE/bin"
if [ -x "$out/kubectl" ] && [ "$(kubectl_minor "$out/kubectl")" -ge 30 ] 2>/dev/null; then echo "$out"; exit 0; fi

command -v go >/dev/null 2>&1 || PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null 2>&1 ||
  fail ensure-kubectl "no kubectl 1.30+ and no Go toolchain to build one (looked on PATH and in /usr/local/go/bin)"
need_free_mb ensure-kubectl "$CACHE" 1500 "building kubectl"
exec 9> "$CACHE/.kubectl.lock"
flock 9
echo "ensure-kubectl: no kubectl 1.30+ on this machine: building kubectl $KUBECTL_MODULE_VERSION from the Go module proxy (once)" >&2
work="$CACHE/kubectl-build"
log="$CACHE/logs/kubectl-build.log"
rm -rf "$work" && mkdir -p "$work" "$out"
start=$(date +%s)
(
  cd "$work"
  export GOFLAGS=-mod=mod GOTOOLCHAIN=local
  go mod init tsdbdump-kubectl-build
  cat > main.go <<'GO'
// kubectl, as k8s.io/kubectl's cmd/kubectl/kubectl.go builds it.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
)

func main() {
	os.Exit(cli.Run(cmd.NewDefaultKubectlCommand()))
}
GO
  go get "k8s.io/kubectl@$KUBECTL_MODULE_VERSION" k8s.io/component-base
  go mod tidy
  n=${KUBECTL_MODULE_VERSION#v0.}
  go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v1.$n -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${n%%.*}" -o "$out/kubectl.new" .
) > "$log" 2>&1 || { tail -15 "$log" >&2; fail ensure-kubectl "building kubectl failed (Go module proxy unreachable?); see $log"; }
mv "$out/kubectl.new" "$out/kubectl" && rm -rf "$work"
echo "ensure-kubectl: built kubectl in $(( $(date +%s) - start )) s" >&2
echo "$out"
