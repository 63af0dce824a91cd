/**
 * Who the invocation is about, derived from env + config alone (so ADD, CHECK and DEL agree
 * without memory): node, k8s pod or plain CNI container, host veth name, IPAM handle, WEP name.
 */
import { DEFAULT_INTERFACE_PREFIX, handleId, hostVethName, podMac, wepName } from './naming.js';
import { CNI_WORKLOAD_NAMESPACE } from './wep.js';
import type { CniRequest } from './types.js';

export interface Workload {
  node: string;
  pod?: { namespace: string; name: string };
  hostIf: string;
  podMac: string;
  handle: string;
  wepNamespace: string;
  wepName: string;
}

export function workloadOf(req: CniRequest, defaultNode: string): Workload {
  const node = req.conf.nodename || defaultNode;
  const ns = req.args['K8S_POD_NAMESPACE'];
  const name = req.args['K8S_POD_NAME'];
  const pod = ns && name ? { namespace: ns, name } : undefined;
  const prefix = req.conf.interface_prefix || DEFAULT_INTERFACE_PREFIX;
  return {
    node,
    ...(pod ? { pod } : {}),
    hostIf: hostVethName(prefix, pod ? `${pod.namespace}.${pod.name}` : req.containerId),
    podMac: podMac(req.containerId),
    handle: handleId(req.conf.name, req.containerId),
    wepNamespace: pod ? pod.namespace : CNI_WORKLOAD_NAMESPACE,
    wepName: pod ? wepName(node, 'k8s', pod.name, req.ifName) : wepName(node, 'cni', req.containerId, req.ifName),
  };
}

const truthy = (v: unknown, dflt: boolean): boolean =>
  v === undefined ? dflt : v === true || (typeof v === 'string' && v.toLowerCase() === 'true');

export function familiesWanted(req: CniRequest): { v4: boolean; v6: boolean } {
  return { v4: truthy(req.conf.ipam?.assign_ipv4, true), v6: truthy(req.conf.ipam?.assign_ipv6, false) };
}
