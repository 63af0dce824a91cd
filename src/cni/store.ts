/** Datastore reads/writes of the CNI plugin: Pods, IPPools and WorkloadEndpoints by key. */
import type { Backend, KV } from '../datastore/index.js';
import { kindPrefix, resourceKey, ipamKeys } from '../datastore/index.js';
import { kindFor } from '../api/index.js';
import { CALICO_API_VERSION, K8S_CORE_API_VERSION, type Resource } from '../api/index.js';
import type { KindInfo } from '../api/index.js';
import { TesseraError } from '../lib/errors.js';

function kind(apiVersion: string, k: string): KindInfo {
  const info = kindFor(apiVersion, k);
  if (!info) throw new TesseraError('bug', `kind "${k}" is not registered`);
  return info;
}
const WEP = kind(CALICO_API_VERSION, 'WorkloadEndpoint');
const POD = kind(K8S_CORE_API_VERSION, 'Pod');
const IPPOOL = kind(CALICO_API_VERSION, 'IPPool');

function decode(kv: KV): Resource {
  const r = JSON.parse(kv.value) as Resource;
  r.metadata = { ...r.metadata, resourceVersion: String(kv.revision) };
  return r;
}

function encode<S>(r: Resource<S>): string {
  const { resourceVersion: _rv, ...metadata } = r.metadata;
  return JSON.stringify({ ...r, metadata });
}

export async function getPod(
  b: Backend,
  namespace: string,
  name: string,
  signal?: AbortSignal,
): Promise<Resource | undefined> {
  const kv = await b.get(resourceKey(POD, name, namespace), signal);
  return kv ? decode(kv) : undefined;
}

export const wepKey = (namespace: string, name: string): string => resourceKey(WEP, name, namespace);

export async function getWep(
  b: Backend,
  namespace: string,
  name: string,
  signal?: AbortSignal,
): Promise<{ wep: Resource; revision: number } | undefined> {
  const kv = await b.get(wepKey(namespace, name), signal);
  return kv ? { wep: decode(kv), revision: kv.revision } : undefined;
}

export async function putWep<S>(b: Backend, wep: Resource<S>, signal?: AbortSignal): Promise<KV> {
  return b.put(wepKey(wep.metadata.namespace ?? 'default', wep.metadata.name), encode(wep), signal ? { signal } : {});
}

export async function deleteWepAt(
  b: Backend,
  namespace: string,
  name: string,
  revision: number,
  signal?: AbortSignal,
): Promise<void> {
  await b.delete(wepKey(namespace, name), revision, signal);
}

export async function listPools(b: Backend, signal?: AbortSignal): Promise<{ name: string; cidr: string }[]> {
  const res = await b.list(kindPrefix(IPPOOL), signal);
  return res.items.map((kv) => {
    const r = decode(kv) as Resource<{ cidr?: string }>;
    return { name: r.metadata.name, cidr: String(r.spec?.cidr ?? '') };
  });
}

/** IPAM handle ids currently recorded (for GC). */
export async function listHandleIds(b: Backend, signal?: AbortSignal): Promise<string[]> {
  const res = await b.list(ipamKeys.handlesPrefix, signal);
  return res.items.map((kv) => kv.key.slice(ipamKeys.handlesPrefix.length));
}
