/**
 * One root error class for all of Tessera. Callers classify by `code` (never by message text):
 *  - transient codes are retried internally (bounded) and surfaced only when retries run out;
 *  - validation codes are shown to the user, one line per problem, with field paths;
 *  - `bug` means an invariant broke: the agent exits rather than run unfiltered.
 */
export type ErrorCode =
  | 'validation' // bad user input; `problems` holds one entry per problem
  | 'not-found'
  | 'already-exists'
  | 'conflict' // compare-and-swap lost (revision mismatch)
  | 'compacted' // watch revision no longer available
  | 'unavailable' // datastore / daemon unreachable (transient)
  | 'timeout'
  | 'aborted'
  | 'exhausted' // no free address / block
  | 'exec-failed' // a child process failed
  | 'unsupported' // kernel or environment lacks a feature
  | 'usage' // CLI usage error (exit code 2)
  | 'bug';

export interface Problem {
  /** Field path in the manifest's own names, e.g. `spec.ingress[0].destination.ports`. */
  path: string;
  /** What is wrong, quoting the bad value. */
  message: string;
}

export interface TesseraErrorOptions {
  cause?: unknown;
  problems?: Problem[];
  details?: Record<string, unknown>;
}

export class TesseraError extends Error {
  readonly code: ErrorCode;
  readonly problems: Problem[];
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: TesseraErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TesseraError';
    this.code = code;
    this.problems = options.problems ?? [];
    this.details = options.details ?? {};
  }

  /** True for errors worth retrying (bounded) at the call site. */
  get transient(): boolean {
    return this.code === 'conflict' || this.code === 'unavailable' || this.code === 'timeout';
  }
}

export function isTesseraError(err: unknown, code?: ErrorCode): err is TesseraError {
  return err instanceof TesseraError && (code === undefined || err.code === code);
}

/** Builds a validation error from a list of problems: one line per problem, `path: message`. */
export function validationError(action: string, problems: Problem[]): TesseraError {
  const lines = problems.map((p) => `  ${p.path}: ${p.message}`).join('\n');
  return new TesseraError('validation', `${action}:\n${lines}`, { problems });
}

/** Formats any thrown value for a log line or the CLI. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    return cause === undefined ? err.message : `${err.message}: ${describeError(cause)}`;
  }
  return String(err);
}
