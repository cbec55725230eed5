#!/usr/bin/env bash
# The README's second command (`npm test`): set up, then typecheck, lint and run the whole suite
# against the real PostgreSQL and Redis. Extra arguments go to vitest (e.g. a file filter).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash ops/setup.sh
# The cabinet is tested in a real browser: Debian's chromium (and pdftotext for PDF price lists).
bash ops/ensure-browser.sh
# Typecheck always: vitest (esbuild) strips types, so a part of the suite would pass on code that
# does not compile. Lint and the generated-types check stay whole-suite only (they are slower and
# not about the files under test).
echo "magistral: typecheck"
npx tsc --noEmit -p .
if [ "$#" -eq 0 ]; then
  echo "magistral: lint"
  npx eslint .
  npx tsx ops/gen-types.ts --check
fi
echo "magistral: tests"
npx vitest run "$@"
# The fault suite (test/faults: its own PostgreSQL cluster and redis-server, restarted and killed on
# purpose) runs alone after the suite, whole runs only: 21 cases in ~5 min (285 s and 343 s measured on 2 cores
# shared with other jobs, load average 8-11; 17 of the cases fault a run in each of its stages, ~10 s each).
if [ "$#" -eq 0 ]; then
  echo "magistral: fault suite"
  npm run --silent test:faults
fi
