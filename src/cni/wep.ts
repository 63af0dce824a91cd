/**
 * Builds the WorkloadEndpoint (Calico v3 shape) for a pod or a plain CNI workload. Pure.
 * Labels: the v1 Pod's, plus projectcalico.org/{namespace,orchestrator,serviceaccount}.
 * Profiles: kns.<ns> and ksa.<ns>.<sa>. Ports: the Pod's named container ports.
 */
import { CALICO_API_VERSION, type Resource } from '../api/index.js';
import { wepName } from './naming.js';

export interface WorkloadEndpointPort {
  name: string;
  protocol: string;
  port: number;
  hostPort?: number;
  hostIP?: string;
}

export interface WorkloadEndpointSpec {
  orchestrator: 'k8s' | 'cni';
  workload: string;
  node: string;
  containerID: string;
  pod?: string;
  endpoint: string;
  serviceAccountName?: string;
  ipNetworks: string[];
  profiles: string[];
  interfaceName: string;
  mac: string;
  ports?: WorkloadEndpointPort[];
}

/** The parts of a v1 Pod the CNI plugin reads. */
export interface PodInfo {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  serviceAccountName: string;
  ports: WorkloadEndpointPort[];
}

interface V1ContainerPort {
  name?: unknown;
  containerPort?: unknown;
  protocol?: unknown;
  hostPort?: unknown;
  hostIP?: unknown;
}

/** Extracts PodInfo from a stored v1 Pod resource. */
export function podInfoFrom(pod: Resource, namespace: string, name: string): PodInfo {
  const spec = (pod.spec ?? {}) as { serviceAccountName?: unknown; containers?: { ports?: V1ContainerPort[] }[] };
  const ports: WorkloadEndpointPort[] = [];
  for (const c of Array.isArray(spec.containers) ? spec.containers : []) {
    for (const p of Array.isArray(c.ports) ? c.ports : []) {
      if (typeof p.name !== 'string' || p.name === '' || typeof p.containerPort !== 'number') continue;
      ports.push({
        name: p.name,
        protocol: typeof p.protocol === 'string' ? p.protocol : 'TCP',
        port: p.containerPort,
        ...(typeof p.hostPort === 'number' ? { hostPort: p.hostPort } : {}),
        ...(typeof p.hostIP === 'string' ? { hostIP: p.hostIP } : {}),
      });
    }
  }
  return {
    namespace,
    name,
    labels: { ...(pod.metadata.labels ?? {}) },
    serviceAccountName:
      typeof spec.serviceAccountName === 'string' && spec.serviceAccountName ? spec.serviceAccountName : 'default',
    ports,
  };
}

export interface WepInput {
  node: string;
  containerId: string;
  endpoint: string;
  hostIf: string;
  mac: string;
  /** CIDRs (`/32`, `/128`). */
  ipNetworks: string[];
  pod?: PodInfo;
}

export const CNI_WORKLOAD_NAMESPACE = 'default';

export function buildWorkloadEndpoint(input: WepInput): Resource<WorkloadEndpointSpec> {
  const { pod } = input;
  const orchestrator = pod ? 'k8s' : 'cni';
  const namespace = pod ? pod.namespace : CNI_WORKLOAD_NAMESPACE;
  const workload = pod ? pod.name : input.containerId;
  const labels: Record<string, string> = {
    ...(pod?.labels ?? {}),
    'projectcalico.org/namespace': namespace,
    'projectcalico.org/orchestrator': orchestrator,
  };
  if (pod) labels['projectcalico.org/serviceaccount'] = pod.serviceAccountName;
  const spec: WorkloadEndpointSpec = {
    orchestrator,
    workload,
    node: input.node,
    containerID: input.containerId,
    ...(pod ? { pod: pod.name } : {}),
    endpoint: input.endpoint,
    ...(pod ? { serviceAccountName: pod.serviceAccountName } : {}),
    ipNetworks: input.ipNetworks,
    profiles: pod ? [`kns.${namespace}`, `ksa.${namespace}.${pod.serviceAccountName}`] : [`kns.${namespace}`],
    interfaceName: input.hostIf,
    mac: input.mac,
    ...(pod && pod.ports.length > 0 ? { ports: pod.ports } : {}),
  };
  return {
    apiVersion: CALICO_API_VERSION,
    kind: 'WorkloadEndpoint',
    metadata: { name: wepName(input.node, orchestrator, workload, input.endpoint), namespace, labels },
    spec,
  };
}
