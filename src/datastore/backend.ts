/**
 * The storage contract every datastore backend (etcd v3, in-memory) implements, byte for byte the
 * same behaviour: the shared contract suite (`contract.ts`) runs against both.
 *
 * Revisions are the store's global, monotonically increasing revision numbers (etcd's
 * `mod_revision`). A key's `revision` is the revision of its last write.
 */
export interface KV {
  key: string;
  value: string;
  /** Revision of the last write to this key (etcd mod_revision). */
  revision: number;
  /** Revision at which the key was created (etcd create_revision). */
  createRevision: number;
}

export interface ListResult {
  items: KV[];
  /** Store revision the listing is consistent at; watch from `revision + 1` to continue. */
  revision: number;
}

export type WatchEvent =
  | { type: 'put'; kv: KV; prev?: KV | undefined }
  | { type: 'delete'; key: string; revision: number; prev?: KV | undefined };

export interface WatchOptions {
  /** First revision to deliver (inclusive). Omit to start after the current revision. */
  fromRevision?: number;
  signal?: AbortSignal;
}

/**
 * A watch delivers every change under the prefix exactly once, in revision order. It ends by
 * throwing: `compacted` when `fromRevision` is no longer available (caller must re-list),
 * `unavailable` when the connection is lost (caller may resume from its last revision + 1),
 * `aborted` when the signal fires.
 */
export type WatchStream = AsyncIterable<WatchEvent[]>;

export interface WriteOptions {
  /** Attach to a lease of this many seconds (key vanishes if the writer dies). */
  ttlSeconds?: number | undefined;
  signal?: AbortSignal | undefined;
}

export interface Backend {
  readonly name: 'etcd' | 'memory';
  get(key: string, signal?: AbortSignal): Promise<KV | undefined>;
  list(prefix: string, signal?: AbortSignal): Promise<ListResult>;
  /**
   * Optional (use `listInPages`): the keys under `prefix` in pages of at most `pageSize`, every page
   * read at the first page's revision; the next page is already requested while the caller handles
   * the current one, so a big range is processed as it arrives and never held whole.
   */
  listPages?(prefix: string, options?: ListPagesOptions): AsyncIterable<KV[]>; // values may be getters: read `kv.value`, do not spread
  /** Fails with `already-exists` if the key exists. */
  create(key: string, value: string, options?: WriteOptions): Promise<KV>;
  /**
   * Compare-and-swap on the key's revision. Fails with `conflict` if the key's current revision
   * differs, `not-found` if the key does not exist.
   */
  update(key: string, value: string, expectedRevision: number, options?: WriteOptions): Promise<KV>;
  /** Create or overwrite without a revision check. */
  put(key: string, value: string, options?: WriteOptions): Promise<KV>;
  /**
   * Deletes the key. With `expectedRevision`, fails with `conflict` on mismatch. A missing key is
   * success (returns undefined): deletes are idempotent.
   */
  delete(key: string, expectedRevision?: number, signal?: AbortSignal): Promise<KV | undefined>;
  /**
   * Atomic multi-key write: every compare must hold (key at revision, or absent when revision is 0)
   * or nothing is written and it fails with `conflict`.
   */
  txn(ops: TxnOp[], signal?: AbortSignal): Promise<number>;
  watch(prefix: string, options?: WatchOptions): WatchStream;
  /** Current store revision. */
  revision(signal?: AbortSignal): Promise<number>;
  /** Discard history up to `revision` (tests and maintenance). */
  compact(revision: number): Promise<void>;
  close(): Promise<void>;
}

export interface ListPagesOptions {
  /** Keys per page (backend default when omitted). */
  pageSize?: number | undefined;
  /** Keys and revisions only: every value is '' (a backend without `listPages` still sends them). */
  keysOnly?: boolean | undefined;
  signal?: AbortSignal | undefined;
  /** Called once, before the first page, with the revision every page is read at. */
  onRevision?: ((revision: number) => void) | undefined;
}

/** `backend.listPages` where the backend has it, else its whole `list` as one page. */
export async function* listInPages(
  backend: Backend,
  prefix: string,
  options: ListPagesOptions = {},
): AsyncIterable<KV[]> {
  if (backend.listPages) {
    yield* backend.listPages(prefix, options);
    return;
  }
  const res = await backend.list(prefix, options.signal);
  options.onRevision?.(res.revision);
  yield res.items;
}

export type TxnOp =
  | { op: 'create'; key: string; value: string }
  | { op: 'update'; key: string; value: string; expectedRevision: number }
  | { op: 'delete'; key: string; expectedRevision?: number | undefined }
  | { op: 'put'; key: string; value: string };
