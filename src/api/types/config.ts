/**
 * Calico configuration singletons: FelixConfiguration, KubeControllersConfiguration,
 * ClusterInformation. Felix has ~150 settings; the commonly used ones are typed here, and the
 * schema (schema.ts) lists every name Calico accepts so unknown ones are still rejected.
 */
import type { Resource } from '../resource.js';
import type { LogSeverity } from './network.js';

export interface ProtoPort {
  /** Stored data may carry lower case (accepted before); apply refuses it now, as Calico does. */
  protocol?: 'TCP' | 'UDP' | 'SCTP' | 'tcp' | 'udp' | 'sctp';
  port: number;
  net?: string;
}

export interface FelixConfigurationSpec {
  logSeverityScreen?: LogSeverity;
  logSeverityFile?: LogSeverity;
  logSeveritySys?: LogSeverity;
  ipv6Support?: boolean;
  interfacePrefix?: string;
  ipipEnabled?: boolean;
  ipipMTU?: number;
  vxlanEnabled?: boolean;
  vxlanMTU?: number;
  vxlanMTUV6?: number;
  vxlanPort?: number;
  vxlanVNI?: number;
  routeRefreshInterval?: string;
  reportingInterval?: string;
  defaultEndpointToHostAction?: 'Drop' | 'Accept' | 'Return';
  failsafeInboundHostPorts?: ProtoPort[];
  failsafeOutboundHostPorts?: ProtoPort[];
  healthEnabled?: boolean;
  healthHost?: string;
  healthPort?: number;
  prometheusMetricsEnabled?: boolean;
  prometheusMetricsHost?: string;
  prometheusMetricsPort?: number;
  natOutgoingAddress?: string;
  natPortRange?: number | string;
  wireguardEnabled?: boolean;
  bpfEnabled?: boolean;
  nftablesMode?: 'Enabled' | 'Disabled' | 'Auto';
  routeSource?: 'WorkloadIPs' | 'CalicoIPAM';
  routeTableRange?: { min: number; max: number };
  /** Any other Felix setting Calico accepts (see schema.ts for the list). */
  [setting: string]: unknown;
}

export type EnabledDisabled = 'Enabled' | 'Disabled';

export interface ReconcilerSettings {
  reconcilerPeriod?: string;
}

/** kube-controllers' own levels (Calico's CRD enum): not Felix's (no Trace; None and Panic). */
export type KubeControllersLogSeverity = 'None' | 'Debug' | 'Info' | 'Warning' | 'Error' | 'Fatal' | 'Panic';

/** An AutoHostEndpoint template (Calico's Template type). */
export interface HostEndpointTemplate {
  generateName?: string;
  interfaceCIDRs?: string[];
  interfacePattern?: string;
  labels?: Record<string, string>;
  nodeSelector?: string;
}

export interface KubeControllersConfigurationSpec {
  logSeverityScreen?: KubeControllersLogSeverity;
  healthChecks?: EnabledDisabled;
  prometheusMetricsPort?: number;
  /** Calico's JSON name. The spelling in Calico's docs (`etcdv3CompactionPeriod`) is accepted and renamed. */
  etcdV3CompactionPeriod?: string;
  debugProfilePort?: number;
  controllers?: {
    node?: ReconcilerSettings & {
      syncLabels?: EnabledDisabled;
      hostEndpoint?: {
        autoCreate?: EnabledDisabled;
        createDefaultHostEndpoint?: EnabledDisabled;
        templates?: HostEndpointTemplate[];
      };
      leakGracePeriod?: string;
    };
    policy?: ReconcilerSettings;
    workloadEndpoint?: ReconcilerSettings;
    serviceAccount?: ReconcilerSettings;
    namespace?: ReconcilerSettings;
    loadBalancer?: { assignIPs?: 'AllServices' | 'RequestedServicesOnly' };
    /** Calico's JSON name for its policy-name migrator. */
    policyMigration?: { enabled?: EnabledDisabled };
  };
}

/** What kube-controllers runs with (Calico's KubeControllersConfigurationStatus). */
export interface KubeControllersConfigurationStatus {
  runningConfig?: KubeControllersConfigurationSpec;
  environmentVars?: Record<string, string>;
}

export interface ClusterInformationSpec {
  clusterGUID?: string;
  clusterType?: string;
  calicoVersion?: string;
  datastoreReady?: boolean;
  variant?: string;
}

export type FelixConfiguration = Resource<FelixConfigurationSpec> & { kind: 'FelixConfiguration' };
export type KubeControllersConfiguration = Resource<KubeControllersConfigurationSpec> & {
  kind: 'KubeControllersConfiguration';
};
export type ClusterInformation = Resource<ClusterInformationSpec> & { kind: 'ClusterInformation' };
