/**
 * Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`), for the few kinds a
 * typed client may create that carry nothing but metadata here: kubectl 1.32's
 * `kubectl create namespace` and `kubectl create serviceaccount` send them (pure).
 * Wire format: "k8s\0" + runtime.Unknown{typeMeta=1{apiVersion=1,kind=2}, raw=2}; raw is the
 * object, whose field 1 is ObjectMeta{name=1, generateName=2, namespace=3, labels=11,
 * annotations=12} (k8s.io/api generated.proto). Other fields are skipped.
 */
import protobuf from 'protobufjs';

export const KUBE_PROTOBUF = 'application/vnd.kubernetes.protobuf';
const MAGIC = [0x6b, 0x38, 0x73, 0x00];
/** Kinds whose protobuf bodies are accepted: everything they carry here is metadata. */
export const PROTOBUF_KINDS = ['Namespace', 'ServiceAccount'] as const;

type Obj = Record<string, unknown>;

function fields(buf: Uint8Array, onField: (no: number, r: protobuf.Reader, wireType: number) => boolean): void {
  const r = protobuf.Reader.create(buf);
  while (r.pos < r.len) {
    const tag = r.uint32();
    const no = tag >>> 3;
    const wt = tag & 7;
    if (!onField(no, r, wt)) r.skipType(wt);
  }
}

function mapEntry(buf: Uint8Array): [string, string] {
  let k = '';
  let v = '';
  fields(buf, (no, r, wt) => {
    if (wt !== 2) return false;
    if (no === 1) k = r.string();
    else if (no === 2) v = r.string();
    else return false;
    return true;
  });
  return [k, v];
}

function objectMeta(buf: Uint8Array): Obj {
  const meta: Obj = {};
  const labels: Record<string, string> = {};
  const annotations: Record<string, string> = {};
  fields(buf, (no, r, wt) => {
    if (wt !== 2) return false;
    // Go's generated code writes empty strings too: an empty field is an absent one.
    if (no >= 1 && no <= 3) {
      const v = r.string();
      if (v !== '') meta[(['name', 'generateName', 'namespace'] as const)[no - 1]!] = v;
    } else if (no === 11) {
      const [k, v] = mapEntry(r.bytes());
      labels[k] = v;
    } else if (no === 12) {
      const [k, v] = mapEntry(r.bytes());
      annotations[k] = v;
    } else return false;
    return true;
  });
  if (Object.keys(labels).length) meta['labels'] = labels;
  if (Object.keys(annotations).length) meta['annotations'] = annotations;
  return meta;
}

/** Decodes a protobuf body into the JSON object the server handles; an Error says why it cannot. */
export function decodeKubeProtobuf(body: Uint8Array): Obj {
  if (body.length < 4 || MAGIC.some((b, i) => body[i] !== b))
    throw new Error('not a Kubernetes protobuf body (no "k8s\\0" prefix)');
  let apiVersion = '';
  let kind = '';
  let raw: Uint8Array | undefined;
  fields(body.subarray(4), (no, r, wt) => {
    if (wt !== 2) return false;
    if (no === 1) {
      fields(r.bytes(), (n2, r2, wt2) => {
        if (wt2 !== 2) return false;
        if (n2 === 1) apiVersion = r2.string();
        else if (n2 === 2) kind = r2.string();
        else return false;
        return true;
      });
    } else if (no === 2) raw = r.bytes();
    else return false;
    return true;
  });
  if (!(PROTOBUF_KINDS as readonly string[]).includes(kind))
    throw new Error(`protobuf bodies are only accepted for ${PROTOBUF_KINDS.join(', ')} (got kind "${kind}")`);
  let metadata: Obj = {};
  if (raw) {
    fields(raw, (no, r, wt) => {
      if (no !== 1 || wt !== 2) return false;
      metadata = objectMeta(r.bytes());
      return true;
    });
  }
  return { apiVersion, kind, metadata };
}
