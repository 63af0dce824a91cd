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
  const {
    ClientClosedError,
    GRPCCancelledError,
    GRPCDeadlineExceededError,
    GRPCInvalidArgumentError,
    GRPCUnavailableError,
  } = etcd3();
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

const TLS_HINTS: [RegExp, string][] = [
  [
    /alert (bad certificate|certificate required|unknown ca|certificate unknown)/i,
    'etcd rejected the TLS handshake: it wants a client certificate signed by a CA it trusts ' +
      '(set certFile and keyFile; in a calicoctl config etcdCertFile and etcdKeyFile)',
  ],
  [
    /certificate verify failed|self[- ]signed|unable to (get local issuer|verify the first) certificate|certificate has expired|Hostname\/IP does not match/i,
    "cannot verify etcd's server certificate: set caFile (calicoctl: etcdCACertFile) to the CA that signed it, " +
      'and use an endpoint address the certificate lists',
  ],
  [
    /wrong version number|packet length too long|http_request/i,
    'TLS and plain text mixed up: check http:// versus https:// in the endpoints',
  ],
];

/**
 * grpc-js reports a failed connection as its last error, a timestamp and a "Resolution note" that
 * repeats it, with OpenSSL's source locations inside. Keeps the first statement without the
 * OpenSSL noise, and says what a TLS failure means for the user's configuration.
 */
export function describeEtcdFailure(message: string, endpoints?: readonly string[]): string {
  // grpc-js's deadline message lists its internal phases ("name resolution: 0.032s, ... Waiting for
  // LB pick"); what a user needs is which datastore did not answer, and for how long.
  const deadline = /DEADLINE_EXCEEDED: Deadline exceeded after ([\d.]+)s/.exec(message);
  if (deadline) {
    const where = endpoints?.length ? ` at ${endpoints.join(', ')}` : '';
    return `cannot reach the datastore${where}: no answer in ${Math.round(Number(deadline[1]))} s`;
  }
  const first = message
    .replace(/\s*\(\d{4}-\d\d-\d\dT[^)]*\)\.\s*Resolution note:[\s\S]*$/, '')
    .replace(/[0-9A-F]{8,}:error:[0-9A-F]+:SSL routines:[a-z0-9_]+:/g, '')
    .replace(/:\.\.\/deps\/openssl\/[^\s:]*(:\d+)?(:SSL alert number \d+)?/g, '')
    .trim();
  const hint = TLS_HINTS.find(([re]) => re.test(message))?.[1];
  return hint ? `${first}; ${hint}` : first;
}

/** Wraps any etcd client error as a TesseraError whose message names `action`. */
export function etcdError(action: string, err: unknown, endpoints?: readonly string[]): TesseraError {
  if (err instanceof TesseraError) return err;
  const why = describeEtcdFailure(err instanceof Error ? err.message : String(err), endpoints);
  // The client's error is already described (cleaned up) in the message, so it is kept in details
  // rather than as `cause`, which describeError would print again in full.
  return new TesseraError(etcdErrorCode(err), `${action}: ${why}`, { details: { clientError: err } });
}
