/**
 * The pure decisions of list and watch: which resourceVersion a request starts from, and how a
 * storage change shows to a watcher with a selector (an object that stops matching is DELETED
 * for that watcher, one that starts matching is ADDED, exactly as the real API server does).
 */
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export type WatchStart =
  /** Send the current objects as ADDED, then changes after the listing's revision. */
  | { mode: 'list-then-watch' }
  /** Send changes from this storage revision (inclusive). */
  | { mode: 'from-revision'; fromRevision: number }
  | { mode: 'invalid'; error: string };

/**
 * `resourceVersion` unset or "0": the current state first (as ADDED events), then changes.
 * Otherwise changes strictly after that version. Anything but a non-negative integer is invalid.
 */
export function watchStart(resourceVersion: string | undefined): WatchStart {
  if (resourceVersion === undefined || resourceVersion === '' || resourceVersion === '0')
    return { mode: 'list-then-watch' };
  if (!/^\d+$/.test(resourceVersion))
    return { mode: 'invalid', error: `invalid resourceVersion "${resourceVersion}": expected an integer` };
  return { mode: 'from-revision', fromRevision: Number(resourceVersion) + 1 };
}

/** How a change looks to a watcher, given whether the old and the new object match its selectors. */
export function watchEventType(
  change: 'put' | 'delete',
  prevMatched: boolean | undefined,
  nowMatches: boolean,
): WatchEventType | undefined {
  if (change === 'delete') return prevMatched ? 'DELETED' : undefined;
  if (prevMatched === undefined) return nowMatches ? 'ADDED' : undefined;
  if (prevMatched && nowMatches) return 'MODIFIED';
  if (prevMatched && !nowMatches) return 'DELETED';
  if (!prevMatched && nowMatches) return 'ADDED';
  return undefined;
}

/** The Status a watch sends (as an ERROR event) when its start revision was compacted away. */
export function expiredStatus(resourceVersion: string, compactRevision?: number): Record<string, unknown> {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `too old resource version: ${resourceVersion}${compactRevision !== undefined ? ` (${compactRevision})` : ''}`,
    reason: 'Expired',
    code: 410,
  };
}

/** A continue token: the last key returned, and the revision of the first page. */
export function encodeContinue(lastKey: string, revision: number): string {
  return Buffer.from(JSON.stringify({ v: 1, k: lastKey, rv: revision })).toString('base64url');
}

export function decodeContinue(token: string): { lastKey: string; revision: number } | undefined {
  try {
    const o = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { v?: number; k?: unknown; rv?: unknown };
    if (o.v !== 1 || typeof o.k !== 'string' || typeof o.rv !== 'number') return undefined;
    return { lastKey: o.k, revision: o.rv };
  } catch {
    return undefined;
  }
}
