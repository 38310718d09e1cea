# Sourced by the install scripts (ensure-deps.sh, ensure-kubectl.sh, ensure-prometheus.sh,
# test/ui/install.sh): one clean environment and one way to fail with a one-line message.

# A nested install must not inherit the outer npm's npm_* / npm_config_* variables: under
# `npm test` they name Node 20's npm (npm_config_user_agent), and code-server's postinstall reads
# its Node version from there (issue 10). Uppercase NPM_CONFIG_* are a user's own settings: kept.
clean_npm_env() {
  local v
  for v in $(compgen -e); do
    case $v in npm_*) unset "$v" ;; esac
  done
}

# fail <who> <message>: one line on stderr, exit 1.
fail() { echo "$1: $2" >&2; exit 1; }

# need_free_mb <who> <dir> <MB> <what>: a clear message instead of a half-written install.
need_free_mb() {
  local free
  mkdir -p "$2"
  free=$(df -Pm "$2" | awk 'NR==2 {print $4}')
  local want=${TSDBDUMP_MIN_FREE_MB:-$3}
  [ "${free:-0}" -ge "$want" ] ||
    fail "$1" "only ${free} MB free in $2, and $4 needs about ${want} MB: free some disk space (or set TSDBDUMP_CACHE to a bigger disk)"
}

# as_root <who> <cmd...>: runs a command as root (directly, or through sudo), else fails clearly.
as_root() {
  local who=$1; shift
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@"
  else fail "$who" "installing Debian packages needs root: run as root or with password-less sudo (missing: ${APT_PACKAGES:-})"
  fi
}

# apt_install <who> <log> <packages...>: apt-get update + install, failing with one line that says
# whether the package mirrors were unreachable or the install itself failed (log kept).
apt_install() {
  local who=$1 log=$2; shift 2
  APT_PACKAGES="$*"
  echo "$who: installing Debian packages: $*" >&2
  as_root "$who" true
  as_root "$who" apt-get -o DPkg::Lock::Timeout=900 update -qq > "$log" 2>&1 ||
    fail "$who" "cannot reach Debian's package mirrors (no network?) to install $*; see $log"
  grep -q '^\(W\|E\): \(Failed to fetch\|Some index files failed\)' "$log" &&
    fail "$who" "cannot reach Debian's package mirrors (no network?) to install $*; see $log"
  DEBIAN_FRONTEND=noninteractive as_root "$who" apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "$@" \
    >> "$log" 2>&1 || fail "$who" "apt-get install $* failed; see $log"
}

# The tool cache (Node 24 + code-server, kubectl, Prometheus 3.x): TSDBDUMP_CACHE or ~/.cache/tsdbdump.
tool_cache() {
  local c=${TSDBDUMP_CACHE:-$HOME/.cache/tsdbdump}
  mkdir -p "$c/logs" && (cd "$c" && pwd)
}
