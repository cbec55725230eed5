// One catalogue of errors: each has a stable MAG_ERR_* code that operators can grep logs and docs for,
// a message and an HTTP status. Workers react to the class (retry, fail the run, reject a row).

export type ErrorCode =
  | 'MAG_ERR_CONFIG'
  | 'MAG_ERR_FLOW_INVALID'
  | 'MAG_ERR_FLOW_NOT_FOUND'
  | 'MAG_ERR_FLOW_PAUSED'
  | 'MAG_ERR_MAPPING_INVALID'
  | 'MAG_ERR_MAPPING_TEST_FAILED'
  | 'MAG_ERR_CONNECTOR_UNKNOWN'
  | 'MAG_ERR_PAYLOAD_MALFORMED'
  | 'MAG_ERR_PAYLOAD_ENCODING'
  | 'MAG_ERR_PAYLOAD_TOO_LARGE'
  | 'MAG_ERR_RUN_NOT_FOUND'
  | 'MAG_ERR_RUN_STATE'
  | 'MAG_ERR_UNAUTHORIZED'
  | 'MAG_ERR_FORBIDDEN'
  | 'MAG_ERR_BAD_REQUEST'
  | 'MAG_ERR_NOT_FOUND'
  | 'MAG_ERR_CONFLICT'
  | 'MAG_ERR_RATE_LIMITED'
  | 'MAG_ERR_RETRYABLE'
  | 'MAG_ERR_RUN_HELD'
  | 'MAG_ERR_INTERNAL';

const STATUS: Record<ErrorCode, number> = {
  MAG_ERR_CONFIG: 500,
  MAG_ERR_FLOW_INVALID: 400,
  MAG_ERR_FLOW_NOT_FOUND: 404,
  MAG_ERR_FLOW_PAUSED: 409,
  MAG_ERR_MAPPING_INVALID: 400,
  MAG_ERR_MAPPING_TEST_FAILED: 400,
  MAG_ERR_CONNECTOR_UNKNOWN: 400,
  MAG_ERR_PAYLOAD_MALFORMED: 422,
  MAG_ERR_PAYLOAD_ENCODING: 422,
  MAG_ERR_PAYLOAD_TOO_LARGE: 413,
  MAG_ERR_RUN_NOT_FOUND: 404,
  MAG_ERR_RUN_STATE: 409,
  MAG_ERR_UNAUTHORIZED: 401,
  MAG_ERR_FORBIDDEN: 403,
  MAG_ERR_BAD_REQUEST: 400,
  MAG_ERR_NOT_FOUND: 404,
  MAG_ERR_CONFLICT: 409,
  MAG_ERR_RATE_LIMITED: 429,
  MAG_ERR_RETRYABLE: 503,
  MAG_ERR_RUN_HELD: 409,
  MAG_ERR_INTERNAL: 500,
};

/** A problem found while checking a document (flow, mapping, config): where it is and which rule it breaks. */
export interface Problem {
  /** JSON-pointer-like path inside the document, e.g. `/guard/maxChangeRatio`. */
  path: string;
  message: string;
  rule?: string;
  /** Line and column in the source text (YAML) where the path points, when known. */
  line?: number;
  column?: number;
}

export class MagistralError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly problems: Problem[];

  constructor(code: ErrorCode, message: string, problems: Problem[] = []) {
    super(message);
    this.name = 'MagistralError';
    this.code = code;
    this.statusCode = STATUS[code];
    this.problems = problems;
  }

  toJSON(): { code: ErrorCode; message: string; problems?: Problem[] } {
    return this.problems.length
      ? { code: this.code, message: this.message, problems: this.problems }
      : { code: this.code, message: this.message };
  }
}

/** Where in a payload something was found: the file, and a line/column or an element path. */
export interface PayloadPosition {
  file: string;
  line?: number;
  column?: number;
  path?: string;
}

export function formatPosition(p: PayloadPosition): string {
  let s = p.file;
  if (p.line !== undefined) s += `:${p.line}`;
  if (p.column !== undefined) s += `:${p.column}`;
  if (p.path) s += ` ${p.path}`;
  return s;
}

/**
 * The payload as a whole cannot be read (wrong column count, bad encoding, malformed XML).
 * The run fails without touching the store; retrying cannot help.
 */
export class PayloadError extends MagistralError {
  readonly position: PayloadPosition;

  constructor(code: 'MAG_ERR_PAYLOAD_MALFORMED' | 'MAG_ERR_PAYLOAD_ENCODING' | 'MAG_ERR_PAYLOAD_TOO_LARGE', position: PayloadPosition, detail: string) {
    super(code, `${formatPosition(position)}: ${detail}`);
    this.name = 'PayloadError';
    this.position = position;
  }
}

/**
 * A stage failed for a reason that may pass (a lost connection, a lock timeout, a source briefly down):
 * the worker tries again with backoff and fails the run only after its last attempt.
 */
export class RetryableError extends MagistralError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MAG_ERR_RETRYABLE', message);
    this.name = 'RetryableError';
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}

/** The run must wait for a person (approve or reject it): the worker holds it with the reason, no retry. */
export class HoldRunError extends MagistralError {
  constructor(readonly reason: string) {
    super('MAG_ERR_RUN_HELD', reason);
    this.name = 'HoldRunError';
  }
}

export function isMagistralError(e: unknown): e is MagistralError {
  return e instanceof MagistralError;
}
