import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RegistryServer, startRegistryServer } from '../registry/registry-helpers.ts';
import { seededRandom } from '../support/random.ts';

const REQUESTS = Number(process.env.KAPPA_FUZZ_REQUESTS ?? 12_000);

const PRODUCE_TYPES = [
  'application/vnd.kafka.json.v2+json',
  'application/vnd.kafka.binary.v2+json',
  'application/vnd.kafka.avro.v2+json',
  'application/vnd.kafka.jsonschema.v2+json',
  'application/vnd.kafka.protobuf.v2+json',
  'application/json',
  'text/plain',
];
const REGISTRY_TYPES = [
  'application/vnd.schemaregistry.v1+json',
  'application/json',
  'application/octet-stream',
];

const AVRO = JSON.stringify({
  type: 'record',
  name: 'Order',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'amount', type: 'double' },
    { name: 'tags', type: { type: 'array', items: 'string' }, default: [] },
  ],
});
const JSON_SCHEMA = JSON.stringify({
  type: 'object',
  properties: { id: { type: 'string' }, amount: { type: 'number' } },
  required: ['id'],
});
const PROTO =
  'syntax = "proto3";\npackage shop;\nmessage Order { string id = 1; double amount = 2; repeated string tags = 3; }\n';

const JSON_V2 = 'application/vnd.kafka.json.v2+json';
const SR = 'application/vnd.schemaregistry.v1+json';

/** Bodies that are nearly right, each with the content type a real client sends it with. */
const PRODUCE_TEMPLATES: Array<[unknown, string]> = [
  [{ records: [{ key: 'k1', value: { id: 'o1', amount: 10 } }, { value: [1, 2, { a: null }] }] }, JSON_V2],
  [
    { records: [{ key: 'aGVsbG8=', value: 'd29ybGQ=', partition: 0 }] },
    'application/vnd.kafka.binary.v2+json',
  ],
  [
    { value_schema: AVRO, records: [{ value: { id: 'o1', amount: 1.5, tags: ['x'] } }] },
    'application/vnd.kafka.avro.v2+json',
  ],
  [
    { value_schema: JSON_SCHEMA, records: [{ value: { id: 'o1', amount: 2 } }] },
    'application/vnd.kafka.jsonschema.v2+json',
  ],
  [
    { value_schema: PROTO, records: [{ value: { id: 'o1', amount: 3, tags: [] } }] },
    'application/vnd.kafka.protobuf.v2+json',
  ],
];
const REGISTER_TEMPLATES: Array<[unknown, string]> = [
  [{ schema: AVRO }, SR],
  [{ schema: JSON_SCHEMA, schemaType: 'JSON' }, SR],
  [{ schema: PROTO, schemaType: 'PROTOBUF' }, SR],
  [
    { schema: PROTO, schemaType: 'PROTOBUF', references: [{ name: 'a.proto', subject: 'a', version: 1 }] },
    SR,
  ],
];
const CONFIG_TEMPLATES: Array<[unknown, string]> = [
  [{ compatibility: 'FULL_TRANSITIVE' }, SR],
  [{ compatibility: 'NONE' }, SR],
];
const MODE_TEMPLATES: Array<[unknown, string]> = [
  [{ mode: 'READWRITE' }, SR],
  [{ mode: 'IMPORT' }, SR],
];
const TOPIC_TEMPLATES: Array<[unknown, string]> = [
  [
    { topic_name: 'fuzz-made', partitions_count: 2, configs: [{ name: 'cleanup.policy', value: 'compact' }] },
    'application/json',
  ],
];

