/**
 * ConvergenceLab over a real lab: 4 nodes, encapsulation none, one source pod on each of node-1..3;
 * node-4 is the "fresh" node. Each run creates a pod there (its first block is claimed by that ADD),
 * waits until a ping from every source pod answers, then deletes the pod, releases node-4's block
 * affinity (IPAM deletes the empty block) and waits until no node routes that block any more, so
 * the next run starts from a node with no block again. The timed span starts before the CNI ADD
 * (identical in both routing modes) and ends at the first full round of answers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { findPod, labDown, labUp, loadLab, podCreate, podDelete, type LabState } from '../../src/lab/index.js';
import { IpamClient } from '../../src/ipam/index.js';
import { openBackend } from '../../src/datastore/index.js';
import { run } from '../../src/lib/exec.js';
import { sleep } from '../../src/lib/clock.js';
import { measureConvergence, type ConvergenceLab, type ConvergenceResult } from './convergence.js';

const FRESH = 'node-4';
const SOURCES: [string, string][] = [
  ['bench/s1', 'node-1'],
  ['bench/s2', 'node-2'],
  ['bench/s3', 'node-3'],
];

async function routesTo(netns: string, cidr: string): Promise<boolean> {
  const r = await run(['ip', '-j', '-n', netns, 'route', 'show'], { check: false });
  return (JSON.parse(r.stdout || '[]') as { dst: string }[]).some((x) => x.dst === cidr);
}

async function freshBlock(lab: LabState): Promise<string | undefined> {
  const n = lab.nodes.find((x) => x.name === FRESH)!;
  const r = await run(['ip', '-j', '-n', n.netns, 'route', 'show', 'proto', '80', 'type', 'blackhole'], {
    check: false,
  });
  return (JSON.parse(r.stdout || '[]') as { dst: string }[])[0]?.dst;
}

export async function convergenceInLab(routing: 'bgp' | 'agent', runs: number): Promise<ConvergenceResult> {
  const name = `tsrc${routing[0]}${randomBytes(2).toString('hex')}`;
  const cfgDir = mkdtempSync(join(tmpdir(), 'tsr-bench-conv-'));
  const env = { ...process.env, TESSERA_CONFIG: join(cfgDir, 'config.json') };
  try {
    await labUp({ name, nodes: 4, routing, encapsulation: 'none' }, { env, setContext: false });
    for (const [ref, node] of SOURCES) await podCreate(loadLab(name, env), ref, { node });
    const lab = loadLab(name, env);
    const sources = SOURCES.map(([ref]) => findPod(lab, ref).netns);
    const backend = openBackend({ endpoints: lab.etcd!.endpoints });
    const ipam = new IpamClient(backend);
    let block: string | undefined;
    const impl: ConvergenceLab = {
      routing,
      async createPodOnFreshNode(i) {
        const p = await podCreate(loadLab(name, env), `bench/f${i}`, { node: FRESH });
        return { podIp: p.ips.find((a) => !a.includes(':'))!, node: FRESH };
      },
      async reachableFromAll(podIp) {
        const ok = await Promise.all(
          sources.map(
            async (ns) =>
              (await run(['ping', '-c1', '-W', '0.2', '-n', '-q', podIp], { netns: ns, check: false })).code === 0,
          ),
        );
        return ok.every(Boolean);
      },
      async cleanup(i) {
        block = await freshBlock(loadLab(name, env));
        await podDelete(loadLab(name, env), `bench/f${i}`);
        await ipam.releaseHostAffinities(FRESH);
        const deadline = Date.now() + 15_000;
        const netns = lab.nodes.map((n) => n.netns);
        while (block !== undefined) {
          const left = await Promise.all(netns.map((ns) => routesTo(ns, block!)));
          if (!left.some(Boolean)) break;
          if (Date.now() > deadline) throw new Error(`block ${block} still routed after release (routing ${routing})`);
          await sleep(50);
        }
      },
    };
    try {
      return await measureConvergence(impl, runs, 10_000, 10);
    } finally {
      await backend.close();
    }
  } finally {
    await labDown(name, { env }).catch(() => undefined);
    rmSync(cfgDir, { recursive: true, force: true });
  }
}
