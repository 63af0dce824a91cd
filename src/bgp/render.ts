/**
 * renderBirdConfig: datastore facts → one bird.conf (BIRD 2) for one node. Pure and deterministic:
 * every list is sorted, so equal inputs give byte-identical text and the writer can skip reloads.
 */
import type { Resource } from '../api/index.js';
import {
  checkCidr,
  cidrContainsCidr,
  cidrNetwork,
  cidrContainsIp,
  familyBits,
  formatCidr,
  hostCidr,
  tryParseIp,
  type Cidr,
  type IpFamily,
} from '../lib/ip.js';
import { ROUTE_PROTOCOL, DEFAULT_INTERFACE_PREFIX } from '../lib/marks.js';
import { communityAdd, filterFunctionName, renderFilterFunctions } from './filters.js';
import type { BirdConfig, BirdConfigInput, RenderedPeer } from './model.js';
import { nodeView, planPeers, type NodeView, type PeerPlan } from './peers.js';
import { DEFAULT_AS, birdQuotable, obj, parseAsNumber, routerIdFromName, str, strings } from './values.js';

interface Pool {
  name: string;
  cidr: Cidr;
  disableBGPExport: boolean;
  vxlanMode: string;
  ipipMode: string;
}

const cmpCidr = (a: Cidr, b: Cidr): number =>
  a.family !== b.family ? a.family - b.family : a.value < b.value ? -1 : a.value > b.value ? 1 : a.prefix - b.prefix;

function uniqueSorted(cidrs: Cidr[]): Cidr[] {
  const seen = new Map<string, Cidr>();
  for (const c of cidrs) seen.set(formatCidr(c), c);
  return [...seen.values()].sort(cmpCidr);
}

const setOf = (cs: Cidr[], suffix = '+'): string => `[ ${cs.map((c) => `${formatCidr(c)}${suffix}`).join(', ')} ]`;

function parsePools(rs: Resource[], problems: string[]): Pool[] {
  const out: Pool[] = [];
  for (const r of rs) {
    const s = obj(r.spec);
    const c = checkCidr(str(s.cidr) ?? '').cidr;
    if (!c) {
      problems.push(`IPPool "${r.metadata.name}": cidr "${String(s.cidr ?? '')}" is not a CIDR; pool ignored`);
      continue;
    }
    out.push({
      name: r.metadata.name,
      cidr: c,
      disableBGPExport: s.disableBGPExport === true,
      vxlanMode: str(s.vxlanMode) ?? 'Never',
      ipipMode: str(s.ipipMode) ?? 'Never',
    });
  }
  return out.sort((a, b) => cmpCidr(a.cidr, b.cidr));
}

/** What this node originates: its affine blocks, borrowed /32s, service ranges. */
function originated(input: BirdConfigInput, pools: Pool[], global: Record<string, unknown>, problems: string[]) {
  const poolOf = (c: Cidr) => pools.find((p) => cidrContainsCidr(p.cidr, c));
  const blocks: Cidr[] = [];
  const localBlocks: Cidr[] = [];
  for (const b of input.blocks) {
    if (b.affinity !== `host:${input.nodeName}`) continue;
    const c = checkCidr(b.cidr).cidr;
    if (!c) {
      problems.push(`block "${b.cidr}": not a CIDR; ignored`);
      continue;
    }
    localBlocks.push(c);
    const pool = poolOf(c);
    if (pool && !pool.disableBGPExport) blocks.push(c);
  }
  const borrowed: Cidr[] = [];
  for (const w of input.workloads) {
    if (w.node !== input.nodeName) continue;
    for (const net of w.ipNetworks) {
      const ip = tryParseIp(net.split('/')[0] ?? '');
      if (!ip || localBlocks.some((b) => cidrContainsIp(b, ip))) continue;
      const h = hostCidr(ip);
      const pool = poolOf(h);
      if (pool && !pool.disableBGPExport) borrowed.push(h);
    }
  }
  const services: Cidr[] = [];
  for (const field of ['serviceClusterIPs', 'serviceExternalIPs'] as const) {
    const list = Array.isArray(global[field]) ? (global[field] as unknown[]) : [];
    for (const e of list) {
      const text = str(obj(e).cidr);
      const c = text ? checkCidr(text, { strict: false, allowBareIp: true }).cidr : undefined;
      if (!c) problems.push(`BGPConfiguration "default" ${field}: "${String(text)}" is not a CIDR; not advertised`);
      else services.push(cidrNetwork(c));
    }
  }
  return {
    blocks: uniqueSorted(blocks),
    localBlocks: uniqueSorted(localBlocks),
    borrowed: uniqueSorted(borrowed),
    services: uniqueSorted(services),
  };
}

