/**
 * IPAM join storm: N nodes, each with its own etcd client (as N separate agents would have), claim
 * their first block and first address at the same moment from one pool. Used by `make bench-scale`
 * (500 nodes over a few processes) and by test/ipam-join-storm.test.ts (fewer, no timings).
 *
 * A CAS retry is one write that lost a compare: a `conflict` (update/txn/delete at a stale
 * revision) or an `already-exists` (a create of a key someone else created first, e.g. a block
 * another node claimed a moment earlier). Counted by wrapping each node's Backend.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { EtcdBackend, ipamKeys, type Backend } from '../../src/datastore/index.js';
import { IpamClient, putPool } from '../../src/ipam/index.js';
import { isTesseraError } from '../../src/lib/errors.js';

export interface JoinResult {
  host: string;
  address: string | undefined;
  blockCidr: string | undefined;
  /** From the common start to the first address (ms). */
  ms: number;
  casRetries: number;
  error?: string;
}

/** A Backend whose failed compares (conflict / already-exists) are counted. */
export function countingBackend(inner: Backend): { backend: Backend; retries: () => number } {
  let n = 0;
  const counted = new Set(['create', 'update', 'delete', 'txn']);
  const backend = new Proxy(inner, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv) as unknown;
      if (typeof v !== 'function') return v;
      const fn = (v as (...a: unknown[]) => unknown).bind(target);
      if (!counted.has(String(prop))) return fn;
      return async (...args: unknown[]) => {
        try {
          return await fn(...args);
        } catch (err) {
          if (isTesseraError(err, 'conflict') || isTesseraError(err, 'already-exists')) n++;
          throw err;
        }
      };
    },
  });
  return { backend, retries: () => n };
}

/** Joins `hosts` at wall-clock `startAt` (ms since the epoch), each through its own client. */
export async function joinNodes(endpoints: string[], hosts: string[], startAt: number): Promise<JoinResult[]> {
  const nodes = hosts.map((host) => {
    const raw = new EtcdBackend({ endpoints, callTimeoutMs: 60_000 });
    const { backend, retries } = countingBackend(raw);
    // Generous retries: the storm is the point, and a node that gave up would be a failure.
    return { host, raw, retries, ipam: new IpamClient(backend, { retry: { maxAttempts: 1000 } }) };
  });
  // Connect first, so the storm measures IPAM, not 500 TCP+HTTP/2 handshakes.
  await Promise.all(nodes.map((n) => n.raw.revision()));
  const wait = startAt - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const results = await Promise.all(
    nodes.map(async (n): Promise<JoinResult> => {
      try {
        const r = await n.ipam.autoAssign({
          num4: 1,
          num6: 0,
          handleId: `storm.${n.host}`,
          hostname: n.host,
          attrs: {
            node: n.host,
            namespace: 'default',
            pod: `first-${n.host}`,
            timestamp: new Date(startAt).toISOString(),
          },
        });
        const a = r.ipv4[0];
        return {
          host: n.host,
          address: a?.address,
          blockCidr: a?.blockCidr,
          ms: Date.now() - startAt,
          casRetries: n.retries(),
        };
      } catch (err) {
        return {
          host: n.host,
          address: undefined,
          blockCidr: undefined,
          ms: Date.now() - startAt,
          casRetries: n.retries(),
          error: String(err),
        };
      }
    }),
  );
  await Promise.all(nodes.map((n) => n.raw.close()));
  return results;
}

export interface StormAudit {
  nodes: number;
  addressed: number;
  /** Blocks more than one node believes it owns, plus addresses handed out twice. */
  doubleClaims: number;
  /** Addresses whose block is not affine to the node that got them (borrowed). */
  borrowed: number;
  casRetries: number;
  errors: string[];
}

/** Checks the storm's outcome against etcd: one owner per block, one holder per address. */
export async function auditStorm(backend: Backend, results: JoinResult[]): Promise<StormAudit> {
  const owners = new Map<string, Set<string>>();
  const addOwner = (cidr: string, host: string) => {
    let s = owners.get(cidr);
    if (!s) owners.set(cidr, (s = new Set()));
    s.add(host);
  };
  for (const kv of (await backend.list(ipamKeys.blocksPrefix)).items) {
    const b = JSON.parse(kv.value) as { cidr: string; affinity: string | null };
    if (b.affinity?.startsWith('host:')) addOwner(b.cidr, b.affinity.slice(5));
  }
  for (const kv of (await backend.list(ipamKeys.affinitiesPrefix)).items) {
    const a = JSON.parse(kv.value) as { host: string; cidr: string; state: string };
    if (a.state === 'confirmed') addOwner(a.cidr, a.host);
  }
  let doubleClaims = 0;
  for (const hosts of owners.values()) if (hosts.size > 1) doubleClaims += hosts.size - 1;
  const seen = new Set<string>();
  let borrowed = 0;
  for (const r of results) {
    if (!r.address) continue;
    if (seen.has(r.address)) doubleClaims++;
    seen.add(r.address);
    const own = r.blockCidr ? owners.get(r.blockCidr) : undefined;
    if (!own || !own.has(r.host)) borrowed++;
  }
  return {
    nodes: results.length,
    addressed: results.filter((r) => r.address).length,
    doubleClaims,
    borrowed,
    casRetries: results.reduce((s, r) => s + r.casRetries, 0),
    errors: results.flatMap((r) => (r.error ? [`${r.host}: ${r.error}`] : [])),
  };
}

export interface StormOptions {
  endpoints: string[];
  nodes: number;
  /** Child processes to spread the nodes over (0 = all in this process). */
  procs: number;
  /** The pool (default a /13 of /26 blocks: 8,192 blocks, room for 5,000 nodes and more). */
  poolCidr?: string;
  hostPrefix?: string;
}

export async function runJoinStorm(o: StormOptions): Promise<{ results: JoinResult[]; audit: StormAudit }> {
  const admin = new EtcdBackend({ endpoints: o.endpoints });
  try {
    await putPool(admin, 'storm', { cidr: o.poolCidr ?? '10.64.0.0/13', blockSize: 26 });
    const hosts = Array.from({ length: o.nodes }, (_, i) => `${o.hostPrefix ?? 'storm'}-${i}`);
    // Enough lead time for every process to start and connect its clients.
    const startAt = Date.now() + (o.procs > 0 ? 4000 + 15 * o.nodes : 500);
    let results: JoinResult[];
    if (o.procs === 0) {
      results = await joinNodes(o.endpoints, hosts, startAt);
    } else {
      const worker = fileURLToPath(new URL('./join-worker.ts', import.meta.url));
      const parts = Array.from({ length: o.procs }, (_, p) => hosts.filter((_, i) => i % o.procs === p));
      const outs = await Promise.all(
        parts.map(
          (part) =>
            new Promise<JoinResult[]>((resolve, reject) => {
              const child = spawn(
                process.execPath,
                ['--import', 'tsx', worker, JSON.stringify({ endpoints: o.endpoints, hosts: part, startAt })],
                {
                  stdio: ['ignore', 'pipe', 'inherit'],
                },
              );
              let out = '';
              child.stdout.setEncoding('utf8');
              child.stdout.on('data', (c: string) => (out += c));
              child.on('exit', (code) => {
                if (code !== 0) reject(new Error(`join worker exited with ${code}`));
                else resolve(JSON.parse(out) as JoinResult[]);
              });
            }),
        ),
      );
      results = outs.flat();
    }
    return { results, audit: await auditStorm(admin, results) };
  } finally {
    await admin.close();
  }
}
