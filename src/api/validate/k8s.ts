/** Kubernetes Namespace, Pod, ServiceAccount and networking.k8s.io/v1 NetworkPolicy (apimachinery rules). */
import { cidrContainsCidr } from '../../lib/ip.js';
import { validateLabelKey, validateLabelValue } from '../selector/index.js';
import {
  checkCidrField,
  checkDnsLabel,
  checkIntRange,
  checkIpField,
  checkOneOf,
  checkSubdomain,
  type Problems,
} from './common.js';
import { isRecord, joinPath, quote } from './shape.js';

const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;

/** IANA_SVC_NAME: 1-15 chars, [a-z0-9-], at least one letter, no leading/trailing/double '-'. */
function checkPortName(p: Problems, path: string, v: unknown): void {
  if (typeof v !== 'string') return;
  const ok =
    v.length >= 1 &&
    v.length <= 15 &&
    /^[a-z0-9-]+$/.test(v) &&
    /[a-z]/.test(v) &&
    !v.startsWith('-') &&
    !v.endsWith('-') &&
    !v.includes('--');
  if (!ok) {
    p.add(
      path,
      `port name ${quote(v)} must be 1-15 lower-case alphanumerics or '-', contain a letter, and not start, end or repeat '-'`,
    );
  }
}

export function checkLabelSelector(p: Problems, path: string, v: unknown): void {
  if (!isRecord(v)) return;
  if (isRecord(v.matchLabels)) {
    for (const [k, val] of Object.entries(v.matchLabels)) {
      const at = joinPath(joinPath(path, 'matchLabels'), k);
      const e = validateLabelKey(k) ?? (typeof val === 'string' ? validateLabelValue(val) : undefined);
      if (e !== undefined) p.add(at, e);
    }
  }
  if (!Array.isArray(v.matchExpressions)) return;
  v.matchExpressions.forEach((m, i) => {
    if (!isRecord(m)) return;
    const at = joinPath(joinPath(path, 'matchExpressions'), i);
    if (typeof m.key !== 'string') p.add(joinPath(at, 'key'), 'key is required');
    else {
      const e = validateLabelKey(m.key);
      if (e !== undefined) p.add(joinPath(at, 'key'), e);
    }
    if (m.operator === undefined) return p.add(joinPath(at, 'operator'), 'operator is required');
    if (!checkOneOf(p, joinPath(at, 'operator'), m.operator, ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const))
      return;
    const n = Array.isArray(m.values) ? m.values.length : 0;
    if ((m.operator === 'In' || m.operator === 'NotIn') && n === 0) {
      p.add(joinPath(at, 'values'), `operator ${quote(m.operator)} needs at least one value`);
    }
    if ((m.operator === 'Exists' || m.operator === 'DoesNotExist') && n > 0) {
      p.add(joinPath(at, 'values'), `operator ${quote(m.operator)} takes no values`);
    }
    if (Array.isArray(m.values)) {
      m.values.forEach((val, j) => {
        const e = typeof val === 'string' ? validateLabelValue(val) : undefined;
        if (e !== undefined) p.add(joinPath(joinPath(at, 'values'), j), e);
      });
    }
  });
}

export function validateNamespace(p: Problems, _spec: Record<string, unknown>, name: string): void {
  checkDnsLabel(p, 'metadata.name', name, 'namespace name');
}

export function validatePod(p: Problems, spec: Record<string, unknown>, status: unknown): void {
  if (typeof spec.nodeName === 'string' && spec.nodeName !== '')
    checkSubdomain(p, 'spec.nodeName', spec.nodeName, 'node name');
  if (typeof spec.serviceAccountName === 'string' && spec.serviceAccountName !== '') {
    checkSubdomain(p, 'spec.serviceAccountName', spec.serviceAccountName, 'service account name');
  }
  if (!Array.isArray(spec.containers) || spec.containers.length === 0) {
    p.add('spec.containers', 'at least one container is required');
  } else {
    const names = new Set<string>();
    spec.containers.forEach((c, i) => {
      if (!isRecord(c)) return;
      const at = joinPath('spec.containers', i);
      if (typeof c.name !== 'string') p.add(joinPath(at, 'name'), 'container name is required');
      else checkDnsLabel(p, joinPath(at, 'name'), c.name, 'container name');
      if (!Array.isArray(c.ports)) return;
      c.ports.forEach((port, j) => {
        if (!isRecord(port)) return;
        const pat = joinPath(joinPath(at, 'ports'), j);
        if (port.containerPort === undefined || port.containerPort === null)
          p.add(joinPath(pat, 'containerPort'), 'containerPort is required');
        checkIntRange(p, joinPath(pat, 'containerPort'), port.containerPort, 1, 65535, 'containerPort');
        checkIntRange(p, joinPath(pat, 'hostPort'), port.hostPort, 1, 65535, 'hostPort');
        checkOneOf(p, joinPath(pat, 'protocol'), port.protocol, PROTOCOLS);
        checkIpField(p, joinPath(pat, 'hostIP'), port.hostIP);
        if (typeof port.name === 'string') {
          checkPortName(p, joinPath(pat, 'name'), port.name);
          if (names.has(port.name))
            p.add(joinPath(pat, 'name'), `port name ${quote(port.name)} is repeated in the pod`);
          names.add(port.name);
        }
      });
    });
  }
  if (!isRecord(status)) return;
  checkIpField(p, 'status.podIP', status.podIP);
  checkIpField(p, 'status.hostIP', status.hostIP);
  if (Array.isArray(status.podIPs)) {
    status.podIPs.forEach((x, i) => {
      if (isRecord(x)) checkIpField(p, joinPath(joinPath('status.podIPs', i), 'ip'), x.ip);
    });
  }
}

