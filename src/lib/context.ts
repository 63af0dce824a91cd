/**
 * CLI contexts: where the `tessera` CLI (and the lab) find the datastore.
 *
 * Precedence in `resolveDatastore` (first that is set wins, like calicoctl / kubectl):
 *   1. `--etcd-endpoints` flag   2. `TESSERA_ETCD_ENDPOINTS` env   3. calicoctl's `ETCD_ENDPOINTS`
 *   (+ ETCD_CA_CERT_FILE, ETCD_CERT_FILE, ETCD_KEY_FILE; DATASTORE_TYPE must be etcdv3 if set)
 *   4. `--config FILE`   5. the current context (or `--context NAME`) in $TESSERA_CONFIG or
 *   ~/.tessera/config.json
 * TLS file paths come with the source that supplied the endpoints (env adds TESSERA_ETCD_CA_FILE,
 * TESSERA_ETCD_CERT_FILE, TESSERA_ETCD_KEY_FILE), so a context's CA never leaks onto a flag's
 * endpoints.
 *
 * The config file is rewritten atomically (temp file + rename) so a concurrent reader (another CLI
 * run while the lab sets a context) never sees half a file.
 */
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { TesseraError } from './errors.js';

export interface CliContext {
  etcdEndpoints: string[];
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Name of the lab that created this context (the lab removes it on teardown). */
  lab?: string;
}

export interface CliConfig {
  currentContext?: string;
  contexts: Record<string, CliContext>;
}

export interface DatastoreTls {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

export interface ResolvedDatastore {
  endpoints: string[];
  tls?: DatastoreTls;
  /** Where the endpoints came from, for messages: `--etcd-endpoints`, `context "lab1"`, ... */
  source: string;
}

export interface ResolveOptions {
  /** Comma-separated list, as given to `--etcd-endpoints`. */
  etcdEndpoints?: string | undefined;
  /** Path given to `--config`. */
  config?: string | undefined;
  /** Context name given to `--context` (instead of the current one). */
  context?: string | undefined;
  env?: NodeJS.ProcessEnv | undefined;
}

export function cliConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const override = env['TESSERA_CONFIG'];
  if (override !== undefined && override !== '') return override;
  return join(env['HOME'] ?? homedir(), '.tessera', 'config.json');
}

export function splitEndpoints(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Reads the CLI config; a missing file is an empty config. */
export function readCliConfig(env: NodeJS.ProcessEnv = process.env): CliConfig {
  const path = cliConfigPath(env);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { contexts: {} };
    throw new TesseraError('unavailable', `cannot read CLI config "${path}"`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new TesseraError('validation', `cannot parse CLI config "${path}": not valid JSON`, { cause: err });
  }
  return normalizeConfig(raw, path);
}

function normalizeConfig(raw: unknown, path: string): CliConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new TesseraError('validation', `cannot parse CLI config "${path}": expected a JSON object`);
  }
  const obj = raw as Record<string, unknown>;
  const contexts: Record<string, CliContext> = {};
  const rawContexts = obj['contexts'];
  if (typeof rawContexts === 'object' && rawContexts !== null && !Array.isArray(rawContexts)) {
    for (const [name, value] of Object.entries(rawContexts as Record<string, unknown>)) {
      contexts[name] = normalizeContext(value, `${path}: contexts.${name}`);
    }
  }
  const cfg: CliConfig = { contexts };
  if (typeof obj['currentContext'] === 'string') cfg.currentContext = obj['currentContext'];
  return cfg;
}

function normalizeContext(value: unknown, where: string): CliContext {
  if (typeof value !== 'object' || value === null) {
    throw new TesseraError('validation', `invalid context at ${where}: expected an object`);
  }
  const v = value as Record<string, unknown>;
  const eps = v['etcdEndpoints'];
  const endpoints = Array.isArray(eps)
    ? eps.filter((e): e is string => typeof e === 'string')
    : typeof eps === 'string'
      ? splitEndpoints(eps)
      : [];
  const ctx: CliContext = { etcdEndpoints: endpoints };
  for (const f of ['caFile', 'certFile', 'keyFile', 'lab'] as const) {
    const s = v[f];
    if (typeof s === 'string') ctx[f] = s;
  }
  return ctx;
}

export function writeCliConfig(cfg: CliConfig, env: NodeJS.ProcessEnv = process.env): void {
  const path = cliConfigPath(env);
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(cfg, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, path);
  } catch (err) {
    throw new TesseraError('unavailable', `cannot write CLI config "${path}"`, { cause: err });
  }
}

