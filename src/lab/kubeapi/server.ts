/**
 * The stand-in Kubernetes API server (lab only): REST over HTTP on a Backend (the lab's etcd),
 * objects under `/registry-tessera/`, resourceVersion = the key's etcd mod revision.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID, randomInt } from 'node:crypto';
import { rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Backend, KV } from '../../datastore/index.js';
import { isTesseraError } from '../../lib/errors.js';
import {
  ALL_VERBS,
  KUBE_RESOURCES,
  apiGroups,
  apiVersionOf,
  findResource,
  keyPrefix,
  objectKey,
  type KubeResource,
} from './resources.js';
import {
  matchFields,
  matchLabels,
  parseFieldSelector,
  parseLabelSelector,
  type FieldRequirement,
  type LabelRequirement,
} from './selectors.js';
import { applyPatch, PatchError, patchTypeOf, type Json } from './patch.js';
import { renderTable, wantsTable, type IncludeObject } from './table.js';
import { decodeContinue, encodeContinue, expiredStatus, watchEventType, watchStart } from './watch-window.js';
import { KubeStatusError, alreadyExists, conflict, invalid, notFound } from './status.js';
import { KUBE_PROTOBUF, decodeKubeProtobuf } from './protobuf.js';
import { openApiKubeVersion, serveOpenApi } from './openapi.js';

type Obj = Record<string, unknown> & { metadata?: Record<string, unknown> };

export const STAND_IN_NOTE = 'Tessera stand-in Kubernetes API (stand-in, lab only)';

export interface KubeApiServerOptions {
  backend: Backend;
  /** How often a watch with allowWatchBookmarks=true gets a BOOKMARK (default 10 s). */
  bookmarkIntervalMs?: number | undefined;
  /** Server version reported by /version (default: that of the OpenAPI schemas served, 1.22). */
  version?: { major: string; minor: string } | undefined;
  now?: () => number;
  log?: (line: string) => void;
}

export interface ListenOptions {
  host?: string | undefined;
  /** 0 picks a free port. */
  port?: number | undefined;
  /** Also (or only) listen on this unix socket. */
  socketPath?: string | undefined;
}

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const MAX_BODY = 3 * 1024 * 1024;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function nowIso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function randomSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let s = '';
  for (let i = 0; i < 5; i++) s += alphabet[randomInt(alphabet.length)];
  return s;
}

interface Route {
  res: KubeResource;
  namespace?: string | undefined;
  name?: string | undefined;
  sub?: 'status' | undefined;
}

export class KubeApiServer {
  private readonly backend: Backend;
  private readonly bookmarkMs: number;
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  private readonly version: { major: string; minor: string };
  private readonly servers: Server[] = [];
  private readonly watches = new Set<AbortController>();
  private socketPath?: string;

  constructor(opts: KubeApiServerOptions) {
    this.backend = opts.backend;
    this.bookmarkMs = opts.bookmarkIntervalMs ?? 10_000;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? (() => undefined);
    this.version = opts.version ?? openApiKubeVersion();
  }

  /** Starts serving; returns the loopback URL (TCP) when a port was asked for. */
  async listen(opts: ListenOptions): Promise<{ url?: string; socketPath?: string }> {
    const out: { url?: string; socketPath?: string } = {};
    const start = (bind: (s: Server) => void) =>
      new Promise<Server>((resolve, reject) => {
        const s = createServer((req, res) => void this.handle(req, res));
        s.keepAliveTimeout = 65_000;
        s.once('error', reject);
        s.once('listening', () => resolve(s));
        bind(s);
      });
    if (opts.port !== undefined) {
      const host = opts.host ?? '127.0.0.1';
      const s = await start((x) => x.listen(opts.port, host));
      this.servers.push(s);
      const port = (s.address() as AddressInfo).port;
      out.url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    }
    if (opts.socketPath) {
      rmSync(opts.socketPath, { force: true });
      const s = await start((x) => x.listen(opts.socketPath));
      this.servers.push(s);
      this.socketPath = opts.socketPath;
      out.socketPath = opts.socketPath;
    }
    return out;
  }

  async close(): Promise<void> {
    for (const w of this.watches) w.abort();
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
    if (this.socketPath) rmSync(this.socketPath, { force: true });
  }

