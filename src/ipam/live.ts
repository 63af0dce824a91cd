/**
 * Which IPAM handles belong to something that still exists, for leak detection in `ipam check`.
 * Handles are `<network>.<containerID>` (CNI) or `<kind>-tunnel-addr-<node>` (tunnel addresses,
 * as Calico names them). A CNI handle is live when a WorkloadEndpoint carries its container ID;
 * a tunnel handle is live when its Node exists.
 */
import { lookupKind } from '../api/index.js';
import type { Resource } from '../api/index.js';
import type { Backend } from '../datastore/index.js';
import { kindPrefix } from '../datastore/index.js';
import { TesseraError } from '../lib/errors.js';

const TUNNEL_HANDLE = /^(?:ipip|vxlan|vxlan-v6|wireguard|wireguard-v6)-tunnel-addr-(.+)$/;

export async function loadLiveHandles(backend: Backend, signal?: AbortSignal): Promise<(handleId: string) => boolean> {
  const wep = lookupKind('WorkloadEndpoint');
  const node = lookupKind('Node');
  if (!wep || !node) throw new TesseraError('bug', 'WorkloadEndpoint / Node kinds are not registered');
  const [weps, nodes] = await Promise.all([
    backend.list(kindPrefix(wep), signal),
    backend.list(kindPrefix(node), signal),
  ]);
  const containers = new Set<string>();
  for (const kv of weps.items) {
    try {
      const id = ((JSON.parse(kv.value) as Resource).spec as Record<string, unknown> | undefined)?.['containerID'];
      if (typeof id === 'string' && id !== '') containers.add(id);
    } catch {
      // unreadable endpoint: its handle counts as not live, and the check reports it for a human
    }
  }
  const nodeNames = new Set<string>();
  for (const kv of nodes.items) {
    try {
      nodeNames.add((JSON.parse(kv.value) as Resource).metadata.name);
    } catch {
      // same as above
    }
  }
  return (handleId: string) => {
    const t = TUNNEL_HANDLE.exec(handleId);
    if (t) return nodeNames.has(t[1]!);
    const dot = handleId.indexOf('.');
    return dot >= 0 && containers.has(handleId.slice(dot + 1));
  };
}