function generator(random: () => number) {
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const strings = [
    '',
    'a',
    'é',
    '\u0000',
    '\ud800',
    '𝄞',
    '__proto__',
    'constructor',
    'prototype',
    '-1',
    '1e400',
    'null',
    '{"a":',
    "'; DROP",
    'x'.repeat(300),
  ];
  const value = (depth: number): unknown => {
    const r = random();
    if (depth > 5 || r < 0.3)
      return pick([null, true, false, 0, -1, 1.5, 2 ** 53 + 1, -0, 1e308, pick(strings), int(1000)]);
    if (r < 0.65) return Array.from({ length: int(5) }, () => value(depth + 1));
    return Object.fromEntries(
      Array.from({ length: int(5) }, () => [
        pick([
          ...strings,
          'records',
          'value',
          'key',
          'schema',
          'partition',
          'schemaType',
          'value_schema',
          'value_schema_id',
          'topic_name',
          'references',
        ]),
        value(depth + 1),
      ]),
    );
  };
  /** Replaces random parts of a template with random values, keeping most of its shape. */
  const mutateValue = (v: unknown, depth: number): unknown => {
    if (random() < 0.05) return value(depth);
    if (Array.isArray(v)) return v.map((x) => mutateValue(x, depth + 1));
    if (v && typeof v === 'object')
      return Object.fromEntries(
        Object.entries(v)
          .filter(() => random() > 0.05)
          .map(([k, x]) => [random() < 0.03 ? pick(strings) : k, mutateValue(x, depth + 1)]),
      );
    if (typeof v === 'string' && random() < 0.2) return v.slice(0, int(v.length + 1)) + pick(strings);
    return v;
  };
  const mutateBytes = (bytes: Buffer): Buffer => {
    const out = Buffer.from(bytes);
    for (let i = 0; i < 1 + int(4); i++) {
      const at = int(out.length || 1);
      const r = random();
      if (r < 0.4 && out.length > 0) out[at] = int(256);
      else if (r < 0.7)
        return Buffer.concat([
          out.subarray(0, at),
          Buffer.from(pick(['{', '[', '"', '\\', '}', ']', ',', '\u00ff'])),
          out.subarray(at),
        ]);
      else return out.subarray(0, at);
    }
    return out;
  };
  const body = (template: unknown): Buffer => {
    const r = random();
    if (r < 0.15) return Buffer.from(JSON.stringify(value(0)));
    if (r < 0.35) return Buffer.from(JSON.stringify(template));
    if (r < 0.6) return Buffer.from(JSON.stringify(mutateValue(template, 0)));
    if (r < 0.85) return mutateBytes(Buffer.from(JSON.stringify(template)));
    if (r < 0.9) return Buffer.from(`${'['.repeat(70 + int(5000))}1${']'.repeat(int(5000))}`);
    if (r < 0.95)
      return Buffer.from(
        JSON.stringify({ records: [{ value: { __proto__x: 1 } }] }).replace('__proto__x', '__proto__'),
      );
    return Buffer.from(Array.from({ length: int(64) }, () => int(256)));
  };
  const route = (): {
    method: 'POST' | 'PUT';
    url: string;
    types: readonly string[];
    templates: Array<[unknown, string]>;
  } => {
    const subject = pick(['orders-value', 'fuzz-value', 'a', '%2e%2e', 'x'.repeat(250), '__proto__']);
    const partition = pick(['0', '1', '7', '-1', 'x', '99999999999999999999']);
    const foreign = pick(['missing', '_schemas', '__consumer_offsets', 'a'.repeat(249)]);
    const version = pick(['latest', '1', '-1', '0', 'x']);
    return pick([
      { method: 'POST', url: '/topics/fuzz', types: PRODUCE_TYPES, templates: PRODUCE_TEMPLATES },
      { method: 'POST', url: '/topics/fuzz', types: PRODUCE_TYPES, templates: PRODUCE_TEMPLATES },
      {
        method: 'POST',
        url: `/topics/fuzz/partitions/${partition}`,
        types: PRODUCE_TYPES,
        templates: PRODUCE_TEMPLATES,
      },
      { method: 'POST', url: `/topics/${foreign}`, types: PRODUCE_TYPES, templates: PRODUCE_TEMPLATES },
      {
        method: 'POST',
        url: `/subjects/${subject}/versions`,
        types: REGISTRY_TYPES,
        templates: REGISTER_TEMPLATES,
      },
      { method: 'POST', url: `/subjects/${subject}`, types: REGISTRY_TYPES, templates: REGISTER_TEMPLATES },
      {
        method: 'POST',
        url: `/compatibility/subjects/${subject}/versions/${version}`,
        types: REGISTRY_TYPES,
        templates: REGISTER_TEMPLATES,
      },
      { method: 'PUT', url: `/config/${subject}`, types: REGISTRY_TYPES, templates: CONFIG_TEMPLATES },
      { method: 'PUT', url: `/mode/${subject}`, types: REGISTRY_TYPES, templates: MODE_TEMPLATES },
      {
        method: 'POST',
        url: '/v3/clusters/kappa/topics',
        types: ['application/json'],
        templates: TOPIC_TEMPLATES,
      },
    ]);
  };
  return { body, route, pick };
}

describe('fuzzing the produce and registry routes', () => {
  let s: RegistryServer;
  beforeAll(async () => {
    s = await startRegistryServer();
    await s.bus.createTopic('fuzz', { partitions: 2 });
  });
  afterAll(async () => s.close());

  it(`answers ${REQUESTS} random and mutated requests without a 5xx, appending only what it acknowledged`, {
    timeout: 300_000,
  }, async () => {
    const seed = Number(process.env.KAPPA_FUZZ_SEED ?? Date.now() % 1_000_000);
    console.log(`fuzz seed ${seed} (KAPPA_FUZZ_SEED=${seed} to replay)`);
    const random = seededRandom(seed);
    const g = generator(random);
    const failures: string[] = [];
    let acknowledged = 0;
    const statuses = new Map<number, number>();
    for (let i = 0; i < REQUESTS; i++) {
      const { method, url, types, templates } = g.route();
      const [template, rightType] = g.pick(templates);
      const payload = g.body(template);
      // Mostly the type that goes with the body, so that requests get past the parser.
      const type = random() < 0.8 ? rightType : g.pick(types);
      const response = await s.server.app.inject({ method, url, payload, headers: { 'content-type': type } });
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
      if (response.statusCode >= 500)
        failures.push(
          `#${i} ${method} ${url} (${type}) → ${response.statusCode} ${response.body.slice(0, 200)} for ${payload.toString('latin1').slice(0, 200)}`,
        );
      if (response.statusCode === 200 && url.startsWith('/topics/fuzz'))
        acknowledged += (response.json() as { offsets: unknown[] }).offsets.length;
    }
    console.log(`statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
    expect(failures.slice(0, 10)).toEqual([]);
    // The mutations must reach the routes, not only their parsers.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(REQUESTS / 50);
    const ranges = await s.bus.partitionOffsets('fuzz');
    expect(ranges.reduce((n, r) => n + r.end - r.start, 0)).toBe(acknowledged);
    // Still serving, over a real socket too.
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    const ok = await fetch(`${s.url}/topics/fuzz`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.kafka.json.v2+json' },
      body: JSON.stringify({ records: [{ value: 1 }] }),
    });
    expect(ok.status).toBe(200);
  });
});
