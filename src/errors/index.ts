// Errors with a stable MAG_ERR_* code (listed with status and meaning in ./catalogue.ts) that operators
// can grep logs and docs for. Workers react to the class (retry, hold the run, fail it, reject a row).

import { CATALOGUE, type ErrorCode } from './catalogue.ts';

export { CATALOGUE, catalogueMarkdown, type CatalogueEntry, type ErrorCode } from './catalogue.ts';

const STATUS: Record<ErrorCode, number> = Object.fromEntries(Object.entries(CATALOGUE).map(([code, e]) => [code, e.status])) as Record<ErrorCode, number>;

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

export function isMagistralError(e: unknown): e is MagistralError {
  return e instanceof MagistralError;
}

/**
 * A pull could not read the remote system: its message names the resource, the HTTP status and the
 * remote's own code and text. `MAG_ERR_PULL_AUTH`: the credentials were refused (retrying will not help).
 */
export class PullError extends MagistralError {
  /** The remote system's HTTP status, when it answered. */
  readonly status?: number;

  constructor(code: 'MAG_ERR_PULL_FAILED' | 'MAG_ERR_PULL_AUTH', message: string, status?: number) {
    super(code, message);
    this.name = 'PullError';
    this.status = status;
  }
}

/**
 * A transient failure (a lock not granted, a remote that blinked): the worker retries the stage with
 * the flow's backoff instead of failing the run; only the last attempt fails it.
 */
export class RetryableError extends MagistralError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MAG_ERR_RETRYABLE', message);
    this.name = 'RetryableError';
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** The run must wait for a person: the worker holds it with `reason` (shown by `runs show`, approved or rejected). */
export class HoldRunError extends MagistralError {
  readonly reason: string;

  constructor(reason: string) {
    super('MAG_ERR_RUN_HELD', `run held: ${reason}`);
    this.name = 'HoldRunError';
    this.reason = reason;
  }
}