  /** The request handler (exposed so tests can mount it on their own server). */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://kubeapi');
    try {
      await this.route(req, res, url);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof KubeStatusError) this.sendJson(res, err.code, err.toStatus());
      else if (err instanceof PatchError)
        this.sendJson(
          res,
          err.status,
          new KubeStatusError(err.status === 400 ? 'BadRequest' : 'Invalid', err.message).toStatus(),
        );
      else {
        this.log(`${req.method} ${req.url}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        this.sendJson(
          res,
          500,
          new KubeStatusError(
            'InternalError',
            `Internal error: ${err instanceof Error ? err.message : String(err)}`,
          ).toStatus(),
        );
      }
    }
  }

  private sendJson(res: ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(code, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(text),
      'Cache-Control': 'no-cache, private',
    });
    res.end(text);
  }

  private async route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    if (path === '/version') return this.sendJson(res, 200, this.versionInfo());
    if (path === '/healthz' || path === '/readyz' || path === '/livez') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
      return;
    }
    if (path.startsWith('/openapi/')) {
      if (serveOpenApi(path, req, res)) return;
      throw new KubeStatusError('NotFound', `the server could not find the requested resource (${path})`);
    }
    if (path === '/api') {
      return this.sendJson(res, 200, {
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: req.headers.host ?? '' }],
      });
    }
    if (path === '/apis') return this.sendJson(res, 200, this.groupList());
    const segs = path.split('/').filter(Boolean).map(decodeURIComponent);
    let group: string;
    let version: string;
    let rest: string[];
    if (segs[0] === 'api' && segs.length >= 2) {
      group = '';
      version = segs[1]!;
      rest = segs.slice(2);
    } else if (segs[0] === 'apis' && segs.length >= 2) {
      group = segs[1]!;
      if (segs.length === 2) {
        const g = apiGroups().find((x) => x.name === group);
        if (!g) throw new KubeStatusError('NotFound', `the server could not find the requested resource (${path})`);
        return this.sendJson(res, 200, { kind: 'APIGroup', apiVersion: 'v1', ...this.groupEntry(g) });
      }
      version = segs[2]!;
      rest = segs.slice(3);
    } else {
      throw new KubeStatusError('NotFound', `the server could not find the requested resource (${path})`);
    }
    const inGv = KUBE_RESOURCES.filter((r) => r.group === group && r.version === version);
    if (inGv.length === 0)
      throw new KubeStatusError('NotFound', `the server could not find the requested resource (${path})`);
    if (rest.length === 0) return this.sendJson(res, 200, this.resourceList(group, version));
    const route = this.parseRoute(group, version, rest, path);
    await this.serveResource(req, res, url, method, route);
  }

  private parseRoute(group: string, version: string, rest: string[], path: string): Route {
    const nf = () => new KubeStatusError('NotFound', `the server could not find the requested resource (${path})`);
    let namespace: string | undefined;
    let tail = rest;
    if (rest[0] === 'namespaces' && rest.length >= 3 && findResource(group, version, rest[2]!)?.namespaced) {
      namespace = rest[1]!;
      tail = rest.slice(2);
    }
    const res = findResource(group, version, tail[0]!);
    if (!res) throw nf();
    if (namespace !== undefined && !res.namespaced) throw nf();
    const name = tail[1];
    const sub = tail[2];
    if (tail.length > 3) throw nf();
    if (sub !== undefined && !(sub === 'status' && res.subresources?.includes('status'))) throw nf();
    return { res, namespace, name, sub: sub as 'status' | undefined };
  }

  private versionInfo(): Record<string, string> {
    const { major, minor } = this.version;
    return {
      major,
      minor,
      gitVersion: `v${major}.${minor}.0+tessera-lab.stand-in`,
      gitCommit: '0000000000000000000000000000000000000000',
      gitTreeState: 'clean',
      buildDate: '2026-01-01T00:00:00Z',
      goVersion: 'n/a (TypeScript stand-in, lab only)',
      compiler: 'tessera',
      platform: 'linux/amd64',
      note: STAND_IN_NOTE,
    };
  }

  private groupEntry(g: { name: string; versions: string[] }): Record<string, unknown> {
    const versions = g.versions.map((v) => ({ groupVersion: `${g.name}/${v}`, version: v }));
    return { name: g.name, versions, preferredVersion: versions[0] };
  }

  private groupList(): Record<string, unknown> {
    return { kind: 'APIGroupList', apiVersion: 'v1', groups: apiGroups().map((g) => this.groupEntry(g)) };
  }

  private resourceList(group: string, version: string): Record<string, unknown> {
    const resources: Record<string, unknown>[] = [];
    for (const r of KUBE_RESOURCES.filter((x) => x.group === group && x.version === version)) {
      resources.push({
        name: r.plural,
        singularName: r.singular,
        namespaced: r.namespaced,
        kind: r.kind,
        verbs: [...ALL_VERBS],
        ...(r.shortNames ? { shortNames: r.shortNames } : {}),
      });
      for (const sub of r.subresources ?? []) {
        resources.push({
          name: `${r.plural}/${sub}`,
          singularName: '',
          namespaced: r.namespaced,
          kind: r.kind,
          verbs: ['get', 'patch', 'update'],
        });
      }
    }
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: group ? `${group}/${version}` : version,
      resources,
    };
  }

  // ---- objects -------------------------------------------------------------------------------

  private decode(kv: KV, res: KubeResource): Obj {
    const o = JSON.parse(kv.value) as Obj;
    o.apiVersion = apiVersionOf(res);
    o.kind = res.kind;
    o.metadata = { ...(o.metadata ?? {}), resourceVersion: String(kv.revision) };
    return o;
  }

  private encode(o: Obj): string {
    const metadata = { ...(o.metadata ?? {}) };
    delete metadata['resourceVersion'];
    return JSON.stringify({ ...o, metadata });
  }

  private async readBody(req: IncomingMessage, encoding: BufferEncoding = 'utf8'): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      const b = c as Buffer;
      size += b.length;
      if (size > MAX_BODY)
        throw new KubeStatusError('RequestEntityTooLarge', `request body larger than ${MAX_BODY} bytes`);
      chunks.push(b);
    }
    return Buffer.concat(chunks).toString(encoding);
  }

  private async readJson(req: IncomingMessage): Promise<unknown> {
    const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (ct === KUBE_PROTOBUF) {
      // kubectl 1.32's typed clients (create namespace / serviceaccount) send protobuf.
      const raw = Buffer.from(await this.readBody(req, 'binary'), 'binary');
      try {
        return decodeKubeProtobuf(raw);
      } catch (err) {
        throw new KubeStatusError(
          'UnsupportedMediaType',
          `cannot decode the protobuf body: ${err instanceof Error ? err.message : String(err)}; send application/json`,
        );
      }
    }
    if (ct !== '' && ct !== 'application/json' && ct !== '*/*') {
      await this.readBody(req);
      throw new KubeStatusError(
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: application/json (got "${ct}")`,
      );
    }
    const text = await this.readBody(req);
    if (text.trim() === '') return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new KubeStatusError(
        'BadRequest',
        `the request body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  private async namespaceMustExist(ns: string): Promise<void> {
    const nsRes = findResource('', 'v1', 'namespaces')!;
    const kv = await this.backend.get(objectKey(nsRes, ns));
    if (!kv) throw notFound('namespaces', ns, '');
  }

  private validateMeta(route: Route, o: Obj, name: string): void {
    const causes: { field: string; message: string }[] = [];
    const re = route.res.kind === 'Namespace' ? LABEL_NAME_RE : NAME_RE;
    if (!name) causes.push({ field: 'metadata.name', message: 'Required value: name or generateName is required' });
    else if (name.length > 253 || !re.test(name)) {
      causes.push({
        field: 'metadata.name',
        message: `Invalid value: "${name}": a lowercase RFC 1123 ${route.res.kind === 'Namespace' ? 'label' : 'subdomain'} must consist of lower case alphanumeric characters, '-' or '.'`,
      });
    }
    const labels = o.metadata?.['labels'];
    if (labels !== undefined && labels !== null) {
      if (!isObj(labels)) causes.push({ field: 'metadata.labels', message: 'Invalid value: must be a map of strings' });
      else {
        for (const [k, v] of Object.entries(labels)) {
          if (typeof v !== 'string' || (v !== '' && !/^[a-zA-Z0-9]([-a-zA-Z0-9_.]{0,61}[a-zA-Z0-9])?$/.test(v))) {
            causes.push({
              field: `metadata.labels`,
              message: `Invalid value: "${String(v)}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.' (label "${k}")`,
            });
          }
        }
      }
    }
    const annotations = o.metadata?.['annotations'];
    if (
      annotations !== undefined &&
      annotations !== null &&
      (!isObj(annotations) || Object.values(annotations).some((v) => typeof v !== 'string'))
    ) {
      causes.push({ field: 'metadata.annotations', message: 'Invalid value: must be a map of strings' });
    }
    if (causes.length) throw invalid(route.res.kind, name, route.res.group, causes);
  }

  private checkKind(route: Route, body: unknown): Obj {
    if (!isObj(body)) throw new KubeStatusError('BadRequest', `the request body must be a ${route.res.kind} object`);
    const want = apiVersionOf(route.res);
    if (
      (body.apiVersion !== undefined && body.apiVersion !== want) ||
      (body.kind !== undefined && body.kind !== route.res.kind)
    ) {
      throw new KubeStatusError(
        'BadRequest',
        `the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${want}) or kind (${String(body.kind)} vs ${route.res.kind})`,
      );
    }
    return body;
  }

  private async serveResource(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    method: string,
    route: Route,
  ): Promise<void> {
    const q = url.searchParams;
    const dryRun = q.getAll('dryRun').includes('All');
    if (route.res.namespaced && route.namespace === undefined && route.name !== undefined) {
      throw new KubeStatusError('NotFound', `the server could not find the requested resource`);
    }
    if (route.name === undefined) {
      if (method === 'GET') {
        if (q.get('watch') === 'true' || q.get('watch') === '1') return this.watch(req, res, route, q);
        return this.list(req, res, route, q);
      }
      if (method === 'POST') {
        if (route.res.namespaced && route.namespace === undefined)
          throw new KubeStatusError(
            'MethodNotAllowed',
            `create needs a namespace: POST to /namespaces/{namespace}/${route.res.plural}`,
          );
        return this.sendJson(
          res,
          201,
          await this.create(route, this.checkKind(route, await this.readJson(req)), dryRun),
        );
      }
      if (method === 'DELETE') return this.sendJson(res, 200, await this.deleteCollection(route, q));
      throw new KubeStatusError(
        'MethodNotAllowed',
        `the server does not allow this method on the requested resource (${method} ${route.res.plural})`,
      );
    }
    const name = route.name;
    switch (method) {
      case 'GET': {
        const o = await this.getObject(route, name);
        if (wantsTable(req.headers.accept)) {
          return this.sendJson(
            res,
            200,
            renderTable(route.res.kind, [o], {
              nowMs: this.now(),
              includeObject: includeObjectOf(q),
              resourceVersion: String(o.metadata?.['resourceVersion'] ?? ''),
            }),
          );
        }
        return this.sendJson(res, 200, o);
      }
      case 'PUT':
        return this.sendJson(
          res,
          200,
          await this.update(route, name, this.checkKind(route, await this.readJson(req)), dryRun),
        );
      case 'PATCH': {
        const type = patchTypeOf(req.headers['content-type']);
        if (!type) {
          throw new KubeStatusError(
            'UnsupportedMediaType',
            `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got "${req.headers['content-type'] ?? ''}")`,
          );
        }
        const text = await this.readBody(req);
        let patch: unknown;
        try {
          patch = JSON.parse(text) as unknown;
        } catch (err) {
          throw new KubeStatusError(
            'BadRequest',
            `the patch is not valid JSON: ${err instanceof Error ? err.message : String(err)}`,
          );
        }
        return this.sendJson(res, 200, await this.patch(route, name, type, patch, dryRun));
      }
      case 'DELETE': {
        const body = await this.readJson(req);
        return this.sendJson(res, 200, await this.delete(route, name, isObj(body) ? body : undefined, dryRun));
      }
      default:
        throw new KubeStatusError(
          'MethodNotAllowed',
          `the server does not allow this method on the requested resource (${method} ${route.res.plural}/${name})`,
        );
    }
  }

  private async getObject(route: Route, name: string): Promise<Obj> {
    const kv = await this.backend.get(objectKey(route.res, name, route.namespace));
    if (!kv) throw notFound(route.res.plural, name, route.res.group);
    return this.decode(kv, route.res);
  }

  private defaults(route: Route, o: Obj, ns: string | undefined): void {
    const meta = o.metadata!;
    if (route.res.kind === 'Namespace') {
      meta['labels'] = {
        ...((meta['labels'] as Record<string, string> | undefined) ?? {}),
        'kubernetes.io/metadata.name': String(meta['name']),
      };
      o.spec = { finalizers: ['kubernetes'], ...(isObj(o.spec) ? o.spec : {}) };
      o.status = { phase: 'Active' };
    }
    if (route.res.kind === 'Pod') {
      const spec = isObj(o.spec) ? o.spec : {};
      o.spec = {
        restartPolicy: 'Always',
        dnsPolicy: 'ClusterFirst',
        schedulerName: 'default-scheduler',
        serviceAccountName: 'default',
        ...spec,
      };
      if (!isObj(o.status)) o.status = { phase: 'Pending', qosClass: 'BestEffort' };
    }
    if (route.res.kind === 'NetworkPolicy' && isObj(o.spec) && o.spec['policyTypes'] === undefined) {
      // The real API server defaults policyTypes: Ingress always, Egress when egress rules exist.
      o.spec['policyTypes'] =
        Array.isArray(o.spec['egress']) && o.spec['egress'].length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
    }
    if (ns !== undefined) meta['namespace'] = ns;
  }

  private async create(route: Route, body: Obj, dryRun: boolean): Promise<Obj> {
    const o: Obj = JSON.parse(JSON.stringify(body)) as Obj;
    const meta: Record<string, unknown> = isObj(o.metadata) ? { ...o.metadata } : {};
    o.metadata = meta;
    const ns = route.res.namespaced ? route.namespace : undefined;
    if (ns !== undefined && meta['namespace'] !== undefined && meta['namespace'] !== ns) {
      throw new KubeStatusError(
        'BadRequest',
        `the namespace of the provided object (${String(meta['namespace'])}) does not match the namespace sent on the request (${ns})`,
      );
    }
    let name = typeof meta['name'] === 'string' ? meta['name'] : '';
    if (!name && typeof meta['generateName'] === 'string' && meta['generateName'])
      name = `${meta['generateName']}${randomSuffix()}`;
    meta['name'] = name;
    this.validateMeta(route, o, name);
    if (ns !== undefined) await this.namespaceMustExist(ns);
    delete meta['resourceVersion'];
    meta['uid'] = randomUUID();
    meta['creationTimestamp'] = nowIso(this.now());
    if (o.spec !== undefined || route.res.kind === 'NetworkPolicy') meta['generation'] = 1;
    delete meta['deletionTimestamp'];
    this.defaults(route, o, ns);
    o.apiVersion = apiVersionOf(route.res);
    o.kind = route.res.kind;
    if (dryRun) return o;
    try {
      const kv = await this.backend.create(objectKey(route.res, name, ns), this.encode(o));
      if (route.res.kind === 'Namespace') await this.ensureDefaultServiceAccount(name);
      return this.decode(kv, route.res);
    } catch (err) {
      if (isTesseraError(err, 'already-exists')) throw alreadyExists(route.res.plural, name, route.res.group);
      throw err;
    }
  }

  /** What the service-account controller does in a real cluster: every namespace gets "default". */
  private async ensureDefaultServiceAccount(ns: string): Promise<void> {
    const sa = findResource('', 'v1', 'serviceaccounts')!;
    const o: Obj = {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'default', namespace: ns, uid: randomUUID(), creationTimestamp: nowIso(this.now()) },
    };
    try {
      await this.backend.create(objectKey(sa, 'default', ns), this.encode(o));
    } catch (err) {
      if (!isTesseraError(err, 'already-exists')) throw err;
    }
  }

  /**
   * Builds the stored object of an update from the current one and the new body: identity fields
   * are kept, `status` and the rest follow the subresource split of the real API server.
   */
  private merged(route: Route, cur: Obj, next: Obj): Obj {
    const curMeta = cur.metadata ?? {};
    const nextMeta = isObj(next.metadata) ? next.metadata : {};
    const name = String(curMeta['name']);
    if (nextMeta['name'] !== undefined && nextMeta['name'] !== name) {
      throw new KubeStatusError(
        'BadRequest',
        `the name of the object (${String(nextMeta['name'])}) does not match the name on the URL (${name})`,
      );
    }
    const hasStatus = route.res.subresources?.includes('status') ?? false;
    let out: Obj;
    if (route.sub === 'status') {
      out = { ...cur, status: next.status };
    } else {
      out = { ...next, metadata: { ...nextMeta } };
      if (hasStatus) {
        if (cur.status === undefined) delete out.status;
        else out.status = cur.status;
      }
      for (const k of ['uid', 'creationTimestamp', 'name', 'namespace', 'generation', 'deletionTimestamp']) {
        if (curMeta[k] === undefined) delete out.metadata![k];
        else out.metadata![k] = curMeta[k];
      }
      if (route.res.kind === 'Namespace') {
        out.metadata!['labels'] = {
          ...((out.metadata!['labels'] as Record<string, string> | undefined) ?? {}),
          'kubernetes.io/metadata.name': name,
        };
      }
      if (JSON.stringify(cur.spec) !== JSON.stringify(out.spec) && typeof curMeta['generation'] === 'number') {
        out.metadata!['generation'] = curMeta['generation'] + 1;
      }
      this.validateMeta(route, out, name);
    }
    out.apiVersion = apiVersionOf(route.res);
    out.kind = route.res.kind;
    return out;
  }

  private async update(route: Route, name: string, body: Obj, dryRun: boolean): Promise<Obj> {
    const key = objectKey(route.res, name, route.namespace);
    const kv = await this.backend.get(key);
    if (!kv) throw notFound(route.res.plural, name, route.res.group);
    const rv = isObj(body.metadata) ? body.metadata['resourceVersion'] : undefined;
    if (rv !== undefined && rv !== '' && String(rv) !== String(kv.revision))
      throw conflict(route.res.plural, name, route.res.group);
    const out = this.merged(route, this.decode(kv, route.res), body);
    if (dryRun) return out;
    try {
      return this.decode(await this.backend.update(key, this.encode(out), kv.revision), route.res);
    } catch (err) {
      if (isTesseraError(err, 'conflict')) throw conflict(route.res.plural, name, route.res.group);
      if (isTesseraError(err, 'not-found')) throw notFound(route.res.plural, name, route.res.group);
      throw err;
    }
  }

  private async patch(
    route: Route,
    name: string,
    type: 'merge' | 'strategic' | 'json',
    patch: unknown,
    dryRun: boolean,
  ): Promise<Obj> {
    const key = objectKey(route.res, name, route.namespace);
    // A patch without a resourceVersion precondition retries on a concurrent write, as the real server does.
    for (let attempt = 0; ; attempt++) {
      const kv = await this.backend.get(key);
      if (!kv) throw notFound(route.res.plural, name, route.res.group);
      const cur = this.decode(kv, route.res);
      const patched = applyPatch(type, cur as Json, patch);
      if (!isObj(patched)) throw new KubeStatusError('BadRequest', 'the patched object is not a JSON object');
      const rv = isObj(patched.metadata) ? patched.metadata['resourceVersion'] : undefined;
      if (rv !== undefined && rv !== '' && String(rv) !== String(kv.revision))
        throw conflict(route.res.plural, name, route.res.group);
      const out = this.merged(route, cur, patched);
      if (dryRun) return out;
      try {
        return this.decode(await this.backend.update(key, this.encode(out), kv.revision), route.res);
      } catch (err) {
        if (isTesseraError(err, 'conflict') && attempt < 5) continue;
        if (isTesseraError(err, 'conflict')) throw conflict(route.res.plural, name, route.res.group);
        throw err;
      }
    }
  }

  private async delete(route: Route, name: string, opts: Obj | undefined, dryRun: boolean): Promise<Obj> {
    const key = objectKey(route.res, name, route.namespace);
    const kv = await this.backend.get(key);
    if (!kv) throw notFound(route.res.plural, name, route.res.group);
    const pre = isObj(opts?.['preconditions']) ? (opts['preconditions'] as Record<string, unknown>) : {};
    const cur = this.decode(kv, route.res);
    if (pre['resourceVersion'] !== undefined && String(pre['resourceVersion']) !== String(kv.revision))
      throw conflict(route.res.plural, name, route.res.group);
    if (pre['uid'] !== undefined && pre['uid'] !== cur.metadata?.['uid'])
      throw conflict(route.res.plural, name, route.res.group);
    if (dryRun) return cur;
    if (route.res.kind === 'Namespace') {
      // No namespace controller here: the namespace's objects go first, then the namespace.
      for (const r of KUBE_RESOURCES.filter((x) => x.namespaced)) {
        const { items } = await this.backend.list(keyPrefix(r, name));
        for (const item of items) await this.backend.delete(item.key);
      }
    }
    try {
      await this.backend.delete(key, kv.revision);
    } catch (err) {
      if (isTesseraError(err, 'conflict')) throw conflict(route.res.plural, name, route.res.group);
      throw err;
    }
    if (route.res.kind === 'Namespace') cur.status = { phase: 'Terminating' };
    return cur;
  }

  private async deleteCollection(route: Route, q: URLSearchParams): Promise<Obj> {
    const { labels, fields } = this.selectors(route, q);
    const { items } = await this.backend.list(keyPrefix(route.res, route.namespace));
    const deleted: Obj[] = [];
    for (const kv of items) {
      const o = this.decode(kv, route.res);
      if (!matchLabels(labels, o.metadata?.['labels'] as Record<string, string> | undefined) || !matchFields(fields, o))
        continue;
      await this.backend.delete(kv.key);
      deleted.push(o);
    }
    return { kind: `${route.res.kind}List`, apiVersion: apiVersionOf(route.res), metadata: {}, items: deleted };
  }

  private selectors(route: Route, q: URLSearchParams): { labels: LabelRequirement[]; fields: FieldRequirement[] } {
    const l = parseLabelSelector(q.get('labelSelector') ?? '');
    if (!l.ok) throw new KubeStatusError('BadRequest', `invalid labelSelector: ${l.error}`);
    const f = parseFieldSelector(q.get('fieldSelector') ?? '', route.res.kind);
    if (!f.ok) throw new KubeStatusError('BadRequest', `invalid fieldSelector: ${f.error}`);
    return { labels: l.value, fields: f.value };
  }

  private matches(o: Obj, sel: { labels: LabelRequirement[]; fields: FieldRequirement[] }): boolean {
    return (
      matchLabels(sel.labels, o.metadata?.['labels'] as Record<string, string> | undefined) &&
      matchFields(sel.fields, o)
    );
  }

  private async list(req: IncomingMessage, res: ServerResponse, route: Route, q: URLSearchParams): Promise<void> {
    const sel = this.selectors(route, q);
    const listed = await this.backend.list(keyPrefix(route.res, route.namespace));
    let kvs = listed.items.slice().sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    let revision = listed.revision;
    const cont = q.get('continue');
    if (cont) {
      const c = decodeContinue(cont);
      if (!c) throw new KubeStatusError('BadRequest', `invalid continue token "${cont}"`);
      kvs = kvs.filter((kv) => kv.key > c.lastKey);
      revision = c.revision;
    }
    const limitText = q.get('limit');
    const limit = limitText && /^\d+$/.test(limitText) && Number(limitText) > 0 ? Number(limitText) : undefined;
    const items: Obj[] = [];
    let lastKey = '';
    let next: string | undefined;
    for (const kv of kvs) {
      const o = this.decode(kv, route.res);
      if (!this.matches(o, sel)) continue;
      if (limit !== undefined && items.length === limit) {
        next = encodeContinue(lastKey, revision);
        break;
      }
      lastKey = kv.key;
      items.push(o);
    }
    const rv = String(revision);
    if (wantsTable(req.headers.accept)) {
      return this.sendJson(
        res,
        200,
        renderTable(route.res.kind, items, {
          nowMs: this.now(),
          includeObject: includeObjectOf(q),
          resourceVersion: rv,
          continueToken: next,
        }),
      );
    }
    this.sendJson(res, 200, {
      kind: `${route.res.kind}List`,
      apiVersion: apiVersionOf(route.res),
      metadata: { resourceVersion: rv, ...(next ? { continue: next } : {}) },
      items,
    });
  }

  private async watch(req: IncomingMessage, res: ServerResponse, route: Route, q: URLSearchParams): Promise<void> {
    const sel = this.selectors(route, q);
    const start = watchStart(q.get('resourceVersion') ?? undefined);
    if (start.mode === 'invalid') throw new KubeStatusError('BadRequest', start.error);
    const table = wantsTable(req.headers.accept);
    const ac = new AbortController();
    this.watches.add(ac);
    const timeoutText = q.get('timeoutSeconds');
    const timeoutMs =
      timeoutText && /^\d+$/.test(timeoutText) && Number(timeoutText) > 0 ? Number(timeoutText) * 1000 : undefined;
    const timer = timeoutMs !== undefined ? setTimeout(() => ac.abort(), timeoutMs) : undefined;
    const bookmarks = q.get('allowWatchBookmarks') === 'true' || q.get('allowWatchBookmarks') === '1';
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Transfer-Encoding': 'chunked',
      'Cache-Control': 'no-cache, private',
    });
    res.flushHeaders();
    const close = () => ac.abort();
    req.on('close', close);
    res.on('close', close);
    const send = (type: string, object: unknown) => {
      if (res.writableEnded || res.destroyed) return;
      let obj = object;
      if (table && type !== 'ERROR' && type !== 'BOOKMARK')
        obj = renderTable(route.res.kind, [object], { nowMs: this.now(), includeObject: includeObjectOf(q) });
      res.write(`${JSON.stringify({ type, object: obj })}\n`);
    };
    let lastRevision: number;
    let fromRevision: number;
    if (start.mode === 'list-then-watch') {
      const listed = await this.backend.list(keyPrefix(route.res, route.namespace));
      for (const kv of listed.items) {
        const o = this.decode(kv, route.res);
        if (this.matches(o, sel)) send('ADDED', o);
      }
      lastRevision = listed.revision;
      fromRevision = listed.revision + 1;
    } else {
      fromRevision = start.fromRevision;
      lastRevision = start.fromRevision - 1;
    }
    const bookmark = bookmarks
      ? setInterval(() => {
          send('BOOKMARK', {
            kind: route.res.kind,
            apiVersion: apiVersionOf(route.res),
            metadata: { resourceVersion: String(lastRevision) },
          });
        }, this.bookmarkMs)
      : undefined;
    try {
      for await (const batch of this.backend.watch(keyPrefix(route.res, route.namespace), {
        fromRevision,
        signal: ac.signal,
      })) {
        for (const ev of batch) {
          const prevObj = ev.prev ? this.decode(ev.prev, route.res) : undefined;
          const prevMatched = prevObj ? this.matches(prevObj, sel) : undefined;
          if (ev.type === 'put') {
            const o = this.decode(ev.kv, route.res);
            const t = watchEventType('put', prevMatched, this.matches(o, sel));
            if (t) send(t, o);
            lastRevision = ev.kv.revision;
          } else {
            const t = watchEventType('delete', prevMatched ?? false, false);
            if (t && prevObj) {
              prevObj.metadata = { ...prevObj.metadata, resourceVersion: String(ev.revision) };
              send(t, prevObj);
            }
            lastRevision = ev.revision;
          }
        }
      }
    } catch (err) {
      if (isTesseraError(err, 'compacted')) {
        const cr = (err as { details?: { compactRevision?: unknown } }).details?.compactRevision as number | undefined;
        send('ERROR', expiredStatus(String(fromRevision - 1), cr));
      } else if (!isTesseraError(err, 'aborted') && !ac.signal.aborted) {
        send(
          'ERROR',
          new KubeStatusError(
            'InternalError',
            `watch failed: ${err instanceof Error ? err.message : String(err)}`,
          ).toStatus(),
        );
      }
    } finally {
      if (timer) clearTimeout(timer);
      if (bookmark) clearInterval(bookmark);
      this.watches.delete(ac);
      req.off('close', close);
      if (!res.writableEnded && !res.destroyed) res.end();
    }
  }
}

function includeObjectOf(q: URLSearchParams): IncludeObject {
  const v = q.get('includeObject');
  return v === 'None' || v === 'Object' ? v : 'Metadata';
}
