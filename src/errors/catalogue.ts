// The catalogue of MAG_ERR_* codes: each with its HTTP status and what it means for an operator.
// The one list: ErrorCode and the status map derive from it, the table in src/api/README.md is checked against it.

export interface CatalogueEntry {
  /** HTTP status an API answers with; for codes seen only in runs and logs, the nearest fitting one. */
  status: number;
  /** One sentence an operator can act on: what happened and what to do. */
  meaning: string;
}

export const CATALOGUE = {
  MAG_ERR_CONFIG: { status: 500, meaning: 'An environment variable has a wrong value; the message names the variable and the rule (schemas/config.schema.json): fix it and restart.' },
  MAG_ERR_FLOW_INVALID: { status: 400, meaning: 'A flow definition breaks schemas/flow.schema.json or names a missing mapping; every problem is listed with its line: fix the YAML and apply again.' },
  MAG_ERR_FLOW_NOT_FOUND: { status: 404, meaning: 'No flow has this name: check `magistral flows list` and apply the flow first.' },
  MAG_ERR_MAPPING_INVALID: { status: 400, meaning: 'A mapping file breaks schemas/mapping.schema.json or cannot be compiled; fix the file named in the message (`magistral mappings check REF`).' },
  MAG_ERR_CONNECTOR_UNKNOWN: { status: 400, meaning: 'The flow names a connector this process does not have; check `source.connector` against the connectors listed in the README.' },
  MAG_ERR_PAYLOAD_MALFORMED: { status: 422, meaning: 'The payload cannot be read as a whole (wrong column count, bad XML, unterminated quote); the run failed untouched at the file and line named: fix the export and send it again.' },
  MAG_ERR_PAYLOAD_ENCODING: { status: 422, meaning: 'The payload is not in the declared or detected encoding; set `source.options.encoding` of the flow or export in UTF-8.' },
  MAG_ERR_PAYLOAD_TOO_LARGE: { status: 413, meaning: 'The payload is larger than MAGISTRAL_MAX_PAYLOAD_BYTES: split the export or raise the limit.' },
  MAG_ERR_EXCHANGE_REFUSED: { status: 400, meaning: 'An exchange refused a system\'s request (a POST over file_limit, a file the session never received, a session already completed); the sender is answered `failure` with the reason and nothing stored before is lost: fix what the message names and send again.' },
  MAG_ERR_IDOC_REFUSED: { status: 422, meaning: 'The SAP IDoc endpoint refused a message SAP sent (a message or basic type no flow of the endpoint accepts, a SOAP envelope that does not hold an IDoc message, an IDoc without control record); the answer names the IDoc (DOCNUM) and lists what the endpoint accepts; nothing was stored: fix the partner profile (WE20) or the flow\'s messageTypes and send again.' },
  MAG_ERR_FILE_NAME: { status: 400, meaning: 'A sender\'s file name was refused (`..`, an absolute path, control characters, too long); nothing was stored under it: send the file under a plain relative name.' },
  MAG_ERR_PULL_FAILED: { status: 502, meaning: 'A pull could not read the remote system (network, HTTP error, an entry without its key); the message names the resource and the remote\'s answer, and the next scheduled pull retries.' },
  MAG_ERR_PULL_AUTH: { status: 502, meaning: 'The remote system refused the pull\'s credentials or they are not set; fix the environment variables named by the flow (userEnv/passwordEnv): retrying will not help.' },
  MAG_ERR_SEND_REFUSED: { status: 502, meaning: 'A remote system refused an order sent through an outbound flow for good (credentials refused, the order rejected as it is: an unknown customer or material, no SAP customer number); the order\'s export is recorded failed with the remote\'s own message: fix what it names, then change the order (or its master data) to send it again.' },
  MAG_ERR_RUN_NOT_FOUND: { status: 404, meaning: 'No run has this id: check `magistral runs list`.' },
  MAG_ERR_RUN_STATE: { status: 409, meaning: 'The run is not in a state that allows this (approve needs held, replay needs finished), or a wait timed out; the message says the state it is in.' },
  MAG_ERR_RUN_HELD: { status: 409, meaning: 'A stage held the run for a person with the reason given; approve it (`magistral runs approve ID`) or reject it.' },
  MAG_ERR_RETRYABLE: { status: 503, meaning: 'A stage hit a transient failure (a lock, a remote blip) and is retried with the flow\'s backoff; act only when it repeats until the run fails.' },
  MAG_ERR_NO_WORKERS: { status: 503, meaning: 'No worker of this installation is connected to the queues, so nothing would finish the run; start workers (`magistral start --workers-only`) or let the CLI start its own.' },
  MAG_ERR_STORAGE_FULL: { status: 507, meaning: 'The disk under MAGISTRAL_DATA_DIR (the inbox, the file store) is full: the payload or file was refused and nothing of it was kept; what was stored before is intact. Free space (or grow the volume) and send again.' },
  MAG_ERR_UNAVAILABLE: { status: 503, meaning: 'PostgreSQL (or Redis) does not answer right now (restarting, failing over, unreachable) and nothing was changed; retry after the Retry-After seconds, and see which one is down on /readyz.' },
  MAG_ERR_UNAUTHORIZED: { status: 401, meaning: 'The request has no valid credentials (admin token, API key or session): send them or check MAGISTRAL_ADMIN_TOKEN.' },
  MAG_ERR_FORBIDDEN: { status: 403, meaning: 'The credentials are valid but not allowed this (missing scope, blocked client, no client named); the message says what is missing.' },
  MAG_ERR_BAD_REQUEST: { status: 400, meaning: 'The request or command line is invalid; each problem names the field and the rule it breaks.' },
  MAG_ERR_NOT_FOUND: { status: 404, meaning: 'The thing asked for (product, order, key, route) does not exist or is not visible to this caller.' },
  MAG_ERR_CONFLICT: { status: 409, meaning: 'The request conflicts with what exists (an Idempotency-Key reused for another order); use a new key for a new request.' },
  MAG_ERR_TOO_MANY_FAILURES: { status: 429, meaning: 'Too many failed logins (admin token, API key, exchange password) came from this address: it is refused unchecked for the seconds in Retry-After, which double with each further failure; fix the credential, then wait.' },
  MAG_ERR_RATE_LIMITED: { status: 429, meaning: 'The API key sent more requests than its limit; wait for the time in Retry-After or ask for a higher limit.' },
  MAG_ERR_INTERNAL: { status: 500, meaning: 'An unexpected error; the log line with the same request id or run has the cause: report it with that id.' },
} as const satisfies Record<`MAG_ERR_${string}`, CatalogueEntry>;

export type ErrorCode = keyof typeof CATALOGUE;

/** The catalogue as a markdown table (the block between the markers in src/api/README.md). */
export function catalogueMarkdown(): string {
  const rows = Object.entries(CATALOGUE).map(([code, e]) => `| \`${code}\` | ${e.status} | ${e.meaning.replace(/\|/g, '\\|')} |`);
  return ['| code | HTTP | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