function communityFunction(family: IpFamily, global: Record<string, unknown>, problems: string[]): string {
  const named = new Map<string, string>();
  for (const c of Array.isArray(global.communities) ? global.communities : []) {
    const name = str(obj(c).name);
    const value = str(obj(c).value);
    if (name && value) named.set(name, value);
  }
  const lines = [`function tessera_communities${family}() {`];
  for (const a of Array.isArray(global.prefixAdvertisements) ? global.prefixAdvertisements : []) {
    const text = str(obj(a).cidr);
    const c = text ? checkCidr(text, { strict: false }).cidr : undefined;
    if (!c || c.family !== family) continue;
    const adds: string[] = [];
    for (const name of strings(obj(a).communities)) {
      const t = communityAdd(named.get(name) ?? name);
      if (t) adds.push(t);
      else
        problems.push(
          `BGPConfiguration "default" prefixAdvertisements "${text}": community "${name}" is neither defined nor a value; ignored`,
        );
    }
    if (adds.length) lines.push(`  if net ~ ${formatCidr(cidrNetwork(c))} then { ${adds.join(' ')} }`);
  }
  lines.push('}');
  return lines.join('\n');
}

function exportFunction(family: IpFamily, pools: Pool[], localBlocks: Cidr[]): string {
  const fam = pools.filter((p) => p.cidr.family === family);
  const blocks = localBlocks.filter((b) => b.family === family && b.prefix < familyBits(family));
  const noExport = fam.filter((p) => p.disableBGPExport).map((p) => p.cidr);
  const ok = fam.filter((p) => !p.disableBGPExport).map((p) => p.cidr);
  const bits = familyBits(family);
  const lines = [`function tessera_export_bgp${family}() {`];
  if (blocks.length) {
    lines.push(`  # This node's blocks go out whole, never the host routes inside them.`);
    lines.push(
      `  if source != RTS_BGP && net ~ [ ${blocks.map((b) => `${formatCidr(b)}{${b.prefix + 1},${bits}}`).join(', ')} ] then reject;`,
    );
  }
  lines.push(`  if proto = "tessera_static${family}" then accept;`);
  if (noExport.length) lines.push(`  if net ~ ${setOf(noExport)} then reject;`);
  if (ok.length) {
    lines.push(`  # Pass on other nodes' pool routes (route reflection, eBGP transit).`);
    lines.push(`  if source = RTS_BGP && net ~ ${setOf(ok)} then accept;`);
  }
  lines.push('  reject;', '}');
  return lines.join('\n');
}

/**
 * Routes BIRD may program into the kernel: only what it learned over BGP, and never a prefix the
 * agent routes through a tunnel (its own proto-80 VXLAN/IPIP routes, onlink via the tunnel
 * device as Calico marks them). CrossSubnet pools: BIRD keeps only next hops on this node's subnet.
 */
function kernelFilter(family: IpFamily, pools: Pool[], local: NodeView): string {
  const fam = pools.filter((p) => p.cidr.family === family);
  const always = fam
    .filter((p) => p.vxlanMode === 'Always' || (family === 4 && p.ipipMode === 'Always'))
    .map((p) => p.cidr);
  const cross = fam
    .filter(
      (p) =>
        !always.includes(p.cidr) && (p.vxlanMode === 'CrossSubnet' || (family === 4 && p.ipipMode === 'CrossSubnet')),
    )
    .map((p) => p.cidr);
  const subnet = (family === 4 ? local.v4 : local.v6)?.subnet;
  const lines = [`filter tessera_kernel_export${family} {`, '  if source != RTS_BGP then reject;'];
  if (always.length) lines.push(`  if net ~ ${setOf(always)} then reject;`);
  if (cross.length) {
    lines.push(
      subnet
        ? `  if net ~ ${setOf(cross)} then { if bgp_next_hop ~ ${formatCidr(cidrNetwork(subnet))} then accept; reject; }`
        : `  if net ~ ${setOf(cross)} then reject;`,
    );
  }
  lines.push('  accept;', '}');
  return lines.join('\n');
}

function peerBlock(p: PeerPlan, filterIndex: Map<string, number>, listenPort: number | undefined): string {
  const external = p.asNumber !== p.localAs;
  const local = [p.sourceAddress, listenPort ? `port ${listenPort}` : undefined, `as ${p.localAs}`]
    .filter(Boolean)
    .join(' ');
  const lines = [`protocol bgp ${p.protocol} from tessera_bgp {`];
  lines.push(
    `  description "${p.type === 'node-to-node mesh' ? 'mesh' : 'BGPPeer'} ${p.node ? `node ${p.node}` : p.source}";`,
  );
  lines.push(`  local ${local};`);
  lines.push(`  neighbor ${p.address}${p.port ? ` port ${p.port}` : ''} as ${p.asNumber};`);
  if (p.passive) lines.push('  passive on;');
  if (p.password) lines.push(`  password "${p.password}";`);
  if (p.restartTimeSec !== undefined)
    lines.push('  graceful restart on;', `  graceful restart time ${p.restartTimeSec};`);
  if (p.rrClient) lines.push('  rr client;', `  rr cluster id ${p.rrClient};`);
  const fam = p.family;
  const calls = (dir: 'import' | 'export') =>
    p.filters.map((f) => `${filterFunctionName(filterIndex.get(f)!, f, dir, fam)}(${external});`);
  const imp = calls('import');
  const exp = [`tessera_communities${fam}();`, ...calls('export'), `tessera_export_bgp${fam}();`];
  lines.push(`  ipv${fam} {`);
  lines.push('    gateway recursive;', '    add paths on;');
  if (p.nextHop) lines.push(`    next hop ${p.nextHop};`);
  lines.push(imp.length ? `    import filter { ${[...imp, 'accept;'].join(' ')} };` : '    import all;');
  lines.push(`    export filter { ${exp.join(' ')} };`);
  lines.push('  };', '}');
  return lines.join('\n');
}

