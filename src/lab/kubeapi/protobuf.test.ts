import { test } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import { decodeKubeProtobuf } from './protobuf.js';

/** Builds what client-go sends: "k8s\0" + Unknown{typeMeta, raw=Object{metadata}}. */
function body(apiVersion: string, kind: string, name: string, labels: Record<string, string>): Uint8Array {
  const meta = protobuf.Writer.create();
  meta.uint32((1 << 3) | 2).string(name);
  meta.uint32((2 << 3) | 2).string('');
  for (const [k, v] of Object.entries(labels)) {
    const e = protobuf.Writer.create()
      .uint32((1 << 3) | 2)
      .string(k)
      .uint32((2 << 3) | 2)
      .string(v)
      .finish();
    meta.uint32((11 << 3) | 2).bytes(e);
  }
  const obj = protobuf.Writer.create()
    .uint32((1 << 3) | 2)
    .bytes(meta.finish())
    .uint32((2 << 3) | 2)
    .bytes(new Uint8Array())
    .finish();
  const tm = protobuf.Writer.create()
    .uint32((1 << 3) | 2)
    .string(apiVersion)
    .uint32((2 << 3) | 2)
    .string(kind)
    .finish();
  const unknown = protobuf.Writer.create()
    .uint32((1 << 3) | 2)
    .bytes(tm)
    .uint32((2 << 3) | 2)
    .bytes(obj)
    .uint32((4 << 3) | 2)
    .string('')
    .finish();
  return new Uint8Array([0x6b, 0x38, 0x73, 0x00, ...unknown]);
}

test('protobuf Namespace/ServiceAccount bodies decode to their metadata', () => {
  assert.deepEqual(decodeKubeProtobuf(body('v1', 'Namespace', 'shop', { team: 'a' })), {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'shop', labels: { team: 'a' } },
  });
  assert.deepEqual(decodeKubeProtobuf(body('v1', 'ServiceAccount', 'robot', {})).metadata, { name: 'robot' });
});

test('other kinds and non-protobuf bodies are refused with the reason', () => {
  assert.throws(
    () => decodeKubeProtobuf(body('v1', 'Pod', 'p', {})),
    /only accepted for Namespace, ServiceAccount \(got kind "Pod"\)/,
  );
  assert.throws(() => decodeKubeProtobuf(new TextEncoder().encode('{"kind":"Namespace"}')), /no "k8s\\0" prefix/);
});
