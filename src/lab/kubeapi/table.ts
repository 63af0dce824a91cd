/**
 * Server-side printing: the `meta.k8s.io/v1` Table kubectl asks for with
 * `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`, with the real API server's columns
 * (priority-1 columns are the ones `-o wide` adds). Pure: `nowMs` is passed in.
 */
type Obj = Record<string, unknown>;

export interface TableColumn {
  name: string;
  type: 'string' | 'integer' | 'date';
  format: string;
  description: string;
  priority: number;
}

export interface TableRow {
  cells: unknown[];
  object: unknown;
}

export interface Table {
  kind: 'Table';
  apiVersion: 'meta.k8s.io/v1';
  metadata: { resourceVersion?: string; continue?: string };
  columnDefinitions: TableColumn[];
  rows: TableRow[];
}

/** Kubernetes' HumanDuration (k8s.io/apimachinery/pkg/util/duration). */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 0) return '0s';
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (h < 24 * 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 365 * 2) return `${d}d`;
  const y = Math.floor(d / 365);
  if (y < 8) return d % 365 === 0 ? `${y}y` : `${y}y${d % 365}d`;
  return `${y}y`;
}

const col = (name: string, type: TableColumn['type'] = 'string', priority = 0, description = ''): TableColumn => ({
  name,
  type,
  format: name === 'Name' ? 'name' : '',
  description,
  priority,
});

function get(o: unknown, path: string): unknown {
  let cur = o;
  for (const p of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Obj)[p];
  }
  return cur;
}

function str(v: unknown, dflt = '<none>'): string {
  return typeof v === 'string' && v !== '' ? v : dflt;
}

function age(o: unknown, nowMs: number): string {
  const ts = get(o, 'metadata.creationTimestamp');
  if (typeof ts !== 'string') return '<unknown>';
  return humanDuration(nowMs - Date.parse(ts));
}

interface Printer {
  columns: TableColumn[];
  cells(o: unknown, nowMs: number): unknown[];
}

function podCells(o: unknown, nowMs: number): unknown[] {
  const containers = (get(o, 'spec.containers') as unknown[] | undefined) ?? [];
  const statuses = (get(o, 'status.containerStatuses') as Obj[] | undefined) ?? [];
  const phase = str(get(o, 'status.phase'), 'Pending');
  const ready =
    statuses.length > 0
      ? statuses.filter((s) => s['ready'] === true).length
      : phase === 'Running'
        ? containers.length
        : 0;
  const restarts = statuses.reduce((n, s) => n + (typeof s['restartCount'] === 'number' ? s['restartCount'] : 0), 0);
  const status = get(o, 'metadata.deletionTimestamp') ? 'Terminating' : str(get(o, 'status.reason'), phase);
  const gates = (get(o, 'spec.readinessGates') as unknown[] | undefined) ?? [];
  return [
    get(o, 'metadata.name'),
    `${ready}/${containers.length}`,
    status,
    restarts,
    age(o, nowMs),
    str(get(o, 'status.podIP')),
    str(get(o, 'spec.nodeName')),
    str(get(o, 'status.nominatedNodeName')),
    gates.length === 0 ? '<none>' : `0/${gates.length}`,
  ];
}

function nodeCells(o: unknown, nowMs: number): unknown[] {
  const conditions = (get(o, 'status.conditions') as Obj[] | undefined) ?? [];
  const ready = conditions.find((c) => c['type'] === 'Ready');
  let status = ready ? (ready['status'] === 'True' ? 'Ready' : 'NotReady') : 'Unknown';
  if (get(o, 'spec.unschedulable') === true) status += ',SchedulingDisabled';
  const labels = (get(o, 'metadata.labels') as Record<string, string> | undefined) ?? {};
  const roles = Object.keys(labels)
    .filter((k) => k.startsWith('node-role.kubernetes.io/'))
    .map((k) => k.slice('node-role.kubernetes.io/'.length))
    .sort();
  const addrs = (get(o, 'status.addresses') as Obj[] | undefined) ?? [];
  const addr = (t: string) => str(addrs.find((a) => a['type'] === t)?.['address']);
  return [
    get(o, 'metadata.name'),
    status,
    roles.length ? roles.join(',') : '<none>',
    age(o, nowMs),
    str(get(o, 'status.nodeInfo.kubeletVersion'), ''),
    addr('InternalIP'),
    addr('ExternalIP'),
    str(get(o, 'status.nodeInfo.osImage'), '<unknown>'),
    str(get(o, 'status.nodeInfo.kernelVersion'), '<unknown>'),
    str(get(o, 'status.nodeInfo.containerRuntimeVersion'), '<unknown>'),
  ];
}

