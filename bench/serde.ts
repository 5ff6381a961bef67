// Encode and decode throughput of a typical 10-field event with the registry's serdes (Avro, JSON
// Schema with validation, Protobuf) against plain JSON.stringify / JSON.parse of the same event in
// the same run; and registry lookup latency, cached and uncached, in process and over HTTP.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createServer } from '../src/http/index.ts';
import { openEmbeddedBus } from '../src/log/index.ts';
import { SchemaRegistry, type SchemaType, WireSerde } from '../src/registry/index.ts';
import { type BenchOptions, type BenchResult, result } from './result.ts';

const event = {
  id: 'evt-0001-a3f9',
  userId: 'user-48213',
  amount: 129.95,
  currency: 'EUR',
  quantity: 3,
  ts: 1_764_072_000_000,
  status: 'PAID',
  country: 'NO',
  itemCount: 7,
  premium: true,
};

const AVRO = JSON.stringify({
  type: 'record',
  name: 'Order',
  namespace: 'bench',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'userId', type: 'string' },
    { name: 'amount', type: 'double' },
    { name: 'currency', type: 'string' },
    { name: 'quantity', type: 'int' },
    { name: 'ts', type: 'long' },
    { name: 'status', type: { type: 'enum', name: 'Status', symbols: ['NEW', 'PAID', 'SHIPPED'] } },
    { name: 'country', type: 'string' },
    { name: 'itemCount', type: 'int' },
    { name: 'premium', type: 'boolean' },
  ],
});
const JSON_SCHEMA = JSON.stringify({
  type: 'object',
  properties: {
    id: { type: 'string' },
    userId: { type: 'string' },
    amount: { type: 'number' },
    currency: { type: 'string', minLength: 3, maxLength: 3 },
    quantity: { type: 'integer', minimum: 0 },
    ts: { type: 'integer' },
    status: { enum: ['NEW', 'PAID', 'SHIPPED'] },
    country: { type: 'string' },
    itemCount: { type: 'integer' },
    premium: { type: 'boolean' },
  },
  required: ['id', 'userId', 'amount', 'currency', 'quantity', 'ts', 'status'],
  additionalProperties: false,
});
const PROTOBUF = `syntax = "proto3";
package bench;
message Order {
  string id = 1;
  string userId = 2;
  double amount = 3;
  string currency = 4;
  int32 quantity = 5;
  int64 ts = 6;
  Status status = 7;
  string country = 8;
  int32 itemCount = 9;
  bool premium = 10;
}
enum Status { NEW = 0; PAID = 1; SHIPPED = 2; }
`;

export async function* run({ quick }: BenchOptions): AsyncIterable<BenchResult> {
  const n = quick ? 100_000 : 1_000_000;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kappa-bench-serde-'));
  const bus = await openEmbeddedBus({ dataDir: dir, maintenanceInterval: 0 });
  try {
    const registry = await SchemaRegistry.open({ bus });
    const serde = new WireSerde(registry);
    const ids: Record<string, number> = {};
    for (const [name, schemaType, schema] of [
      ['avro', 'AVRO', AVRO],
      ['jsonschema', 'JSON', JSON_SCHEMA],
      ['protobuf', 'PROTOBUF', PROTOBUF],
    ] as Array<[string, SchemaType, string]>)
      ids[name] = await registry.register(`bench-${name}`, { schemaType, schema, references: [] });

    const json = rates(
      n,
      () => Buffer.from(JSON.stringify(event)),
      (b) => JSON.parse(b.toString()),
    );
    for (const name of ['avro', 'jsonschema', 'protobuf']) {
      const id = ids[name]!;
      progress(`${name}: ${n} events`);
      const ours = rates(
        n,
        () => serde.serialize(id, event),
        (b) => serde.deserialize(b).value,
      );
      for (const phase of ['encode', 'decode'] as const)
        yield result('serde', `${phase}-${name}`, 'records_per_s', ours[phase], 'rec/s', {
          name: phase === 'encode' ? 'JSON.stringify' : 'JSON.parse',
          value: json[phase],
        });
    }

    progress('lookups');
    const lookups = quick ? 2_000 : 20_000;
    const cached = latencies(lookups, () => serde.schema(ids.avro!));
    yield* latency('lookup-cached-in-process', cached);
    // Uncached: the first lookup of an id, which parses the stored schema and builds its codec.
    const fresh: number[] = [];
    await registry.setCompatibility(null, 'NONE');
    for (let i = 0; i < (quick ? 300 : 1_000); i++)
      fresh.push(
        await registry.register(`bench-fresh-${i}`, {
          schemaType: 'AVRO',
          schema: AVRO.replace('"Order"', `"Order${i}"`),
          references: [],
        }),
      );
    const first = new WireSerde(registry);
    let next = 0;
    const uncached = latencies(fresh.length, () => first.schema(fresh[next++]!).codec());
    yield* latency('lookup-uncached-in-process', uncached);
    const server = await createServer({ bus, registry });
    const url = await server.listen(0, '127.0.0.1');
    const overHttp: number[] = [];
    for (let i = 0; i < Math.min(lookups, 5_000); i++) {
      const start = process.hrtime.bigint();
      await (await fetch(`${url}/schemas/ids/${ids.avro}`)).text();
      overHttp.push(Number(process.hrtime.bigint() - start) / 1e3);
    }
    yield* latency('lookup-http-get-schemas-ids', overHttp);
    await server.close();
    await registry.close();
  } finally {
    await bus.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Encode then decode `n` events, each phase timed on its own. */
function rates(n: number, encode: () => Buffer, decode: (b: Buffer) => unknown) {
  const encoded = encode();
  for (let i = 0; i < 10_000; i++) decode(encode()); // warm up
  let start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) encode();
  const encodeNs = Number(process.hrtime.bigint() - start);
  start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) decode(encoded);
  const decodeNs = Number(process.hrtime.bigint() - start);
  return { encode: (n * 1e9) / encodeNs, decode: (n * 1e9) / decodeNs };
}

function latencies(n: number, fn: () => unknown): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = process.hrtime.bigint();
    fn();
    out.push(Number(process.hrtime.bigint() - start) / 1e3);
  }
  return out;
}

function* latency(name: string, micros: number[]): Iterable<BenchResult> {
  const sorted = [...micros].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  for (const [metric, q] of [
    ['p50_us', 0.5],
    ['p99_us', 0.99],
  ] as const) {
    const r = result('serde', name, metric, at(q), 'µs');
    r.lower_is_better = true;
    yield r;
  }
}

function progress(message: string): void {
  process.stderr.write(`serde: ${message}\n`);
}