function checkK8sPorts(p: Problems, path: string, ports: unknown): void {
  if (!Array.isArray(ports)) return;
  ports.forEach((port, i) => {
    if (!isRecord(port)) return;
    const at = joinPath(path, i);
    checkOneOf(p, joinPath(at, 'protocol'), port.protocol, PROTOCOLS);
    if (typeof port.port === 'number') checkIntRange(p, joinPath(at, 'port'), port.port, 1, 65535, 'port');
    else if (typeof port.port === 'string') checkPortName(p, joinPath(at, 'port'), port.port);
    if (port.endPort === undefined || port.endPort === null) return;
    if (typeof port.port !== 'number') {
      p.add(joinPath(at, 'endPort'), `endPort needs a numeric port (port is ${quote(port.port ?? 'unset')})`);
    } else if (typeof port.endPort === 'number') {
      checkIntRange(p, joinPath(at, 'endPort'), port.endPort, 1, 65535, 'endPort');
      if (port.endPort < port.port)
        p.add(joinPath(at, 'endPort'), `endPort ${port.endPort} is less than port ${port.port}`);
    }
  });
}

function checkPeers(p: Problems, path: string, peers: unknown): void {
  if (!Array.isArray(peers)) return;
  peers.forEach((peer, i) => {
    if (!isRecord(peer)) return;
    const at = joinPath(path, i);
    const has = (k: string) => peer[k] !== undefined && peer[k] !== null;
    if (!has('podSelector') && !has('namespaceSelector') && !has('ipBlock')) {
      p.add(at, 'set at least one of podSelector, namespaceSelector or ipBlock');
    }
    if (has('ipBlock') && (has('podSelector') || has('namespaceSelector'))) {
      p.add(joinPath(at, 'ipBlock'), 'ipBlock cannot be combined with podSelector or namespaceSelector');
    }
    checkLabelSelector(p, joinPath(at, 'podSelector'), peer.podSelector);
    checkLabelSelector(p, joinPath(at, 'namespaceSelector'), peer.namespaceSelector);
    const ib = peer.ipBlock;
    if (!isRecord(ib)) return;
    const ibAt = joinPath(at, 'ipBlock');
    if (ib.cidr === undefined || ib.cidr === null) return p.add(joinPath(ibAt, 'cidr'), 'cidr is required');
    const outer = checkCidrField(p, joinPath(ibAt, 'cidr'), ib.cidr, { strict: false });
    if (!Array.isArray(ib.except)) return;
    ib.except.forEach((e, j) => {
      const eAt = joinPath(joinPath(ibAt, 'except'), j);
      const inner = checkCidrField(p, eAt, e, { strict: false });
      if (!outer || !inner) return;
      if (!cidrContainsCidr(outer, inner) || inner.prefix <= outer.prefix) {
        p.add(eAt, `${quote(e)} must be a strict subset of cidr ${quote(ib.cidr)}`);
      }
    });
  });
}

export function validateK8sNetworkPolicy(p: Problems, spec: Record<string, unknown>): void {
  // A missing podSelector decodes as {} (every pod in the namespace), as in Kubernetes.
  checkLabelSelector(p, 'spec.podSelector', spec.podSelector);
  if (Array.isArray(spec.policyTypes)) {
    spec.policyTypes.forEach((t, i) =>
      checkOneOf(p, joinPath('spec.policyTypes', i), t, ['Ingress', 'Egress'] as const),
    );
  }
  for (const [dir, peersField] of [
    ['ingress', 'from'],
    ['egress', 'to'],
  ] as const) {
    const rules = spec[dir];
    if (!Array.isArray(rules)) continue;
    rules.forEach((r, i) => {
      if (!isRecord(r)) return;
      const at = joinPath(joinPath('spec', dir), i);
      checkK8sPorts(p, joinPath(at, 'ports'), r.ports);
      checkPeers(p, joinPath(at, peersField), r[peersField]);
    });
  }
}
