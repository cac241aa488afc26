#!/usr/bin/env bash
# The whole suite again on Node 24 (the Node OpenClaw requires), without coverage, in a copy of the
# repository so that its native builds (isolated-vm 6, better-sqlite3 13) do not touch this one's.
# Node 24 comes from the npm registry as the `node` package; its platform package carries the
# headers node-gyp builds against.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

npm install --prefix "$work/node24" --no-audit --no-fund --no-save --loglevel=error node@24 >/dev/null
bin="$work/node24/node_modules/node/bin"
headers="$(ls -d "$work"/node24/node_modules/node/node_modules/node-linux-* 2>/dev/null | head -1)"
[ -x "$bin/node" ] && [ -d "$headers/include/node" ] || { echo "ci-node24: Node 24 did not install" >&2; exit 1; }
echo "ci-node24: $("$bin/node" --version)"

# Tracked and new (not ignored) files, as they are in this checkout.
mkdir "$work/repo"
(cd "$root" && git ls-files -z -co --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$work/repo"
# Tests find the shared corpora and seed configs beside the repository.
[ -d "$root/../shared" ] && ln -s "$root/../shared" "$work/shared"

cd "$work/repo"
export PATH="$bin:$PATH" npm_config_nodedir="$headers"
npm ci --no-audit --no-fund --loglevel=error
npm run build --silent
CLAWGUARD_NO_COVERAGE=1 node scripts/test.mjs > "$work/node24.log" 2>&1 || { tail -n 80 "$work/node24.log"; echo "ci-node24: the suite failed on $(node --version)"; exit 1; }
echo "ci-node24: $(tail -n 1 "$work/node24.log") on $(node --version)"
