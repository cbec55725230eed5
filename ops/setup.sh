#!/usr/bin/env bash
# Shared set-up for the README's two commands: Node dependencies (when missing or stale), then
# PostgreSQL and Redis (ops/ensure-services.sh). Safe to run again and again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need_node_major=20
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt "$need_node_major" ]; then
  echo "magistral: Node.js ${need_node_major} or newer is needed (found: $(node --version 2>/dev/null || echo none))." >&2
  echo "  Debian/Ubuntu: install Node.js 20 (e.g. from the NodeSource packages), then run this command again." >&2
  exit 1
fi

# Install dependencies when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "magistral: installing dependencies (npm ci)…"
  npm ci --no-audit --no-fund --loglevel=error
fi

bash ops/ensure-services.sh
