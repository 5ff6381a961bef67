import { describe, expect, it } from 'vitest';
import { type EmbeddedBus, openEmbeddedBus } from '../../src/log/index.ts';
import { SchemaRegistry } from '../../src/registry/index.ts';
import { useTempDir } from '../support/temp-dir.ts';
import { avroRecord } from './registry-helpers.ts';

const def = (schema: string) => ({ schemaType: 'AVRO' as const, schema, references: [] });
const user = (n: number) => def(avroRecord(`User${n}`, [{ name: 'id', type: 'string' }]));

/** The `_schemas` topic: Kappa's registry state, in Confluent's records. */
describe('registry storage on the bus', () => {
  const temp = useTempDir('each', 'kappa-schema-log-');
  const open = () => openEmbeddedBus({ dataDir: temp.dir, maintenanceInterval: 0 });

  async function raw(bus: EmbeddedBus, topic = '_schemas') {
    const c = bus.consumer({});
    await c.assign([{ topic, partition: 0, offset: 0 }]);
    const out: Array<{ key: string; value: string | null }> = [];
    for (;;) {
      const batch = await c.poll({ timeoutMs: 200 });
      if (batch.length === 0) break;
      for (const r of batch) out.push({ key: r.key!.toString(), value: r.value?.toString() ?? null });
    }
    await c.close();
    return out.filter((r) => !r.key.includes('NOOP'));
  }

  it('survives a restart with ids, versions, deletions, configs and modes', async () => {
    let bus = await open();
    let registry = await SchemaRegistry.open({ bus });
    const a = await registry.register('a-value', user(1));
    const b = await registry.register(
      'a-value',
      def(
        avroRecord('User1', [
          { name: 'id', type: 'string' },
          { name: 'x', type: 'int', default: 0 },
        ]),
      ),
    );
    const c = await registry.register('c-value', user(3));
    await registry.deleteVersion('c-value', 1);
    await registry.setCompatibility('a-value', 'FULL');
    await registry.setCompatibility(null, 'NONE');
    await registry.setMode('a-value', 'READONLY');
    await registry.close();
    await bus.close();

    bus = await open();
    registry = await SchemaRegistry.open({ bus });
    expect(registry.versions('a-value')).toEqual([1, 2]);
    expect(registry.version('a-value', 2).id).toBe(b);
    expect(registry.schemaById(a).subject).toBe('a-value');
    expect(registry.versions('c-value', true)).toEqual([1]);
    expect(() => registry.versions('c-value')).toThrow(expect.objectContaining({ errorCode: 40401 }));
    expect(registry.compatibility('a-value')).toBe('FULL');
    expect(registry.compatibility(null)).toBe('NONE');
    expect(registry.mode('a-value')).toBe('READONLY');
    // Ids go on from the highest ever handed out, soft-deleted ones included.
    expect(await registry.register('d-value', user(4))).toBe(Math.max(a, b, c) + 1);
    await registry.close();
    await bus.close();
  });

  it("writes Confluent's records, byte for byte", async () => {
    const bus = await open();
    const registry = await SchemaRegistry.open({ bus });
    const id = await registry.register('orders-value', user(1));
    await registry.register('orders-proto', {
      schemaType: 'PROTOBUF',
      schema: 'syntax = "proto3";\nmessage M {\n  string a = 1;\n}\n',
      references: [],
    });
    await registry.setCompatibility(null, 'FULL');
    await registry.setCompatibility('orders-value', 'NONE');
    await registry.setMode('orders-value', 'READONLY');
    await registry.deleteCompatibility(null);
    const records = await raw(bus);
    expect(records).toEqual([
      {
        key: '{"keytype":"SCHEMA","subject":"orders-value","version":1,"magic":1}',
        value: `{"subject":"orders-value","version":1,"id":${id},"schema":${JSON.stringify(JSON.stringify(JSON.parse(user(1).schema)))},"deleted":false}`,
      },
      {
        key: '{"keytype":"SCHEMA","subject":"orders-proto","version":1,"magic":1}',
        value: `{"subject":"orders-proto","version":1,"id":${id + 1},"schema":"syntax = \\"proto3\\";\\n\\nmessage M {\\n  string a = 1;\\n}\\n","deleted":false,"schemaType":"PROTOBUF"}`,
      },
      { key: '{"keytype":"CONFIG","magic":0}', value: '{"compatibilityLevel":"FULL"}' },
      {
        key: '{"keytype":"CONFIG","subject":"orders-value","magic":0}',
        value: '{"subject":"orders-value","compatibilityLevel":"NONE"}',
      },
      {
        key: '{"keytype":"MODE","subject":"orders-value","magic":0}',
        value: '{"subject":"orders-value","mode":"READONLY"}',
      },
      { key: '{"keytype":"CONFIG","magic":0}', value: null },
    ]);
    await registry.close();
    await bus.close();
  });

  it('reads a _schemas topic another registry wrote, skipping what it cannot use', async () => {
    const bus = await open();
    await bus.createTopic('_schemas', { partitions: 1, compacted: true });
    const avro = (name: string) =>
      JSON.stringify(JSON.parse(avroRecord(name, [{ name: 'f', type: 'string' }])));
    const records: Array<[string | null, string | null]> = [
      ['{"keytype":"NOOP","magic":0}', null],
      [
        '{"magic":1,"keytype":"SCHEMA","subject":"legacy","version":1}',
        JSON.stringify({ subject: 'legacy', version: 1, id: 7, schema: avro('A'), deleted: false }),
      ],
      [
        '{"keytype":"SCHEMA","subject":"legacy","version":2,"magic":1}',
        JSON.stringify({ subject: 'legacy', version: 2, id: 9, schema: avro('B'), deleted: false }),
      ],
      [
        '{"keytype":"SCHEMA","subject":"pb","version":1,"magic":1}',
        JSON.stringify({
          subject: 'pb',
          version: 1,
          id: 8,
          schema: 'syntax = "proto3";\nmessage M {\n  int32 a = 1;\n}\n',
          deleted: false,
          schemaType: 'PROTOBUF',
        }),
      ],
      // Another schema claiming id 7: the first one written keeps it.
      [
        '{"keytype":"SCHEMA","subject":"thief","version":1,"magic":1}',
        JSON.stringify({ subject: 'thief', version: 1, id: 7, schema: avro('C'), deleted: false }),
      ],
      ['{"keytype":"CONFIG","subject":null,"magic":0}', '{"compatibilityLevel":"FORWARD"}'],
      ['{"keytype":"CONFIG","magic":0}', '{"compatibilityLevel":"FULL"}'],
      ['{"keytype":"MODE","subject":"pb","magic":0}', '{"subject":"pb","mode":"READONLY"}'],
      ['{"keytype":"DELETE_SUBJECT","subject":"legacy","magic":0}', '{"subject":"legacy","version":1}'],
      [
        '{"keytype":"CONTEXT","tenant":"default","context":".x","magic":0}',
        '{"tenant":"default","context":".x"}',
      ],
      ['{"keytype":"ASSOCIATION","magic":0}', '{}'],
      ['not json at all', 'garbage'],
      ['{"keytype":"SCHEMA","subject":"broken","version":1,"magic":1}', '{"schema": 12}'],
      ['{"keytype":"CONFIG","subject":"x","magic":0}', '{"compatibilityLevel":"SIDEWAYS"}'],
    ];
    await bus.producer().send(
      records.map(([key, value]) => ({
        topic: '_schemas',
        key: key === null ? null : Buffer.from(key),
        value: value === null ? null : Buffer.from(value),
      })),
    );
    const registry = await SchemaRegistry.open({ bus });
    expect(registry.subjects()).toEqual(['legacy', 'pb']);
    expect(registry.versions('legacy')).toEqual([2]);
    expect(registry.versions('legacy', true)).toEqual([1, 2]);
    expect(registry.schemaById(7).subject).toBe('legacy');
    expect(registry.schemaById(8).schemaType).toBe('PROTOBUF');
    expect(registry.compatibility(null)).toBe('FULL');
    expect(registry.mode('pb')).toBe('READONLY');
    // It keeps serving and writes on: ids continue after the largest seen, the global config goes in every form.
    expect(await registry.register('fresh', def(avro('D')))).toBe(10);
    await registry.deleteCompatibility(null);
    const tombstones = (await raw(bus))
      .filter((r) => r.key.includes('CONFIG') && r.value === null)
      .map((r) => r.key);
    expect(tombstones.sort()).toEqual([
      '{"keytype":"CONFIG","magic":0}',
      '{"keytype":"CONFIG","subject":null,"magic":0}',
    ]);
    await registry.close();
    const reopened = await SchemaRegistry.open({ bus });
    expect(reopened.compatibility(null)).toBe('BACKWARD');
    await reopened.close();
    await bus.close();
  });

  it('never gives one id to two schemas when two registries on one log register at once', async () => {
    const bus = await open();
    const [r1, r2] = await Promise.all([SchemaRegistry.open({ bus }), SchemaRegistry.open({ bus })]);
    await r1.setCompatibility(null, 'NONE');
    const shared = Array.from({ length: 10 }, (_, i) => user(100 + i));
    const work = (r: SchemaRegistry, tag: string) =>
      Promise.all([
        ...Array.from({ length: 20 }, (_, i) =>
          r.register(`${tag}-value`, user(i + (tag === 'one' ? 0 : 50))),
        ),
        ...shared.map((d) => r.register(`${tag}-shared`, d)),
      ]);
    const [ids1, ids2] = await Promise.all([work(r1, 'one'), work(r2, 'two')]);
    await Promise.all([r1.sync(), r2.sync()]);
    const bySchema = new Map<string, number>();
    for (const r of [r1, r2])
      for (const id of [...ids1, ...ids2]) {
        const schema = r.schemaById(id).schema;
        expect(bySchema.get(schema) ?? id).toBe(id);
        bySchema.set(schema, id);
      }
    expect(new Set(ids1.slice(0, 20)).size).toBe(20);
    expect(ids1.slice(20)).toEqual(ids2.slice(20));
    expect(new Set([...ids1, ...ids2]).size).toBe(50);
    await r1.close();
    await r2.close();
    await bus.close();
  });
});
