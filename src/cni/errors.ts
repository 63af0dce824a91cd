/**
 * CNI error codes and the mapping from Tessera's error codes to them. A failure carries its CNI
 * code in `TesseraError.details.cniCode`; anything else is mapped by its Tessera code. Pure.
 */
import { TesseraError, describeError, isTesseraError, type ErrorCode } from '../lib/errors.js';

export const CNI_ERR = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnv: 4,
  ioFailure: 5,
  decodeFailure: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  pluginNotAvailable: 50,
  limitedConnectivity: 51,
  /** Plugin-specific codes start at 100 (1-99 are reserved by the spec). */
  internal: 100,
  exhausted: 101,
  checkFailed: 102,
} as const;
export type CniErrorCode = (typeof CNI_ERR)[keyof typeof CNI_ERR];

/** Builds a TesseraError that renders as the given CNI code. */
export function cniFailure(
  code: ErrorCode,
  cniCode: CniErrorCode,
  message: string,
  options: { cause?: unknown; details?: Record<string, unknown> } = {},
): TesseraError {
  return new TesseraError(code, message, {
    ...(options.cause !== undefined ? { cause: options.cause } : {}),
    details: { ...(options.details ?? {}), cniCode },
  });
}

export function cniCodeOf(err: unknown): number {
  if (!isTesseraError(err)) return CNI_ERR.internal;
  const explicit = err.details['cniCode'];
  if (typeof explicit === 'number') return explicit;
  switch (err.code) {
    case 'validation':
    case 'usage':
      return CNI_ERR.invalidConfig;
    case 'conflict':
    case 'unavailable':
    case 'timeout':
      return CNI_ERR.tryAgainLater;
    case 'exhausted':
      return CNI_ERR.exhausted;
    default:
      return CNI_ERR.internal;
  }
}

/**
 * The spec's error object: `{ cniVersion, code, msg, details }`. `details` is the cause chain
 * behind `msg` (absent when there is none): runtimes print both, so it must not repeat `msg`.
 */
export function renderCniError(err: unknown, cniVersion: string): Record<string, unknown> {
  const msg = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error ? (err as Error & { cause?: unknown }).cause : undefined;
  return { cniVersion, code: cniCodeOf(err), msg, ...(cause !== undefined ? { details: describeError(cause) } : {}) };
}
