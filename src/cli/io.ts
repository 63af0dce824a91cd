/**
 * What every verb gets besides its arguments: output sinks, stdin, and the datastore (opened lazily,
 * so verbs that need none, like `validate`, never connect).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { TesseraError } from '../lib/errors.js';
import type { Backend } from '../datastore/index.js';
import type { CliStore } from './store.js';

export interface CliIO {
  /** Writes to stdout; callers include the trailing newline. Bytes (a lab VM's output) go as they are. */
  out(text: string | Uint8Array): void;
  /** Writes to stderr; callers include the trailing newline. */
  err(text: string | Uint8Array): void;
  readStdin(): Promise<string>;
}

export interface VerbDeps {
  io: CliIO;
  /** Opens (once) and returns the datastore. */
  store(): Promise<CliStore>;
  /** Opens (once) and returns the raw key-value datastore (IPAM, policy explain, node status). */
  backend(): Promise<Backend>;
  /** The environment the CLI runs in (contexts, lab paths, BIRD socket defaults). */
  env: NodeJS.ProcessEnv;
}

export interface ManifestSource {
  /** The file path, or `<stdin>`. */
  source: string;
  text: string;
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/**
 * Reads `-f` arguments: a file, a directory (its *.yaml|*.yml|*.json, sorted by name, not
 * recursive, as calicoctl does) or `-` for stdin.
 */
export async function readSources(paths: string[], io: CliIO): Promise<ManifestSource[]> {
  const out: ManifestSource[] = [];
  for (const p of paths) {
    if (p === '-') {
      out.push({ source: '<stdin>', text: await io.readStdin() });
      continue;
    }
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch (err) {
      throw new TesseraError('usage', `cannot read "${p}": no such file or directory`, { cause: err });
    }
    const files = isDir
      ? readdirSync(p)
          .filter((n) => MANIFEST_EXTENSIONS.has(extname(n).toLowerCase()))
          .sort()
          .map((n) => join(p, n))
      : [p];
    if (isDir && files.length === 0) {
      throw new TesseraError('usage', `directory "${p}" holds no *.yaml, *.yml or *.json files`);
    }
    for (const file of files) {
      try {
        out.push({ source: file, text: readFileSync(file, 'utf8') });
      } catch (err) {
        throw new TesseraError('usage', `cannot read "${file}"`, { cause: err });
      }
    }
  }
  return out;
}

/** An in-memory CliIO for tests: collects output, serves a fixed stdin. */
export function captureIO(stdin = ''): CliIO & { stdout: () => string; stderr: () => string } {
  let o = '';
  let e = '';
  const text = (t: string | Uint8Array) => (typeof t === 'string' ? t : Buffer.from(t).toString('utf8'));
  return {
    out: (t) => {
      o += text(t);
    },
    err: (t) => {
      e += text(t);
    },
    readStdin: () => Promise.resolve(stdin),
    stdout: () => o,
    stderr: () => e,
  };
}

export function processIO(): CliIO {
  return {
    out: (t) => {
      process.stdout.write(t);
    },
    err: (t) => {
      process.stderr.write(t);
    },
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
  };
}
