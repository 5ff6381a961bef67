import { create, createFileRegistry, createMutableRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import {
  AvroDeserializer,
  AvroSerializer,
  JsonDeserializer,
  JsonSerializer,
  ProtobufDeserializer,
  ProtobufSerializer,
  SchemaRegistryClient,
  SerdeType,
} from '@confluentinc/schemaregistry';
import { SchemaRegistry as KafkajsRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WireSerde } from '../../src/registry/index.ts';
import { avroRecord, type RegistryServer, startRegistryServer } from './registry-helpers.ts';

const order = avroRecord('Order', [
  { name: 'id', type: 'string' },
  { name: 'amount', type: 'double' },
  { name: 'note', type: ['null', 'string'], default: null },
]);
const orderJson = JSON.stringify({
  type: 'object',
  properties: {
    id: { type: 'string' },
    amount: { type: 'number' },
    tags: { type: 'array', items: { type: 'string' } },
  },
  required: ['id', 'amount'],
});
const orderProto = `syntax = "proto3";
package shop;
message Order {
  string id = 1;
  double amount = 2;
  Status status = 3;
  repeated Line lines = 4;
  message Line { string sku = 1; int64 qty = 2; }
}
enum Status { NEW = 0; PAID = 1; }
message Refund { string order_id = 1; }
`;

describe('real Schema Registry clients against Kappa', () => {
  let s: RegistryServer;
  let serde: WireSerde;
  beforeAll(async () => {
    s = await startRegistryServer();
    serde = new WireSerde(s.registry);
  });
  afterAll(async () => s.close());

  it('@kafkajs/confluent-schema-registry registers, encodes and decodes Avro; Kappa reads it and back', async () => {
    const client = new KafkajsRegistry({ host: s.url });
    const { id } = await client.register(
      { type: SchemaType.AVRO, schema: order },
      { subject: 'kafkajs-orders-value' },
    );
    expect(await client.getLatestSchemaId('kafkajs-orders-value')).toBe(id);
    const encoded = await client.encode(id, { id: 'o-1', amount: 9.5, note: 'fragile' });
    expect(serde.deserialize(encoded)).toEqual({
      schemaId: id,
      schemaType: 'AVRO',
      value: expect.objectContaining({ id: 'o-1', amount: 9.5, note: 'fragile' }),
    });
    const ours = serde.serialize(id, { id: 'o-2', amount: 1, note: null });
    expect(await client.decode(ours)).toEqual({ id: 'o-2', amount: 1, note: null });
    // The same schema again is the same id, also under another subject.
    expect(
      (await client.register({ type: SchemaType.AVRO, schema: order }, { subject: 'kafkajs-orders-value' }))
        .id,
    ).toBe(id);
    expect(
      (await client.register({ type: SchemaType.AVRO, schema: order }, { subject: 'other-value' })).id,
    ).toBe(id);
  });

  it('@kafkajs/confluent-schema-registry works with JSON Schema and Protobuf too', async () => {
    const client = new KafkajsRegistry({ host: s.url });
    const json = await client.register(
      { type: SchemaType.JSON, schema: orderJson },
      { subject: 'kafkajs-json-value' },
    );
    const jsonBytes = await client.encode(json.id, { id: 'j-1', amount: 2, tags: ['a'] });
    expect(serde.deserialize(jsonBytes).value).toEqual({ id: 'j-1', amount: 2, tags: ['a'] });
    expect(await client.decode(serde.serialize(json.id, { id: 'j-2', amount: 3 }))).toEqual({
      id: 'j-2',
      amount: 3,
    });
    await expect(client.encode(json.id, { id: 'j-3' })).rejects.toThrow();

    const proto = await client.register(
      { type: SchemaType.PROTOBUF, schema: orderProto },
      { subject: 'kafkajs-proto-value' },
    );
    // That client writes Protobuf without message indexes (its issue #152); Kappa reads such records
    // as the first message, as Confluent's own JavaScript deserializer does.
    const protoBytes = await client.encode(proto.id, {
      id: 'p-1',
      amount: 4.5,
      status: 1,
      lines: [{ sku: 'x', qty: 2 }],
    });
    expect(serde.deserialize(protoBytes).value).toEqual({
      id: 'p-1',
      amount: 4.5,
      status: 'PAID',
      lines: [{ sku: 'x', qty: '2' }],
    });
    const ours = serde.serialize(proto.id, { id: 'p-2', amount: 1, status: 'NEW', lines: [] });
    expect(ours.subarray(5, 6)).toEqual(Buffer.of(0)); // the first message: indexes [0] as one 0 byte
    const second = serde.serialize(proto.id, { order_id: 'p-2' }, { message: 'Refund' });
    expect(second.subarray(5, 7)).toEqual(Buffer.of(2, 2)); // [1]
    expect(serde.deserialize(second).value).toEqual({ order_id: 'p-2' });
  });

  it("Confluent's own client serializes and deserializes Avro and JSON Schema through Kappa", async () => {
    const client = new SchemaRegistryClient({ baseURLs: [s.url] });
    const id = await client.register('payments-value', { schemaType: 'AVRO', schema: order });
    const avroOut = new AvroSerializer(client, SerdeType.VALUE, { useLatestVersion: true });
    const avroIn = new AvroDeserializer(client, SerdeType.VALUE, {});
    const bytes = await avroOut.serialize(
      'payments',
      { id: 'p-1', amount: 3, note: null },
      undefined as never,
    );
    expect(bytes.readUInt32BE(1)).toBe(id);
    expect((await client.getLatestSchemaMetadata('payments-value')).id).toBe(id);
    expect(await avroIn.deserialize('payments', bytes)).toEqual({ id: 'p-1', amount: 3, note: null });
    expect(serde.deserialize(bytes).value).toEqual(expect.objectContaining({ id: 'p-1', amount: 3 }));
    expect(
      await avroIn.deserialize('payments', serde.serialize(id, { id: 'p-2', amount: 4, note: 'x' })),
    ).toEqual({
      id: 'p-2',
      amount: 4,
      note: 'x',
    });

    const registered = await client.register('shipments-value', { schemaType: 'JSON', schema: orderJson });
    const jsonOut = new JsonSerializer(client, SerdeType.VALUE, {
      useLatestVersion: true,
      validate: true,
    } as never);
    const jsonIn = new JsonDeserializer(client, SerdeType.VALUE, {});
    const jsonBytes = await jsonOut.serialize('shipments', { id: 's-1', amount: 7 }, undefined as never);
    expect(jsonBytes.readUInt32BE(1)).toBe(registered);
    expect(serde.deserialize(jsonBytes).value).toEqual({ id: 's-1', amount: 7 });
    expect(
      await jsonIn.deserialize('shipments', serde.serialize(registered, { id: 's-2', amount: 8 })),
    ).toEqual({
      id: 's-2',
      amount: 8,
    });
  });

  it("Confluent's own client serializes and deserializes Protobuf through Kappa (format=serialized)", async () => {
    const client = new SchemaRegistryClient({ baseURLs: [s.url] });
    const id = await client.register('receipts-value', { schemaType: 'PROTOBUF', schema: orderProto });
    // Kappa writes, Confluent's deserializer reads (it asks for the schema as a descriptor).
    const reader = new ProtobufDeserializer(client, SerdeType.VALUE, {});
    const read = await reader.deserialize(
      'receipts',
      serde.serialize(id, { id: 'r-1', amount: 2.5, status: 'PAID', lines: [{ sku: 'a', qty: '3' }] }),
    );
    expect([read.id, read.amount, read.status, read.lines[0].sku, read.lines[0].qty]).toEqual([
      'r-1',
      2.5,
      1,
      'a',
      3n,
    ]);
    const refund = await reader.deserialize(
      'receipts',
      serde.serialize(id, { order_id: 'r-1' }, { message: 'Refund' }),
    );
    expect(refund.$typeName).toBe('shop.Refund');

    // Confluent's serializer writes with a message type built from Kappa's descriptor; Kappa reads.
    const described = await s.call('GET', `/schemas/ids/${id}?format=serialized`);
    const file = createFileRegistry(
      fromBinary(FileDescriptorProtoSchema, Buffer.from(described.body.schema, 'base64')),
      () => undefined,
    );
    const order = file.getMessage('shop.Order')!;
    const writer = new ProtobufSerializer(client, SerdeType.VALUE, {
      useLatestVersion: true,
      registry: createMutableRegistry(order),
    });
    const bytes = await writer.serialize(
      'receipts',
      create(order, { id: 'r-2', amount: 7, status: 1 }),
      undefined as never,
    );
    expect(bytes.readUInt32BE(1)).toBe(id);
    expect(serde.deserialize(bytes).value).toEqual({ id: 'r-2', amount: 7, status: 'PAID', lines: [] });
  });

  it("Confluent's serializer auto-registers a Protobuf schema as a serialized descriptor, which Kappa stores as .proto and reads with", async () => {
    // A message type of Confluent's own making, from a descriptor (no .proto text anywhere).
    const text = await (
      await s.call('POST', '/subjects/descriptor-source/versions', {
        schemaType: 'PROTOBUF',
        schema: orderProto,
      })
    ).body;
    const source = await s.call('GET', `/schemas/ids/${text.id}?format=serialized`);
    const file = createFileRegistry(
      fromBinary(FileDescriptorProtoSchema, Buffer.from(source.body.schema, 'base64')),
      () => undefined,
    );
    const order = file.getMessage('shop.Order')!;
    const client = new SchemaRegistryClient({ baseURLs: [s.url] });
    const writer = new ProtobufSerializer(client, SerdeType.VALUE, {
      autoRegisterSchemas: true,
      registry: createMutableRegistry(order),
    });
    const bytes = await writer.serialize(
      'auto',
      create(order, { id: 'a-1', amount: 3, status: 1, lines: [{ sku: 's', qty: 2n }] }),
      undefined as never,
    );
    const id = bytes.readUInt32BE(1);
    const stored = s.registry.version('auto-value', -1);
    expect(stored.id).toBe(id);
    expect(stored.schema).toContain('message Order {');
    expect(stored.schema).toContain('repeated .shop.Order.Line lines = 4;');
    expect(serde.deserialize(bytes).value).toEqual({
      id: 'a-1',
      amount: 3,
      status: 'PAID',
      lines: [{ sku: 's', qty: '2' }],
    });
    // The same descriptor again finds the same version, as text registrations do.
    expect(
      await writer
        .serialize('auto', create(order, { id: 'a-2' }), undefined as never)
        .then((b) => b.readUInt32BE(1)),
    ).toBe(id);
    expect(s.registry.versions('auto-value')).toEqual([1]);
    const garbage = await s.call('POST', '/subjects/garbage-value/versions', {
      schemaType: 'PROTOBUF',
      schema: 'AAAA',
    });
    expect([garbage.status, garbage.body.error_code, garbage.body.message]).toEqual([
      422,
      42201,
      expect.stringContaining('neither .proto text nor a serialized FileDescriptorProto'),
    ]);
  });
});
