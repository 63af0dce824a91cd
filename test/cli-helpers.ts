/** Shared by the CLI tests: an in-memory datastore, a captured runCli, temp manifest files. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureIO } from '../src/cli/io.js';
import { memoryCliStore } from '../src/cli/open-store.js';
import { runCli } from '../src/cli/program.js';
import type { CliStore } from '../src/cli/store.js';

export interface RunResult {
  code: number;
  out: string;
  err: string;
}

export interface Harness {
  store: CliStore;
  run(args: string[], stdin?: string): Promise<RunResult>;
  /** Writes a file in this harness's temp dir and returns its path. */
  file(name: string, text: string): string;
  dir: string;
  cleanup(): Promise<void>;
}

export function harness(store: CliStore = memoryCliStore(), env: NodeJS.ProcessEnv = {}): Harness {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-cli-test-'));
  // runCli closes the store after each run; this one must outlive the runs.
  const shared: CliStore = { ...bind(store), close: async () => undefined };
  return {
    store: shared,
    dir,
    async run(args, stdin = '') {
      const io = captureIO(stdin);
      const code = await runCli(args, { io, openStore: async () => shared, env });
      return { code, out: io.stdout(), err: io.stderr() };
    },
    file(name, text) {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    },
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
      await store.close();
    },
  };
}

function bind(s: CliStore): CliStore {
  return {
    get: (r) => s.get(r),
    list: (i, ns) => s.list(i, ns),
    create: (r) => s.create(r),
    update: (r) => s.update(r),
    applyBatch: (rs) => s.applyBatch(rs),
    delete: (r) => s.delete(r),
    ...(s.poolAddressesInUse ? { poolAddressesInUse: (p: string) => s.poolAddressesInUse!(p) } : {}),
    close: () => s.close(),
  };
}

export const POOL = (name: string, cidr: string, extra = '') => `apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: ${name}
spec:
  cidr: ${cidr}
${extra}`;

export const NAMESPACE = (name: string) => `apiVersion: v1
kind: Namespace
metadata:
  name: ${name}
`;

export const CALICO_NP = (ns: string, name: string, selector = "app == 'api'") => `apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  selector: ${JSON.stringify(selector)}
  types: [Ingress]
  ingress:
    - action: Allow
      protocol: TCP
      destination:
        ports: [8080]
`;

export const docs = (...d: string[]) => d.join('\n---\n');
