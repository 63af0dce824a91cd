/**
 * Per-node setup: the CNI network config and plugin folder a container runtime on that node would
 * have, and the node agent (`tessera-node`) running inside the node's netns.
 * Readiness = the agent's `GET /readiness` answers 200 (probed from inside the netns with busybox
 * wget, ~2 ms per probe) or its `<state-dir>/ready` file exists.
 */
import { labTimeoutMs } from './vm/timeouts.js';
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../lib/exec.js';
import { binPath } from '../lib/paths.js';
import { sleep } from '../lib/clock.js';
import { TesseraError } from '../lib/errors.js';
import { startDaemon } from './kernel.js';
import type { LabState, NodeState, ProcessRecord } from './state.js';
import { podMtu } from './plan.js';

export { binPath, repoRoot } from '../lib/paths.js';

export const REFERENCE_PLUGIN_DIR = '/usr/lib/cni';

/** A per-lab plugin folder: tessera-cni and tessera-ipam from bin/, plus the reference plugins. */
export function writeCniPath(cniPath: string): void {
  mkdirSync(cniPath, { recursive: true });
  const link = (target: string, name: string) => {
    rmSync(join(cniPath, name), { force: true });
    symlinkSync(target, join(cniPath, name));
  };
  for (const name of ['tessera-cni', 'tessera-ipam']) link(binPath(name), name);
  let refs: string[] = [];
  try {
    refs = readdirSync(REFERENCE_PLUGIN_DIR);
  } catch {
    // no reference plugins installed: only Tessera's own
  }
  for (const r of refs) link(join(REFERENCE_PLUGIN_DIR, r), r);
}

export function cniNetworkConfig(s: LabState, n: NodeState): Record<string, unknown> {
  const ipam: Record<string, unknown> = {
    type: 'tessera-ipam',
    assign_ipv4: 'true',
    assign_ipv6: s.options.ipv6 ? 'true' : 'false',
  };
  return {
    cniVersion: '1.0.0',
    name: 'tessera',
    type: 'tessera-cni',
    nodename: n.name,
    etcd_endpoints: (s.etcd?.hostEndpoints ?? []).join(','),
    mtu_file: join(n.stateDir, 'mtu'),
    interface_prefix: 'tsr',
    agent_socket: join(n.stateDir, 'cni.sock'),
    // The pod is reachable the moment `lab pod create` returns (Calico's CNI option of the same name).
    policy_setup_timeout_seconds: Math.round(labTimeoutMs(5000) / 1000),
    ipam,
  };
}

export function writeNodeFiles(s: LabState, n: NodeState): void {
  mkdirSync(join(n.stateDir, 'cni'), { recursive: true });
  writeFileSync(n.cniConfig, `${JSON.stringify(cniNetworkConfig(s, n), null, 2)}\n`);
  // The agent owns the MTU file and may rewrite it; this seed lets the CNI work before it runs.
  const mtuFile = join(n.stateDir, 'mtu');
  if (!existsSync(mtuFile)) writeFileSync(mtuFile, `${podMtu(s.options.encapsulation, s.options.ipv6)}\n`);
}

export function agentBinary(): string | undefined {
  const p = binPath('tessera-node');
  return existsSync(p) ? p : undefined;
}

export function startAgent(s: LabState, n: NodeState): ProcessRecord {
  const bin = agentBinary();
  if (!bin)
    throw new TesseraError(
      'unsupported',
      `cannot start the agent on node "${n.name}": "${binPath('tessera-node')}" is not built (run make build)`,
    );
  rmSync(join(n.stateDir, 'ready'), { force: true });
  return startDaemon(
    `agent:${n.name}`,
    [
      bin,
      '--node-name',
      n.name,
      '--etcd-endpoints',
      (s.etcd?.hostEndpoints ?? []).join(','),
      '--state-dir',
      n.stateDir,
      '--health-listen',
      `127.0.0.1:${n.healthPort}`,
      // bgp: the agent runs BIRD in this netns (files under <state-dir>/bird), which learns the
      // native pod routes; agent mode: the agent programs every remote route itself.
      '--routing',
      s.options.routing,
    ],
    { netns: n.netns, log: join(s.dir, 'logs', `agent-${n.name}.log`) },
  );
}

export async function agentReady(n: NodeState): Promise<boolean> {
  if (existsSync(join(n.stateDir, 'ready'))) return true;
  const r = await run(
    ['busybox', 'wget', '-q', '-O', '/dev/null', '-T', '1', `http://127.0.0.1:${n.healthPort}/readiness`],
    {
      netns: n.netns,
      check: false,
      timeoutMs: labTimeoutMs(3000),
    },
  );
  return r.code === 0;
}

/** Polls until the agent is ready; fails early when the agent process exited. */
export async function waitAgentReady(
  n: NodeState,
  alive: () => boolean,
  timeoutMs: number,
  logPath?: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await agentReady(n)) return;
    if (!alive()) {
      throw new TesseraError(
        'exec-failed',
        `agent on node "${n.name}" exited before it was ready${logPath ? ` (log: "${logPath}")` : ''}`,
      );
    }
    if (Date.now() > deadline) {
      throw new TesseraError(
        'timeout',
        `agent on node "${n.name}" not ready after ${timeoutMs} ms${logPath ? ` (log: "${logPath}")` : ''}`,
      );
    }
    await sleep(100);
  }
}
