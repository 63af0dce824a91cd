/**
 * Output formatting for `tessera get` (and friends): aligned tables per kind, YAML, JSON, names.
 * Pure: takes resources, returns text.
 */
import { stringify as toYaml } from 'yaml';
import type { KindInfo, Resource } from '../api/index.js';
import { KINDS, lookupKind } from '../api/index.js';

export type OutputFormat = 'table' | 'wide' | 'yaml' | 'json' | 'name';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['table', 'wide', 'yaml', 'json', 'name'];

type Cell = (r: Resource) => string;
interface Column {
  header: string;
  cell: Cell;
  /** Shown only with `-o wide`. */
  wide?: boolean;
}

function field(r: Resource, path: string): unknown {
  let cur: unknown = r;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function show(v: unknown): string {
  if (v === undefined || v === null || v === '') return '';
  if (Array.isArray(v)) return v.map(show).join(',');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

const f =
  (path: string, fallback = ''): Cell =>
  (r) => {
    const s = show(field(r, path));
    return s === '' ? fallback : s;
  };

const labels: Cell = (r) =>
  Object.entries(r.metadata.labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');

const col = (header: string, cell: Cell, wide = false): Column => (wide ? { header, cell, wide } : { header, cell });

/** Per-kind columns after NAMESPACE/NAME; keyed by `apiVersion/kind`. */
const COLUMNS: Record<string, Column[]> = {
  'projectcalico.org/v3/IPPool': [
    col('CIDR', f('spec.cidr')),
    col('NAT', f('spec.natOutgoing', 'false'), true),
    col('IPIPMODE', f('spec.ipipMode', 'Never'), true),
    col('VXLANMODE', f('spec.vxlanMode', 'Never'), true),
    col('BLOCKSIZE', f('spec.blockSize'), true),
    col('DISABLED', f('spec.disabled', 'false'), true),
    col('SELECTOR', f('spec.nodeSelector', 'all()')),
  ],
  'projectcalico.org/v3/IPReservation': [col('CIDRS', f('spec.reservedCIDRs'))],
  'projectcalico.org/v3/Tier': [col('ORDER', f('spec.order')), col('DEFAULTACTION', f('spec.defaultAction'), true)],
  'projectcalico.org/v3/GlobalNetworkPolicy': [
    col('TIER', f('spec.tier', 'default')),
    col('ORDER', f('spec.order')),
    col('SELECTOR', f('spec.selector', 'all()')),
    col('TYPES', f('spec.types'), true),
  ],
  'projectcalico.org/v3/NetworkPolicy': [
    col('TIER', f('spec.tier', 'default')),
    col('ORDER', f('spec.order')),
    col('SELECTOR', f('spec.selector', 'all()')),
    col('TYPES', f('spec.types'), true),
  ],
  'networking.k8s.io/v1/NetworkPolicy': [
    col('POD-SELECTOR', (r) => {
      const ps = field(r, 'spec.podSelector') as { matchLabels?: Record<string, string> } | undefined;
      const ml = ps?.matchLabels ?? {};
      const parts = Object.entries(ml).map(([k, v]) => `${k}=${v}`);
      const me = field(r, 'spec.podSelector.matchExpressions');
      if (Array.isArray(me) && me.length) parts.push(`+${me.length} expr`);
      return parts.length ? parts.join(',') : '<none>';
    }),
    col('POLICY-TYPES', f('spec.policyTypes'), true),
  ],
  'projectcalico.org/v3/Node': [
    col('ASN', f('spec.bgp.asNumber', '(64512)'), true),
    col('IPV4', f('spec.bgp.ipv4Address')),
    col('IPV6', f('spec.bgp.ipv6Address'), true),
  ],
  'projectcalico.org/v3/WorkloadEndpoint': [
    col('WORKLOAD', f('spec.workload')),
    col('NODE', f('spec.node')),
    col('NETWORKS', f('spec.ipNetworks')),
    col('INTERFACE', f('spec.interfaceName')),
    col('PROFILES', f('spec.profiles'), true),
  ],
  'projectcalico.org/v3/HostEndpoint': [
    col('NODE', f('spec.node')),
    col('INTERFACE', f('spec.interfaceName')),
    col('IPS', f('spec.expectedIPs'), true),
  ],
  'projectcalico.org/v3/BGPPeer': [
    col('PEERIP', f('spec.peerIP')),
    col('NODE', f('spec.node', '(global)')),
    col('ASN', f('spec.asNumber')),
    col('SELECTOR', f('spec.nodeSelector'), true),
  ],
  'projectcalico.org/v3/BGPConfiguration': [
    col('LOGSEVERITY', f('spec.logSeverityScreen')),
    col('MESHENABLED', f('spec.nodeToNodeMeshEnabled')),
    col('ASNUMBER', f('spec.asNumber')),
  ],
  'projectcalico.org/v3/NetworkSet': [col('NETS', f('spec.nets'))],
  'projectcalico.org/v3/GlobalNetworkSet': [col('NETS', f('spec.nets'))],
  'v1/Namespace': [col('LABELS', labels, true)],
  'v1/Pod': [col('NODE', f('spec.nodeName')), col('IP', f('status.podIP')), col('LABELS', labels, true)],
};

const DEFAULT_COLUMNS: Column[] = [col('LABELS', labels, true)];

export function columnsFor(info: KindInfo, wide: boolean): Column[] {
  const cols = COLUMNS[`${info.apiVersion}/${info.kind}`] ?? DEFAULT_COLUMNS;
  return cols.filter((c) => wide || !c.wide);
}

/** Left-aligned columns separated by 3 spaces, like calicoctl; no trailing spaces. */
export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** The name a user types for a kind and that `-o name` prints: unambiguous under lookupKind. */
export function cliKindName(info: KindInfo): string {
  if (lookupKind(info.singular) === info) return info.singular;
  const names = [...info.shortNames].sort((a, b) => b.length - a.length);
  return names.find((n) => lookupKind(n) === info) ?? info.plural;
}

export function kindInfoOf(r: Resource): KindInfo | undefined {
  return KINDS.find((i) => i.apiVersion === r.apiVersion && i.kind === r.kind);
}

export interface FormatOptions {
  format: OutputFormat;
  /** Show the NAMESPACE column for namespaced kinds (`-A`). */
  showNamespace?: boolean;
  /** Print one object rather than a List for yaml/json (the user named exactly one). */
  single?: boolean;
  /** The kind listed (names the list `IPPoolList` even when it is empty, as calicoctl does). */
  kind?: KindInfo;
}

/** Formats resources (possibly of several kinds, kept in the given order) for output. */
export function formatResources(resources: Resource[], opts: FormatOptions): string {
  switch (opts.format) {
    case 'yaml':
      if (opts.single && resources.length === 1) return toYaml(resources[0]);
      return toYaml(asList(resources, opts.kind));
    case 'json':
      if (opts.single && resources.length === 1) return `${JSON.stringify(resources[0], null, 2)}\n`;
      return `${JSON.stringify(asList(resources, opts.kind), null, 2)}\n`;
    case 'name':
      return resources.map((r) => `${nameKind(r)}/${r.metadata.name}\n`).join('');
    case 'table':
    case 'wide':
      return formatTables(resources, opts.format === 'wide', opts.showNamespace ?? false);
  }
}

function nameKind(r: Resource): string {
  const info = kindInfoOf(r);
  return info ? cliKindName(info) : r.kind.toLowerCase();
}

/**
 * calicoctl's list envelope: `<Kind>List` in the kind's apiVersion when every item is of one kind
 * (`apply -f` reads it back; parseManifests lends the items their kind), a plain `v1 List` when
 * several kinds are mixed.
 */
function asList(resources: Resource[], kind?: KindInfo): Record<string, unknown> {
  const kinds = new Set(resources.map((r) => `${r.apiVersion}/${r.kind}`));
  const one = kind ?? (kinds.size === 1 ? kindInfoOf(resources[0]!) : undefined);
  if (one && [...kinds].every((k) => k === `${one.apiVersion}/${one.kind}`)) {
    return { apiVersion: one.apiVersion, kind: `${one.kind}List`, items: resources };
  }
  return { apiVersion: 'v1', kind: 'List', items: resources };
}

function formatTables(resources: Resource[], wide: boolean, showNamespace: boolean): string {
  const groups = new Map<KindInfo | string, Resource[]>();
  for (const r of resources) {
    const key = kindInfoOf(r) ?? `${r.apiVersion}/${r.kind}`;
    const g = groups.get(key);
    if (g) g.push(r);
    else groups.set(key, [r]);
  }
  const tables: string[] = [];
  for (const [key, rs] of groups) {
    const info = typeof key === 'string' ? undefined : key;
    const cols = info ? columnsFor(info, wide) : [];
    const nsCol = info?.namespaced === true && showNamespace;
    const headers = [...(nsCol ? ['NAMESPACE'] : []), 'NAME', ...cols.map((c) => c.header)];
    const rows = rs.map((r) => [
      ...(nsCol ? [r.metadata.namespace ?? ''] : []),
      r.metadata.name,
      ...cols.map((c) => c.cell(r)),
    ]);
    tables.push(renderTable(headers, rows));
  }
  return tables.join('\n');
}
