#!/usr/bin/env bash
# Builds real Prometheus 3.x and promtool from the Go module proxy into the tool cache, once per
# version, for the tests (Debian's 2.42 stays beside them). Prints one line per version on stdout:
#   <version> <dir holding prometheus and promtool>
# Prometheus's go.mod may carry replace directives, which `go install …@version` refuses, so each
# version is built from a small wrapper module that requires it and repeats its replace lines.
# Env: TSDBDUMP_CACHE (default ~/.cache/tsdbdump), TSDBDUMP_PROMETHEUS_VERSIONS (module versions).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
clean_npm_env
# v0.316.0 = Prometheus 3.16 (newest), v0.305.3 = 3.5.3 (the long-term-support line).
VERSIONS=${TSDBDUMP_PROMETHEUS_VERSIONS:-"v0.316.0 v0.305.3"}
CACHE=$(tool_cache)

# Go's standard install folder when go is not on PATH.
command -v go >/dev/null 2>&1 || PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null 2>&1 ||
  fail ensure-prometheus "no Go toolchain (looked on PATH and in /usr/local/go/bin); install Go to build Prometheus 3.x for the tests"

exec 9> "$CACHE/.prometheus.lock"
flock 9
for v in $VERSIONS; do
  out="$CACHE/prometheus/$v"
  if [ ! -x "$out/bin/prometheus" ] || [ ! -x "$out/bin/promtool" ]; then
    need_free_mb ensure-prometheus "$CACHE" 2000 "building Prometheus $v"
    echo "ensure-prometheus: building Prometheus $v and promtool from the Go module proxy (a few minutes, once)" >&2
    work="$out/build"
    rm -rf "$work" && mkdir -p "$work"
    log="$CACHE/logs/prometheus-$v.log"
    start=$(date +%s)
    (
      cd "$work"
      export GOFLAGS=-mod=mod GOTOOLCHAIN=local
      go mod init tsdbdump-prometheus-build
      go mod download -json "github.com/prometheus/prometheus@$v" > download.json
      src=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' download.json)
      # Repeat the replace directives of Prometheus's own go.mod (one-line and block forms).
      awk '/^replace \(/{b=1;next} b&&/^\)/{b=0;next} b{print "replace " $0;next} /^replace /{print}' "$src/go.mod" >> go.mod
      go get "github.com/prometheus/prometheus@$v"
      # Module v0.3MM.P is Prometheus 3.MM.P; the version is what /api/v1/status/buildinfo reports.
      n=${v#v0.}; minor=${n%%.*}; version="3.$((10#$minor - 300)).${n#*.}"
      go build -tags remove_all_sd -trimpath -ldflags "-s -w -X github.com/prometheus/common/version.Version=$version" \
        -o "$out/bin.new/" github.com/prometheus/prometheus/cmd/prometheus github.com/prometheus/prometheus/cmd/promtool
    ) > "$log" 2>&1 || { tail -20 "$log" >&2; fail ensure-prometheus "building Prometheus $v failed (log: $log)"; }
    rm -rf "$out/bin" && mv "$out/bin.new" "$out/bin" && rm -rf "$work"
    echo "ensure-prometheus: built $v in $(( $(date +%s) - start )) s" | tee -a "$CACHE/logs/prometheus-build-times.txt" >&2
  fi
  echo "$v $out/bin"
done
