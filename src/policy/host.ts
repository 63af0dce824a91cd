/**
 * Host protection inputs (pure): Calico's failsafe defaults, FelixConfiguration → HostConfig, and
 * which interface a HostEndpoint polices.
 */
import { decode } from '../api/index.js';
import { cidrNetwork, formatCidr, parseCidr } from '../lib/ip.js';
import { TesseraError } from '../lib/errors.js';
import type { FailsafeRule, HostConfig } from './ir.js';
import { protocolNumber } from './rules.js';
import type { FailsafePort, HostConfigInput, HostEndpointInput, HostInterfaceInput } from './types.js';

/** Felix's defaults (FelixConfiguration reference): SSH, DHCP, BGP, etcd, Typha, the API server, kubelet. */
export const DEFAULT_FAILSAFE_INBOUND: readonly FailsafePort[] = [
  { protocol: 'TCP', port: 22 },
  { protocol: 'UDP', port: 68 },
  { protocol: 'TCP', port: 179 },
  { protocol: 'TCP', port: 2379 },
  { protocol: 'TCP', port: 2380 },
  { protocol: 'TCP', port: 5473 },
  { protocol: 'TCP', port: 6443 },
  { protocol: 'TCP', port: 6666 },
  { protocol: 'TCP', port: 6667 },
];
export const DEFAULT_FAILSAFE_OUTBOUND: readonly FailsafePort[] = [
  { protocol: 'UDP', port: 53 },
  { protocol: 'UDP', port: 67 },
  { protocol: 'TCP', port: 179 },
  { protocol: 'TCP', port: 2379 },
  { protocol: 'TCP', port: 2380 },
  { protocol: 'TCP', port: 5473 },
  { protocol: 'TCP', port: 6443 },
  { protocol: 'TCP', port: 6666 },
  { protocol: 'TCP', port: 6667 },
];

/** Calico's built-in profile: allow everything both ways (attached to `<node>-auto-hep`). */
export const DEFAULT_ALLOW_PROFILE = 'projectcalico-default-allow';

function failsafeRules(list: readonly FailsafePort[], field: string): FailsafeRule[] {
  return list.map((f, i) => {
    const at = `${field}[${i}]`;
    const protocol = protocolNumber(f.protocol, `${at}.protocol`);
    if (!Number.isInteger(f.port) || f.port < 0 || f.port > 65535) {
      throw new TesseraError('validation', `cannot use ${at}.port ${JSON.stringify(f.port)}: not a port number`);
    }
    if (!f.net) return { protocol, port: f.port };
    let net: string;
    try {
      const c = parseCidr(f.net, { strict: false, allowBareIp: true });
      net = formatCidr(cidrNetwork(c));
    } catch (e) {
      throw new TesseraError('validation', `cannot use ${at}.net ${JSON.stringify(f.net)}`, { cause: e });
    }
    return { protocol, port: f.port, net };
  });
}

/** An absent list means Felix's default; an empty list disables that direction's failsafes. */
export function hostConfigOf(input: HostConfigInput | undefined): HostConfig {
  return {
    failsafeInbound: failsafeRules(input?.failsafeInbound ?? DEFAULT_FAILSAFE_INBOUND, 'failsafeInboundHostPorts'),
    failsafeOutbound: failsafeRules(input?.failsafeOutbound ?? DEFAULT_FAILSAFE_OUTBOUND, 'failsafeOutboundHostPorts'),
    defaultEndpointToHostAction: input?.defaultEndpointToHostAction ?? 'Drop',
  };
}

/**
 * The interface a HostEndpoint polices: its interfaceName (`*` = all), or else the local interface
 * holding one of its expectedIPs (Felix's resolution); undefined when none does.
 */
export function hostEndpointInterface(
  h: HostEndpointInput,
  interfaces: readonly HostInterfaceInput[],
): string | undefined {
  if (h.interfaceName) return h.interfaceName;
  const wanted = new Set((h.expectedIPs ?? []).map((a) => a.split('/')[0]));
  return interfaces.find((i) => i.addresses.some((a) => wanted.has(a.split('/')[0] ?? '')))?.name;
}

const HOST_FIELDS = ['failsafeInboundHostPorts', 'failsafeOutboundHostPorts', 'defaultEndpointToHostAction'] as const;

/**
 * HostConfigInput from FelixConfiguration specs, later ones overriding earlier ones field by field
 * (Felix: `node.<name>` over `default`). Values of the wrong shape are ignored (validation rejects them).
 */
export function hostConfigFromSpecs(specs: readonly unknown[]): HostConfigInput {
  const merged: Record<string, unknown> = {};
  for (const spec of specs) {
    const s = decode.obj(spec);
    for (const f of HOST_FIELDS) if (s[f] !== undefined && s[f] !== null) merged[f] = s[f];
  }
  const a = merged.defaultEndpointToHostAction;
  return {
    ...(Array.isArray(merged.failsafeInboundHostPorts)
      ? { failsafeInbound: merged.failsafeInboundHostPorts as FailsafePort[] }
      : {}),
    ...(Array.isArray(merged.failsafeOutboundHostPorts)
      ? { failsafeOutbound: merged.failsafeOutboundHostPorts as FailsafePort[] }
      : {}),
    ...(a === 'Drop' || a === 'Accept' || a === 'Return' ? { defaultEndpointToHostAction: a } : {}),
  };
}
