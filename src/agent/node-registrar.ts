/**
 * This node: the facts learnt about its host at start (host-facts.ts), its Node resource
 * (addresses, VTEP MACs), its tunnel addresses from IPAM, its status conditions, and the
 * cluster-wide ClusterInformation stamp. Every write is a read-modify-CAS-write retried on
 * conflict, and keeps what others wrote (user labels, status).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { decode, lookupKind, type ClusterInformationSpec, type NodeView, type Resource } from '../api/index.js';
import { resourceKey, type ResourceStore } from '../datastore/index.js';
import { vtepMacFor } from '../dataplane/vxlan/index.js';
import type { IpamClient } from '../ipam/index.js';
import { describeError, isTesseraError, TesseraError } from '../lib/errors.js';
import { repoRoot } from '../lib/paths.js';
import { nextClusterInformation } from './cluster-info.js';
import { discoverHostFacts, NO_HOST_FACTS, type HostFactMethods, type HostFacts } from './host-facts.js';
import type { DatastoreMirror } from './mirror.js';
import { poolViews } from './pools.js';

export interface NodeRegistrarOptions {
  nodeName: string;
  store: ResourceStore;
  ipam: IpamClient;
  log: Logger;
  /** How start() finds this node's addresses (default: first-found for both families). */
  autodetect?: HostFactMethods;
  /** Replaces the discovery of host facts at start (tests: no kernel probe). */
  discover?: () => Promise<HostFacts>;
  /** What this agent adds to ClusterInformation's `clusterType` at start (after `tessera`). */
  clusterTypes?: readonly string[];
}

/** Read-modify-write keeps every field of the stored spec, so these edit the raw object. */
const asRecord = decode.obj;

export class NodeRegistrar {
  private allocating: Promise<void> | undefined;
  private facts: HostFacts = NO_HOST_FACTS;

  constructor(private readonly o: NodeRegistrarOptions) {}

  /** What start() learnt about the host (empty facts before). */
  get host(): HostFacts {
    return this.facts;
  }

  /**
   * Learns the host facts (including the ipip probe, the one kernel write before in-sync),
   * registers this node, and stamps ClusterInformation (best effort: `tessera version` reads it;
   * an agent does not fail to start over it).
   */
  async start(): Promise<void> {
    const { log } = this.o;
    this.facts = this.o.discover
      ? await this.o.discover()
      : await discoverHostFacts(this.o.autodetect ?? { ipv4: { kind: 'first-found' } });
    const f = this.facts;
    log.info(
      { node: this.nodeName, address: f.address, address6: f.address6, mtu: f.mtu, ipip: f.ipipSupported },
      'starting',
    );
    await this.register(f);
    await this.stampClusterInformation(['tessera', ...(this.o.clusterTypes ?? [])]).catch((e: unknown) =>
      log.warn({ err: describeError(e) }, 'cannot write ClusterInformation "default"'),
    );
  }

  get nodeName(): string {
    return this.o.nodeName;
  }

  vtepMac(family: 4 | 6): string {
    return vtepMacFor(this.nodeName, family, (s) => createHash('sha256').update(s).digest('hex'));
  }

  /** This node's Node as the mirror has it (an empty view before it is registered). */
  nodeView(mirror: DatastoreMirror): NodeView {
    return mirror.nodes.get(resourceKey(lookupKind('Node')!, this.nodeName)) ?? { name: this.nodeName, bgp: {} };
  }

