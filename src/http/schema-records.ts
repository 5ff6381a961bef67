import {
  RecordInvalidError,
  RegistryError,
  type SchemaRegistry,
  type SchemaType,
  type WireSerde,
} from '../registry/index.ts';
import type { SchemaFormat } from './content-types.ts';
import { RequestError } from './errors.ts';

const SCHEMA_TYPE: Record<SchemaFormat, SchemaType> = {
  avro: 'AVRO',
  jsonschema: 'JSON',
  protobuf: 'PROTOBUF',
};
const FORMAT_NAME: Record<SchemaFormat, string> = {
  avro: 'Avro',
  jsonschema: 'JSON Schema',
  protobuf: 'Protobuf',
};

export interface SchemaRequestBody {
  key_schema?: unknown;
  key_schema_id?: unknown;
  value_schema?: unknown;
  value_schema_id?: unknown;
  records: Array<{ key?: unknown; value?: unknown }>;
}

export interface EncodedRecords {
  keys: Array<Buffer | null>;
  values: Array<Buffer | null>;
  keySchemaId: number | null;
  valueSchemaId: number | null;
}

/**
 * REST Proxy v2 produce in a schema format: the schema comes as text (registered under the topic's
 * `-key`/`-value` subject, as Confluent's REST Proxy does) or as an id; every record is checked and
 * encoded before anything is appended, so one bad record rejects the request as a whole.
 */
export async function encodeSchemaRecords(
  topic: string,
  format: SchemaFormat,
  body: SchemaRequestBody,
  registry: SchemaRegistry,
  serde: WireSerde,
): Promise<EncodedRecords> {
  const hasKeys = body.records.some((r) => r.key !== undefined && r.key !== null);
  const hasValues = body.records.some((r) => r.value !== undefined && r.value !== null);
  const keySchemaId = hasKeys
    ? await schemaId(topic, 'key', format, body.key_schema, body.key_schema_id, registry, serde)
    : null;
  const valueSchemaId = hasValues
    ? await schemaId(topic, 'value', format, body.value_schema, body.value_schema_id, registry, serde)
    : null;
  const encode = (value: unknown, id: number | null, where: string): Buffer | null => {
    if (value === undefined || value === null) return null;
    try {
      const codec = serde.schema(id!).codec();
      return serde.serialize(id!, codec.fromJson(value));
    } catch (error) {
      if (!(error instanceof RecordInvalidError)) throw error;
      // The record and the field, so the sender can fix the one that is wrong.
      const message = error.message.startsWith('$')
        ? error.message.replace(/^\$/, where)
        : `${where}: ${error.message}`;
      throw new RequestError(422, 42203, message);
    }
  };
  return {
    keys: body.records.map((r, i) => encode(r.key, keySchemaId, `records[${i}].key`)),
    values: body.records.map((r, i) => encode(r.value, valueSchemaId, `records[${i}].value`)),
    keySchemaId,
    valueSchemaId,
  };
}

async function schemaId(
  topic: string,
  part: 'key' | 'value',
  format: SchemaFormat,
  schema: unknown,
  id: unknown,
  registry: SchemaRegistry,
  serde: WireSerde,
): Promise<number> {
  if (schema === undefined && id === undefined)
    throw new RequestError(
      422,
      part === 'key' ? 42201 : 42202,
      `Request includes ${part}s and uses a format that requires schemas, but does not include the ${part}_schema or ${part}_schema_id fields`,
    );
  let resolved: number;
  if (id !== undefined) {
    if (!Number.isSafeInteger(id) || (id as number) < 1)
      throw new RequestError(422, 422, `${part}_schema_id must be a positive integer`);
    resolved = id as number;
  } else {
    if (typeof schema !== 'string')
      throw new RequestError(422, 422, `${part}_schema must be the schema as a string`);
    resolved = await registry.register(`${topic}-${part}`, {
      schemaType: SCHEMA_TYPE[format],
      schema,
      references: [],
    });
  }
  const parsed = await serde.load(resolved).catch((error: unknown) => {
    if (error instanceof RegistryError) throw new RequestError(404, 40403, `Schema ${resolved} not found`);
    throw error;
  });
  if (parsed.type !== SCHEMA_TYPE[format])
    throw new RequestError(
      422,
      422,
      `Schema ${resolved} is ${parsed.type === 'JSON' ? 'a JSON Schema' : `a ${parsed.type} schema`}, but the request's format is ${FORMAT_NAME[format]}`,
    );
  return resolved;
}
