/**
 * CNI wire shapes (spec 1.0.0 / 1.1.0, with the 0.3.x / 0.4.0 result format) and Tessera's network
 * config (field names as Calico's, see notes/interfaces.md).
 */

export const CNI_COMMANDS = ['ADD', 'DEL', 'CHECK', 'VERSION', 'GC', 'STATUS'] as const;
export type CniCommand = (typeof CNI_COMMANDS)[number];

export interface TesseraIpamConf {
  type: string;
  assign_ipv4?: string | boolean;
  assign_ipv6?: string | boolean;
  ipv4_pools?: string[];
  ipv6_pools?: string[];
  /** Fallbacks when the IPAM section is used inside another plugin's config. */
  nodename?: string;
  etcd_endpoints?: string;
  [k: string]: unknown;
}

export interface NetConf {
  cniVersion: string;
  name: string;
  type: string;
  nodename?: string;
  etcd_endpoints?: string;
  etcd_ca_cert_file?: string;
  etcd_cert_file?: string;
  etcd_key_file?: string;
  mtu?: number;
  mtu_file?: string;
  interface_prefix?: string;
  agent_socket?: string;
  /** Calico's name: wait up to this long for the agent to program the pod's policy (fast path only). */
  policy_setup_timeout_seconds?: number;
  ipam?: TesseraIpamConf;
  prevResult?: unknown;
  'cni.dev/valid-attachments'?: { containerID: string; ifname: string }[];
  [k: string]: unknown;
}

/** One parsed invocation: environment + config, validated. */
export interface CniRequest {
  command: CniCommand;
  containerId: string;
  netns: string;
  ifName: string;
  /** Parsed CNI_ARGS (`K=V;K=V`). */
  args: Record<string, string>;
  path: string;
  conf: NetConf;
}

export interface CniInterface {
  name: string;
  mac?: string;
  sandbox?: string;
}

/** The 1.0.0 result; `formatResult` converts it to older formats. */
export interface CniResult {
  interfaces?: CniInterface[];
  ips: { address: string; gateway?: string; interface?: number }[];
  routes?: { dst: string; gw?: string }[];
  dns?: Record<string, unknown>;
}

export interface CniReply {
  exitCode: number;
  /** Exactly what goes to stdout (empty for DEL / CHECK / GC / STATUS success). */
  stdout: string;
}