  /** Creates or updates this node's Node resource (address, VTEP MAC), keeping user labels. */
  async register(host: HostFacts): Promise<void> {
    const info = lookupKind('Node')!;
    for (let attempt = 0; ; attempt++) {
      const cur = await this.o.store.get(info, this.nodeName);
      const spec = { ...asRecord(cur?.spec) };
      const bgp = { ...asRecord(spec.bgp) };
      bgp.ipv4Address = host.address;
      if (host.address6) bgp.ipv6Address = host.address6;
      spec.bgp = bgp;
      spec.vxlanTunnelMACAddr = this.vtepMac(4);
      const next: Resource = {
        apiVersion: info.apiVersion,
        kind: 'Node',
        metadata: {
          ...(cur?.metadata ?? { name: this.nodeName }),
          labels: { 'kubernetes.io/hostname': this.nodeName, ...(cur?.metadata.labels ?? {}) },
        },
        spec,
        ...(cur?.status ? { status: cur.status } : {}),
      };
      try {
        if (cur) await this.o.store.update(next);
        else await this.o.store.create(next);
        return;
      } catch (e) {
        if (attempt < 10 && (isTesseraError(e, 'conflict') || isTesseraError(e, 'already-exists'))) continue;
        throw new TesseraError('unavailable', `cannot register node "${this.nodeName}"`, { cause: e });
      }
    }
  }

  /**
   * ClusterInformation "default", as libcalico-go's ensureClusterInformation keeps it: created by
   * the first agent (create-if-absent, so concurrent first agents cannot both win), then each
   * agent's start writes only what differs (its version, types the list lacks, a missing GUID).
   */
  async stampClusterInformation(types: readonly string[], version = agentVersion()): Promise<void> {
    const info = lookupKind('ClusterInformation')!;
    for (let attempt = 0; attempt < 10; attempt++) {
      const cur = await this.o.store.get(info, 'default');
      const spec = nextClusterInformation(cur?.spec as ClusterInformationSpec | undefined, {
        version,
        newGuid: randomBytes(16).toString('hex'),
        types,
      });
      if (!spec) return;
      const next: Resource = {
        apiVersion: info.apiVersion,
        kind: 'ClusterInformation',
        metadata: cur?.metadata ?? { name: 'default' },
        spec: { ...spec },
      };
      try {
        if (cur) await this.o.store.update(next);
        else await this.o.store.create(next);
        return;
      } catch (e) {
        if (isTesseraError(e, 'conflict') || isTesseraError(e, 'already-exists')) continue; // another agent won; re-read
        throw e;
      }
    }
    throw new TesseraError('conflict', 'cannot write ClusterInformation "default": 10 conflicting writes in a row');
  }

  /**
   * Starts allocating the tunnel addresses this node lacks, in the background (one run at a time):
   * a VXLAN address per family once an enabled VXLAN pool of that family exists (handles
   * `vxlan-tunnel-addr-<node>`, `vxlan-v6-tunnel-addr-<node>`), and the IPIP address once an
   * enabled IPv4 IPIP pool exists and the kernel has ipip (`ipip-tunnel-addr-<node>`), as Calico
   * names them. `onFailure` runs when a run fails, so the caller can try again later.
   */
  ensureTunnelAddresses(mirror: DatastoreMirror, host: HostFacts, onFailure: () => void): void {
    if (this.allocating) return;
    const node = this.nodeView(mirror);
    const pools = poolViews(mirror).filter((p) => !p.disabled);
    const wanted: { family: 4 | 6; field: string; handleId: string }[] = [];
    if (pools.some((p) => p.vxlan && p.family === 4) && !node.ipv4VXLANTunnelAddr) {
      wanted.push({ family: 4, field: 'ipv4VXLANTunnelAddr', handleId: `vxlan-tunnel-addr-${this.nodeName}` });
    }
    if (pools.some((p) => p.vxlan && p.family === 6) && host.address6 && !node.ipv6VXLANTunnelAddr) {
      wanted.push({ family: 6, field: 'ipv6VXLANTunnelAddr', handleId: `vxlan-v6-tunnel-addr-${this.nodeName}` });
    }
    if (pools.some((p) => p.ipip && p.family === 4) && host.ipipSupported && !node.bgp.ipv4IPIPTunnelAddr) {
      wanted.push({ family: 4, field: 'ipv4IPIPTunnelAddr', handleId: `ipip-tunnel-addr-${this.nodeName}` });
    }
    if (!wanted.length) return;
    this.allocating = this.allocate(wanted)
      .catch((e: unknown) => {
        this.o.log.error({ err: describeError(e) }, 'cannot allocate VXLAN tunnel address; retrying in 1 s');
        onFailure();
      })
      .finally(() => (this.allocating = undefined));
  }

