import {
  AvroDeserializer,
  AvroSerializer,
  SchemaRegistryClient,
  SerdeType,
} from '@confluentinc/schemaregistry';
import { SchemaRegistry as KafkajsRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { avroRecord, type RegistryServer, startRegistryServer } from './registry-helpers.ts';

const order = avroRecord('Order', [
  { name: 'id', type: 'string' },
  { name: 'amount', type: 'double' },
  { name: 'note', type: ['null', 'string'], default: null },
]);

describe('real Schema Registry clients against Kappa', () => {
  let s: RegistryServer;
  beforeAll(async () => {
    s = await startRegistryServer();
  });
  afterAll(async () => s.close());

  it('@kafkajs/confluent-schema-registry registers, encodes and decodes Avro', async () => {
    const client = new KafkajsRegistry({ host: s.url });
    const { id } = await client.register(
      { type: SchemaType.AVRO, schema: order },
      { subject: 'kafkajs-orders-value' },
    );
    expect(id).toBeGreaterThan(0);
    expect(await client.getLatestSchemaId('kafkajs-orders-value')).toBe(id);
    const encoded = await client.encode(id, { id: 'o-1', amount: 9.5, note: 'fragile' });
    expect(encoded[0]).toBe(0);
    expect(encoded.readUInt32BE(1)).toBe(id);
    expect(await client.decode(encoded)).toEqual({ id: 'o-1', amount: 9.5, note: 'fragile' });
    // The same schema again is the same id, also under another subject.
    const again = await client.register(
      { type: SchemaType.AVRO, schema: order },
      { subject: 'kafkajs-orders-value' },
    );
    expect(again.id).toBe(id);
    const other = await client.register({ type: SchemaType.AVRO, schema: order }, { subject: 'other-value' });
    expect(other.id).toBe(id);
  });

  it("Confluent's own client serializes and deserializes through Kappa", async () => {
    const client = new SchemaRegistryClient({ baseURLs: [s.url] });
    const serializer = new AvroSerializer(client, SerdeType.VALUE, { autoRegisterSchemas: true });
    const deserializer = new AvroDeserializer(client, SerdeType.VALUE, {});
    const bytes = await serializer.serialize(
      'payments',
      { id: 'p-1', amount: 3, note: null },
      undefined as never,
    );
    expect(bytes[0]).toBe(0);
    const id = bytes.readUInt32BE(1);
    const latest = await client.getLatestSchemaMetadata('payments-value');
    expect(latest.id).toBe(id);
    expect(await deserializer.deserialize('payments', bytes)).toEqual({ id: 'p-1', amount: 3, note: null });
  });
});