const LOCK_STALE_MS = 10_000;
const LOCK_WAIT_MS = 15_000;

/**
 * Runs a read-modify-write of the CLI config under `<config>.lock` (created with O_EXCL), so two
 * `lab up`/`lab down`/`context use` runs at once cannot lose each other's change; the write itself
 * is temp file + rename, so readers never see half a file. A lock left by a crashed process is
 * taken over after LOCK_STALE_MS.
 */
export function withConfigLock<T>(env: NodeJS.ProcessEnv | undefined, fn: () => T): T {
  const path = cliConfigPath(env ?? process.env);
  const lock = `${path}.lock`;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new TesseraError('unavailable', `cannot create the CLI config directory for "${path}"`, { cause: err });
  }
  const deadline = Date.now() + LOCK_WAIT_MS;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx', 0o600));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new TesseraError('unavailable', `cannot lock CLI config "${path}"`, { cause: err });
      }
      try {
        if (Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS) rmSync(lock, { force: true });
      } catch {
        // released meanwhile
      }
      if (Date.now() > deadline) {
        throw new TesseraError(
          'timeout',
          `cannot lock CLI config "${path}": "${lock}" is held by another tessera run (remove it if none is running)`,
        );
      }
      Atomics.wait(nap, 0, 0, 10 + Math.floor(Math.random() * 20));
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** Adds or replaces a context; with `makeCurrent` it also becomes the current context. */
export function setContext(
  name: string,
  ctx: CliContext,
  options: { makeCurrent?: boolean; env?: NodeJS.ProcessEnv } = {},
): void {
  withConfigLock(options.env, () => {
    const cfg = readCliConfig(options.env);
    cfg.contexts[name] = { ...ctx, etcdEndpoints: [...ctx.etcdEndpoints] };
    if (options.makeCurrent) cfg.currentContext = name;
    writeCliConfig(cfg, options.env);
  });
}

/** Removes a context (idempotent); clears `currentContext` if it pointed at it. */
export function removeContext(name: string, options: { env?: NodeJS.ProcessEnv } = {}): void {
  withConfigLock(options.env, () => {
    const cfg = readCliConfig(options.env);
    if (!(name in cfg.contexts) && cfg.currentContext !== name) return;
    delete cfg.contexts[name];
    if (cfg.currentContext === name) delete cfg.currentContext;
    writeCliConfig(cfg, options.env);
  });
}

/** Makes an existing context current; fails with `not-found` naming the known contexts. */
export function useContext(name: string, options: { env?: NodeJS.ProcessEnv } = {}): void {
  withConfigLock(options.env, () => {
    const cfg = readCliConfig(options.env);
    if (!(name in cfg.contexts)) {
      const known = Object.keys(cfg.contexts).sort();
      throw new TesseraError(
        'not-found',
        `cannot use context "${name}": no such context (known: ${known.length ? known.map((k) => `"${k}"`).join(', ') : 'none'})`,
      );
    }
    cfg.currentContext = name;
    writeCliConfig(cfg, options.env);
  });
}

/**
 * Reads a `--config` file: YAML or JSON, either Tessera's flat form
 * `{ etcdEndpoints, caFile?, certFile?, keyFile? }` or calicoctl's `CalicoAPIConfig`
 * (`spec.etcdEndpoints`, `spec.etcdCACertFile`, `spec.etcdCertFile`, `spec.etcdKeyFile`).
 */
export function readDatastoreConfigFile(path: string): CliContext {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TesseraError('usage', `cannot read datastore config "${path}"`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new TesseraError('validation', `cannot parse datastore config "${path}"`, { cause: err });
  }
  if (typeof raw !== 'object' || raw === null) {
    throw new TesseraError('validation', `cannot parse datastore config "${path}": expected a mapping`);
  }
  const obj = raw as Record<string, unknown>;
  const spec = (typeof obj['spec'] === 'object' && obj['spec'] !== null ? obj['spec'] : obj) as Record<string, unknown>;
  const eps = spec['etcdEndpoints'] ?? spec['endpoints'];
  const endpoints = Array.isArray(eps)
    ? eps.filter((e): e is string => typeof e === 'string')
    : typeof eps === 'string'
      ? splitEndpoints(eps)
      : [];
  if (endpoints.length === 0) {
    throw new TesseraError('validation', `datastore config "${path}" names no etcd endpoints`, {
      problems: [{ path: 'etcdEndpoints', message: 'required: a list or comma-separated string of URLs' }],
    });
  }
  const ctx: CliContext = { etcdEndpoints: endpoints };
  const pick = (...names: string[]) => {
    for (const n of names) if (typeof spec[n] === 'string' && spec[n] !== '') return spec[n] as string;
    return undefined;
  };
  const ca = pick('caFile', 'etcdCACertFile');
  const cert = pick('certFile', 'etcdCertFile');
  const key = pick('keyFile', 'etcdKeyFile');
  if (ca !== undefined) ctx.caFile = ca;
  if (cert !== undefined) ctx.certFile = cert;
  if (key !== undefined) ctx.keyFile = key;
  return ctx;
}

