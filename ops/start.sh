#!/usr/bin/env bash
# The README's first command (`npm start`): set up, migrate, load the demo data set through the real
# flows, then run the API and the workers in one process and print the URL.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash ops/setup.sh
# Demo mode: the demo secrets below exist only here (published in the README). `magistral start` refuses
# to listen on a non-loopback HOST while any is in use (src/cli/demo-secrets.ts).
# A development admin token so the queue dashboard and admin API can be tried at once.
export MAGISTRAL_ADMIN_TOKEN="${MAGISTRAL_ADMIN_TOKEN:-magistral-demo-admin-token}"
# Demo credentials of the 1C exchange (ops/flows/onec.yaml reads them from these variables).
export ONEC_USER="${ONEC_USER:-site}" ONEC_PASSWORD="${ONEC_PASSWORD:-magistral-demo-1c}"
# Demo credentials of the SAP IDoc endpoint (ops/flows/sap-idoc.yaml reads them from these variables).
export SAP_IDOC_USER="${SAP_IDOC_USER:-sap}" SAP_IDOC_PASSWORD="${SAP_IDOC_PASSWORD:-magistral-demo-sap}"
./bin/magistral.js migrate
# A demo run that failed is named with its reason above; the server starts anyway (held runs are not
# failures: demo says in one line which run and `magistral runs approve|reject ID`).
./bin/magistral.js demo || echo "magistral: the demo data did not load completely (exit $?; the run above says why); starting the server anyway" >&2
echo "magistral: admin token for /admin/api and /admin/queues: ${MAGISTRAL_ADMIN_TOKEN}"
echo "magistral: open http://127.0.0.1:${PORT:-3000}/admin/queues?token=${MAGISTRAL_ADMIN_TOKEN}"
echo "magistral: 1C exchange (site address in 1C): http://127.0.0.1:${PORT:-3000}/exchange/onec/default  login ${ONEC_USER} / ${ONEC_PASSWORD}"
echo "magistral: SAP IDoc endpoint (SM59 / XML HTTP port): http://127.0.0.1:${PORT:-3000}/exchange/sap/idoc/erp  login ${SAP_IDOC_USER} / ${SAP_IDOC_PASSWORD}"
exec ./bin/magistral.js start
