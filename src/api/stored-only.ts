/**
 * Fields Tessera accepts and stores because Calico's API has them, but does not act on. `tessera
 * apply` warns when a document sets one, so nobody mistakes "accepted" for "in effect"; the field
 * table (docs/api-fields.md, generated and tested) marks them. Paths use `[]` for "every item".
 * Keep this list honest: a field Tessera starts to act on leaves it (the table test fails if an
 * entry names a field the schema does not have).
 */
import type { Resource } from './resource.js';
import { SCHEMAS } from './validate/schemas.js';
import { isRecord } from './validate/shape.js';

const C = 'projectcalico.org/v3/';

/** Why a Felix setting has no effect here, by the setting's name. */
function felixReason(field: string): string {
  if (/^bpf/.test(field)) return "Tessera's dataplane is nftables; there is no eBPF dataplane";
  if (/^wireguard/i.test(field)) return 'Tessera does not encrypt with WireGuard';
  if (/^iptables|^chainInsertMode|^maxIpsetSize|^ipsetsRefresh/.test(field))
    return 'Tessera programs nftables, not iptables';
  if (/xdp|XDP/.test(field)) return 'there is no XDP acceleration';
  if (
    /^(prometheus|health|debug|go[A-Z]|usageReporting|log|flowLogs|dataplaneWatchdog|featureDetect|featureGates)/.test(
      field,
    )
  )
    return "the agent's logging, metrics, health and debugging are set by its command-line flags";
  if (/^(ipipEnabled|vxlanEnabled|ipv6Support)$/.test(field)) return 'Tessera derives it from the IP pools';
  if (/^(vxlanPort|vxlanVNI|vxlanMTU|vxlanMTUV6|ipipMTU|mtuIfacePattern|requireMTUFile)$/.test(field))
    return 'Tessera uses the standard VXLAN port/VNI and computes MTUs from the host interface';
  return 'the Tessera agent does not read this setting';
}

/** The Felix settings Tessera acts on (host protection); every other FelixConfiguration field is stored only. */
export const FELIX_ACTED_ON: readonly string[] = [
  'defaultEndpointToHostAction',
  'failsafeInboundHostPorts',
  'failsafeOutboundHostPorts',
];

function felixFieldNames(): string[] {
  const spec = SCHEMAS[`${C}FelixConfiguration`]?.spec;
  return spec?.t === 'object' ? Object.keys(spec.fields) : [];
}

const RULE_HTTP =
  'HTTP matches need an application-layer proxy, which Tessera does not run: the rule matches as if `http` were absent';
const RULE_SERVICES = 'Tessera does not match Kubernetes Services: the rule matches as if `services` were absent';
const ruleFields = (): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const dir of ['ingress', 'egress']) {
    out[`spec.${dir}[].http`] = RULE_HTTP;
    for (const side of ['source', 'destination']) out[`spec.${dir}[].${side}.services`] = RULE_SERVICES;
  }
  return out;
};
const HINTS = "performance hints are advice to Calico's dataplane; Tessera has nothing to tune with them";

const NO_COMPACTION = "tessera-kube-controllers does not compact etcd; use etcd's --auto-compaction-retention";

/** Kind key (`apiVersion/kind`) → path → why Tessera does not act on it. */
export const STORED_ONLY: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  [`${C}FelixConfiguration`]: Object.fromEntries(
    felixFieldNames()
      .filter((f) => !FELIX_ACTED_ON.includes(f))
      .map((f) => [`spec.${f}`, felixReason(f)]),
  ),
  [`${C}IPPool`]: { 'spec.assignmentMode': 'every enabled pool is used for automatic assignment' },
  [`${C}IPAMConfiguration`]: { 'spec.autoAllocateBlocks': 'blocks are always allocated on demand' },
  [`${C}BGPConfiguration`]: {
    'spec.bindMode': 'BIRD listens on all addresses',
    'spec.localWorkloadPeeringIPV4': 'Tessera does not peer with local workloads',
    'spec.localWorkloadPeeringIPV6': 'Tessera does not peer with local workloads',
    'spec.programClusterRoutes': 'the Tessera agent does not read this setting',
  },
  [`${C}BGPPeer`]: {
    'spec.numAllowedLocalASNumbers': 'not rendered into the BIRD configuration',
    'spec.ttlSecurity': 'not rendered into the BIRD configuration',
    'spec.reachableBy': 'not rendered into the BIRD configuration',
  },
  [`${C}KubeControllersConfiguration`]: {
    'spec.etcdV3CompactionPeriod': NO_COMPACTION,
    'spec.etcdv3CompactionPeriod': NO_COMPACTION,
    'spec.debugProfilePort': 'there is no profiling endpoint',
    'spec.controllers.node.hostEndpoint.createDefaultHostEndpoint':
      'auto-created host endpoints are always all-interfaces',
    'spec.controllers.node.hostEndpoint.templates':
      'Tessera auto-creates only the all-interfaces host endpoint, from no template',
    'spec.controllers.loadBalancer': 'tessera-kube-controllers has no LoadBalancer IPAM controller',
    'spec.controllers.policyMigration':
      'tessera-kube-controllers has no policy-name migrator (Tessera never stored old-style policy names)',
    'spec.logSeverityScreen': "tessera-kube-controllers' log level is set by its command-line flags",
  },
  // The agent (with BGP) publishes its own node's status every 5 s, whatever these say.
  [`${C}CalicoNodeStatus`]: {
    'spec.node': 'the agent fills only the CalicoNodeStatus named after its own node; spec.node is not read',
    'spec.classes': 'the agent always reports its Agent and BGP status, and no Routes status',
    'spec.updatePeriodSeconds': 'the agent refreshes status at its own 5 s interval; 0 does not stop it',
  },
  [`${C}WorkloadEndpoint`]: {
    'spec.ipNATs': 'Tessera does not program floating IPs (1:1 NAT)',
    'spec.allowSpoofedSourcePrefixes': 'Tessera does not program source-spoofing allowances',
  },
  [`${C}NetworkPolicy`]: { ...ruleFields(), 'spec.performanceHints': HINTS },
  [`${C}GlobalNetworkPolicy`]: { ...ruleFields(), 'spec.performanceHints': HINTS },
  [`${C}Profile`]: ruleFields(),
};

/** Whether `value` has something set (non-null) at `path` (`a.b[].c`). */
function isSet(value: unknown, parts: readonly string[]): boolean {
  if (value === undefined || value === null) return false;
  if (parts.length === 0) return !(Array.isArray(value) && value.length === 0);
  const [head, ...rest] = parts as [string, ...string[]];
  const many = head.endsWith('[]');
  const key = many ? head.slice(0, -2) : head;
  if (!isRecord(value)) return false;
  const next = value[key];
  if (!many) return isSet(next, rest);
  return Array.isArray(next) && next.some((item) => isSet(item, rest));
}

/** The stored-only fields `r` sets, each with the reason Tessera does not act on it. */
export function storedOnlyFields(r: Resource): { path: string; why: string }[] {
  const table = STORED_ONLY[`${r.apiVersion}/${r.kind}`];
  if (!table) return [];
  return Object.entries(table)
    .filter(([path]) => isSet(r, path.split('.')))
    .map(([path, why]) => ({ path, why }));
}