function tlsOf(ctx: { caFile?: string; certFile?: string; keyFile?: string }): DatastoreTls | undefined {
  const tls: DatastoreTls = {};
  if (ctx.caFile) tls.caFile = ctx.caFile;
  if (ctx.certFile) tls.certFile = ctx.certFile;
  if (ctx.keyFile) tls.keyFile = ctx.keyFile;
  return Object.keys(tls).length ? tls : undefined;
}

function resolved(endpoints: string[], source: string, tls: DatastoreTls | undefined): ResolvedDatastore {
  return tls ? { endpoints, tls, source } : { endpoints, source };
}

export const NO_DATASTORE_HELP =
  'no datastore configured: pass --etcd-endpoints URL[,URL...], set TESSERA_ETCD_ENDPOINTS, ' +
  'pass --config FILE, or create a context (`tessera lab up` does; then `tessera context use NAME`)';

/** Finds the datastore to talk to; throws `unavailable` with how to configure one when none is. */
export function resolveDatastore(opts: ResolveOptions = {}): ResolvedDatastore {
  const env = opts.env ?? process.env;
  if (opts.etcdEndpoints !== undefined) {
    const endpoints = splitEndpoints(opts.etcdEndpoints);
    if (endpoints.length === 0) throw new TesseraError('usage', '--etcd-endpoints: expected at least one URL');
    return resolved(endpoints, '--etcd-endpoints', undefined);
  }
  const fromEnv = env['TESSERA_ETCD_ENDPOINTS'];
  if (fromEnv !== undefined && splitEndpoints(fromEnv).length > 0) {
    const tls = tlsOf({
      caFile: env['TESSERA_ETCD_CA_FILE'],
      certFile: env['TESSERA_ETCD_CERT_FILE'],
      keyFile: env['TESSERA_ETCD_KEY_FILE'],
    } as DatastoreTls);
    return resolved(splitEndpoints(fromEnv), 'TESSERA_ETCD_ENDPOINTS', tls);
  }
  // calicoctl's own variables (DATASTORE_TYPE=etcdv3, ETCD_ENDPOINTS, ETCD_CA_CERT_FILE, ...).
  const calicoEndpoints = env['ETCD_ENDPOINTS'];
  if (calicoEndpoints !== undefined && splitEndpoints(calicoEndpoints).length > 0) {
    const type = env['DATASTORE_TYPE'];
    if (type !== undefined && type !== '' && type !== 'etcdv3') {
      throw new TesseraError(
        'usage',
        `DATASTORE_TYPE "${type}" is not supported: Tessera's datastore is etcd (DATASTORE_TYPE=etcdv3)`,
      );
    }
    const tls = tlsOf({
      caFile: env['ETCD_CA_CERT_FILE'],
      certFile: env['ETCD_CERT_FILE'],
      keyFile: env['ETCD_KEY_FILE'],
    } as DatastoreTls);
    return resolved(splitEndpoints(calicoEndpoints), 'ETCD_ENDPOINTS', tls);
  }
  if (opts.config !== undefined) {
    const ctx = readDatastoreConfigFile(opts.config);
    return resolved(ctx.etcdEndpoints, `--config "${opts.config}"`, tlsOf(ctx));
  }
  const cfg = readCliConfig(env);
  const name = opts.context ?? cfg.currentContext;
  if (name !== undefined) {
    const ctx = cfg.contexts[name];
    if (ctx === undefined) {
      throw new TesseraError('unavailable', `context "${name}" is not defined in "${cliConfigPath(env)}"`);
    }
    if (ctx.etcdEndpoints.length === 0) {
      throw new TesseraError('unavailable', `context "${name}" in "${cliConfigPath(env)}" has no etcd endpoints`);
    }
    return resolved(ctx.etcdEndpoints, `context "${name}"`, tlsOf(ctx));
  }
  throw new TesseraError('unavailable', NO_DATASTORE_HELP);
}