export function renderBirdConfig(input: BirdConfigInput): BirdConfig {
  const problems: string[] = [];
  const cfg = (name: string) => obj(input.bgpConfigurations.find((r) => r.metadata.name === name)?.spec);
  const global = cfg('default');
  const perNode = cfg(`node.${input.nodeName}`);
  const defaultAs = parseAsNumber(global.asNumber) ?? DEFAULT_AS;
  const nodes = [...input.nodes]
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))
    .map((n) => nodeView(n, defaultAs));
  const localRes = input.nodes.find((n) => n.metadata.name === input.nodeName);
  const local = localRes ? nodeView(localRes, defaultAs) : { name: input.nodeName, labels: {}, asNumber: defaultAs };
  if (!local.v4 && !local.v6)
    problems.push(`Node "${input.nodeName}": no spec.bgp.ipv4Address or ipv6Address; no BGP sessions`);
  const listenPort =
    typeof perNode.listenPort === 'number'
      ? perNode.listenPort
      : typeof global.listenPort === 'number'
        ? global.listenPort
        : undefined;
  const pools = parsePools(input.pools, problems);
  const filters = [...input.filters].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  const filterIndex = new Map(filters.map((f, i) => [f.metadata.name, i]));
  const plans = planPeers({
    local,
    nodes,
    meshEnabled: global.nodeToNodeMeshEnabled !== false,
    meshPassword: global.nodeMeshPassword,
    meshRestart: global.nodeMeshMaxRestartTime,
    peers: input.peers,
    filterNames: new Set(filterIndex.keys()),
    secrets: input.secrets ?? {},
    problems,
  });
  const orig = originated(input, pools, global, problems);
  const ignored = [...strings(global.ignoredInterfaces), ...strings(perNode.ignoredInterfaces)].filter((i) => {
    if (birdQuotable(i)) return true;
    problems.push(`ignoredInterfaces: "${i}" cannot be quoted for BIRD; ignored`);
    return false;
  });

  const out: string[] = [];
  out.push(`# bird.conf for node "${input.nodeName}", generated by Tessera. Do not edit: rewritten on every change.`);
  out.push(`router id ${local.v4?.address ?? routerIdFromName(input.nodeName)};`, '');
  for (const f of [4, 6] as const) out.push(communityFunction(f, global, problems), '');
  for (const f of [4, 6] as const) out.push(exportFunction(f, pools, orig.localBlocks), '');
  for (const f of [4, 6] as const) out.push(kernelFilter(f, pools, local), '');
  filters.forEach((r, i) => out.push(...renderFilterFunctions(i, r, problems).map((t) => `${t}\n`)));

  out.push('protocol device {', '  scan time 10;', '}', '');
  // Connected routes resolve recursive BGP next hops; they are never exported (see the filters).
  const ifaces = [`-"${DEFAULT_INTERFACE_PREFIX}*"`, '-"tessera.*"', ...ignored.map((i) => `-"${i}"`), '"*"'];
  out.push('protocol direct {', '  ipv4;', '  ipv6;', `  interface ${ifaces.join(', ')};`, '}', '');
  for (const f of [4, 6] as const) {
    out.push(`protocol kernel kernel${f} {`);
    out.push(`  ipv${f} {`);
    // Routes with proto ${ROUTE_PROTOCOL} belong to the agent: never imported, never replaced.
    out.push(`    import filter { if krt_source = ${ROUTE_PROTOCOL} then reject; accept; };`);
    out.push(`    export filter tessera_kernel_export${f};`);
    out.push('  };');
    out.push('  learn off;', '  merge paths on;', '  scan time 10;', '}', '');
  }
  for (const f of [4, 6] as const) {
    const routes = [...orig.blocks, ...orig.borrowed, ...orig.services].filter((c) => c.family === f).sort(cmpCidr);
    out.push(`protocol static tessera_static${f} {`, `  ipv${f} { import all; export none; };`);
    for (const c of routes) out.push(`  route ${formatCidr(c)} blackhole;`);
    out.push('}', '');
  }
  out.push(
    'template bgp tessera_bgp {',
    '  multihop;',
    '  connect delay time 2;',
    '  connect retry time 5;',
    '  error wait time 5,30;',
    '}',
    '',
  );
  for (const p of plans) out.push(peerBlock(p, filterIndex, listenPort), '');

  const peers: RenderedPeer[] = plans.map((p) => ({
    protocol: p.protocol,
    address: p.address,
    ...(p.port ? { port: p.port } : {}),
    family: p.family,
    asNumber: p.asNumber,
    type: p.type,
    passive: p.passive,
    routeReflectorClient: p.rrClient !== undefined,
    source: p.source,
  }));
  return { text: `${out.join('\n').trimEnd()}\n`, peers, problems };
}
