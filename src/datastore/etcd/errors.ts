/**
 * Maps errors from the `etcd3` client / grpc-js to Tessera codes. This is the one place that looks
 * at etcd's message text: etcd reports compaction, txn limits and leader loss only that way.
 */
import { etcd3 } from './client.js';
import { TesseraError, type ErrorCode } from '../../lib/errors.js';

const UNAVAILABLE_TEXT = ['no leader', 'leader changed', 'request timed out', 'not capable', 'connection'];

export function etcdErrorCode(err: unknown): ErrorCode {
  if (err instanceof TesseraError) return err.code;
  const message = err instanceof Error ? err.message : String(err);
  if (message.includes('required revision has been compacted')) return 'compacted';
  const { ClientClosedError, GRPCCancelledError, GRPCDeadlineExceededError, GRPCInvalidArgumentError, GRPCUnavailableError } = etcd3();
  if (err instanceof GRPCDeadlineExceededError) return 'timeout';
  if (err instanceof GRPCUnavailableError || err instanceof ClientClosedError || err instanceof GRPCCancelledError) {
    return 'unavailable';
  }
  if (err instanceof GRPCInvalidArgumentError) return 'validation';
  // etcd server-side rejections of a request it will never accept.
  if (/too many operations|duplicate key|request is too large|future revision|value size/.test(message)) {
    return 'validation';
  }
  if (UNAVAILABLE_TEXT.some((t) => message.includes(t))) return 'unavailable';
  if (message.includes('lease not found')) return 'not-found';
  // Anything else from the wire is treated as transient so callers back off and retry.
  return 'unavailable';
}

/** Wraps any etcd client error as a TesseraError whose message names `action`. */
export function etcdError(action: string, err: unknown): TesseraError {
  if (err instanceof TesseraError) return err;
  const why = err instanceof Error ? err.message : String(err);
  return new TesseraError(etcdErrorCode(err), `${action}: ${why}`, { cause: err });
}
