/**
 * Host-protection inputs of the policy driver: the FelixConfiguration settings in force on this node
 * (`node.<name>` over `default`, field by field, as Felix merges them) and the host's interfaces,
 * read only when a local HostEndpoint is given by expectedIPs alone.
 */
import { run } from '../lib/index.js';
import { hostConfigFromSpecs, type HostConfigInput, type HostInterfaceInput } from '../policy/index.js';
import type { DatastoreMirror } from './mirror.js';
import type { Resource } from '../api/index.js';

export function hostConfigFrom(mirror: DatastoreMirror, nodeName: string): HostConfigInput {
  const byName = new Map<string, Resource>();
  for (const r of mirror.of('FelixConfiguration').values()) byName.set(r.metadata.name, r);
  return hostConfigFromSpecs(['default', `node.${nodeName}`].map((n) => byName.get(n)?.spec));
}

/** The host's interfaces and addresses (`ip -json addr`). */
export async function readHostInterfaces(netns?: string): Promise<HostInterfaceInput[]> {
  const { stdout } = await run(['ip', '-json', 'addr', 'show'], netns ? { netns } : {});
  const links = JSON.parse(stdout || '[]') as { ifname: string; addr_info?: { local?: string }[] }[];
  return links.map((l) => ({
    name: l.ifname,
    addresses: (l.addr_info ?? []).map((a) => a.local ?? '').filter(Boolean),
  }));
}