  /** Waits for a tunnel address allocation in progress (tests). */
  async idle(): Promise<void> {
    await this.allocating;
  }

  private async allocate(wanted: { family: 4 | 6; field: string; handleId: string }[]): Promise<void> {
    const fields: Record<string, string> = {};
    for (const w of wanted) {
      let ips = (await this.o.ipam.ipsByHandle(w.handleId)).filter((i) => i.family === w.family);
      if (!ips.length) {
        const r = await this.o.ipam.autoAssign({
          num4: w.family === 4 ? 1 : 0,
          num6: w.family === 6 ? 1 : 0,
          handleId: w.handleId,
          hostname: this.nodeName,
          use: 'Tunnel',
          attrs: { node: this.nodeName, timestamp: new Date().toISOString() },
        });
        ips = w.family === 4 ? r.ipv4 : r.ipv6;
      }
      if (ips[0]) fields[w.field] = ips[0].address;
    }
    // Calico keeps the IPIP tunnel address under spec.bgp.
    const ipipAddr = fields.ipv4IPIPTunnelAddr;
    delete fields.ipv4IPIPTunnelAddr;
    if (ipipAddr !== undefined) {
      await this.updateNodeSpec((s) => ({ ...s, bgp: { ...asRecord(s.bgp), ipv4IPIPTunnelAddr: ipipAddr } }));
      this.o.log.info({ ipv4IPIPTunnelAddr: ipipAddr }, 'allocated IPIP tunnel address');
    }
    if (!Object.keys(fields).length) return;
    await this.updateNodeSpec((s) => ({
      ...s,
      ...fields,
      vxlanTunnelMACAddr: this.vtepMac(4),
      ...(fields.ipv6VXLANTunnelAddr ? { vxlanTunnelMACAddrV6: this.vtepMac(6) } : {}),
    }));
    this.o.log.info(fields, 'allocated VXLAN tunnel address(es)');
  }

  /** Read-modify-CAS-write of this node's spec, retried on conflict. */
  private async updateNodeSpec(edit: (spec: Record<string, unknown>) => Record<string, unknown>): Promise<void> {
    const info = lookupKind('Node')!;
    for (let attempt = 0; attempt < 10; attempt++) {
      const cur = await this.o.store.get(info, this.nodeName);
      if (!cur) return;
      try {
        await this.o.store.update({ ...cur, spec: edit({ ...asRecord(cur.spec) }) });
        return;
      } catch (e) {
        if (!isTesseraError(e, 'conflict')) throw e;
      }
    }
    throw new TesseraError('conflict', `cannot update node "${this.nodeName}": too many concurrent writers`);
  }

  /** Mirrors readiness and dataplane problems into Node.status.conditions (`tessera get node -o yaml`). */
  async publishConditions(status: {
    ready: boolean;
    problems: string[];
    lastApplyError: string | null;
  }): Promise<void> {
    const info = lookupKind('Node')!;
    const conditions = [
      {
        type: 'Ready',
        status: status.ready ? 'True' : 'False',
        reason: status.ready ? 'DataplaneProgrammed' : 'NotProgrammed',
        message: String(status.lastApplyError ?? ''),
      },
      {
        type: 'DataplaneProblems',
        status: status.problems.length ? 'True' : 'False',
        reason: status.problems.length ? 'SeeMessage' : 'None',
        message: status.problems.join('; '),
      },
    ];
    for (let attempt = 0; attempt < 5; attempt++) {
      const cur = await this.o.store.get(info, this.nodeName);
      if (!cur) return;
      const prev = JSON.stringify(asRecord(cur.status).conditions ?? null);
      if (prev === JSON.stringify(conditions)) return;
      try {
        await this.o.store.update({ ...cur, status: { ...(cur.status ?? {}), conditions } });
        return;
      } catch (e) {
        if (!isTesseraError(e, 'conflict')) throw e;
      }
    }
  }
}

/** This agent's version for ClusterInformation, as `v0.1.0` (`unknown` without package.json). */
function agentVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ? `v${pkg.version}` : 'unknown';
  } catch {
    return 'unknown'; // a packaging without package.json
  }
}
