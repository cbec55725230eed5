#!/usr/bin/env bash
# The README's first command (`npm start`): set up, migrate, load the demo data set through the real
# flows, then run the API and the workers in one process and print the URL.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash ops/setup.sh
# A development admin token so the queue dashboard and admin API can be tried at once.
export MAGISTRAL_ADMIN_TOKEN="${MAGISTRAL_ADMIN_TOKEN:-magistral-demo-admin-token}"
./bin/magistral.js migrate
./bin/magistral.js demo
echo "magistral: admin token for /admin/api and /admin/queues: ${MAGISTRAL_ADMIN_TOKEN}"
echo "magistral: open http://127.0.0.1:${PORT:-3000}/admin/queues?token=${MAGISTRAL_ADMIN_TOKEN}"
exec ./bin/magistral.js start