function selectorText(sel: unknown): string {
  const ml = (get(sel, 'matchLabels') as Record<string, string> | undefined) ?? {};
  const parts = Object.entries(ml).map(([k, v]) => `${k}=${v}`);
  for (const e of (get(sel, 'matchExpressions') as Obj[] | undefined) ?? []) {
    const op = String(e['operator']);
    const key = String(e['key']);
    const vals = ((e['values'] as string[] | undefined) ?? []).join(',');
    if (op === 'Exists') parts.push(key);
    else if (op === 'DoesNotExist') parts.push(`!${key}`);
    else parts.push(`${key} ${op.toLowerCase()} (${vals})`);
  }
  return parts.length ? parts.join(',') : '<none>';
}

const PRINTERS: Record<string, Printer> = {
  Pod: {
    columns: [
      col('Name'),
      col('Ready'),
      col('Status'),
      col('Restarts', 'integer'),
      col('Age'),
      col('IP', 'string', 1),
      col('Node', 'string', 1),
      col('Nominated Node', 'string', 1),
      col('Readiness Gates', 'string', 1),
    ],
    cells: podCells,
  },
  Node: {
    columns: [
      col('Name'),
      col('Status'),
      col('Roles'),
      col('Age'),
      col('Version'),
      col('Internal-IP', 'string', 1),
      col('External-IP', 'string', 1),
      col('OS-Image', 'string', 1),
      col('Kernel-Version', 'string', 1),
      col('Container-Runtime', 'string', 1),
    ],
    cells: nodeCells,
  },
  Namespace: {
    columns: [col('Name'), col('Status'), col('Age')],
    cells: (o, now) => [get(o, 'metadata.name'), str(get(o, 'status.phase'), 'Active'), age(o, now)],
  },
  ServiceAccount: {
    columns: [col('Name'), col('Secrets', 'integer'), col('Age')],
    cells: (o, now) => [
      get(o, 'metadata.name'),
      ((get(o, 'secrets') as unknown[] | undefined) ?? []).length,
      age(o, now),
    ],
  },
  NetworkPolicy: {
    columns: [col('Name'), col('Pod-Selector'), col('Age')],
    cells: (o, now) => [
      get(o, 'metadata.name'),
      selectorText(get(o, 'spec.podSelector')).replace('<none>', ''),
      age(o, now),
    ],
  },
  Lease: {
    columns: [col('Name'), col('Holder'), col('Age')],
    cells: (o, now) => [get(o, 'metadata.name'), str(get(o, 'spec.holderIdentity'), ''), age(o, now)],
  },
  Event: {
    columns: [col('Last Seen'), col('Type'), col('Reason'), col('Object'), col('Message')],
    cells: (o, now) => {
      const ts = get(o, 'lastTimestamp') ?? get(o, 'eventTime') ?? get(o, 'metadata.creationTimestamp');
      return [
        typeof ts === 'string' ? humanDuration(now - Date.parse(ts)) : '<unknown>',
        str(get(o, 'type'), ''),
        str(get(o, 'reason'), ''),
        `${String(get(o, 'involvedObject.kind') ?? '').toLowerCase()}/${String(get(o, 'involvedObject.name') ?? '')}`,
        str(get(o, 'message'), ''),
      ];
    },
  },
};

const DEFAULT_PRINTER: Printer = {
  columns: [col('Name'), col('Age')],
  cells: (o, now) => [get(o, 'metadata.name'), age(o, now)],
};

export type IncludeObject = 'None' | 'Metadata' | 'Object';

function rowObject(o: unknown, include: IncludeObject): unknown {
  if (include === 'None') return undefined;
  if (include === 'Object') return o;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: get(o, 'metadata') ?? {} };
}

export function renderTable(
  kind: string,
  objects: readonly unknown[],
  opts: {
    nowMs: number;
    includeObject?: IncludeObject;
    resourceVersion?: string;
    continueToken?: string | undefined;
    noHeaders?: boolean;
  },
): Table {
  const p = PRINTERS[kind] ?? DEFAULT_PRINTER;
  const include = opts.includeObject ?? 'Metadata';
  const metadata: Table['metadata'] = {};
  if (opts.resourceVersion !== undefined) metadata.resourceVersion = opts.resourceVersion;
  if (opts.continueToken) metadata.continue = opts.continueToken;
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata,
    columnDefinitions: opts.noHeaders ? [] : p.columns,
    rows: objects.map((o) => ({ cells: p.cells(o, opts.nowMs), object: rowObject(o, include) })),
  };
}

/** True when an Accept header asks for a meta.k8s.io Table (kubectl get). */
export function wantsTable(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const params = part.split(';').map((s) => s.trim());
    return (
      params.includes('as=Table') &&
      params.includes('g=meta.k8s.io') &&
      (params.includes('v=v1') || params.includes('v=v1beta1'))
    );
  });
}
