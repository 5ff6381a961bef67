import {
  avroProvider,
  type JsonSchema,
  jsonSchemaProvider,
  protobufProvider,
  type SchemaCodec,
  type SchemaProvider,
} from '../../registry/index.ts';
import type { Serde } from './serde.ts';

/**
 * Values in one schema, without the registry's wire-format header: the schema languages, validation
 * and error messages (naming the field) are the registry's. A value that does not match its schema
 * throws RecordInvalidError, so at a source it becomes a dead letter with reason `decode`.
 */
function schemaSerde<T>(provider: SchemaProvider, schema: unknown): Serde<T> {
  const codec: SchemaCodec = provider.parse(textOf(schema), []).codec();
  return {
    decode: (bytes) => codec.decode(bytes) as T,
    encode: (value) => codec.encode(value).payload,
  };
}

/** Avro binary values of one schema (given as JSON or as its text). */
export function avro<T>(schema: unknown): Serde<T> {
  return schemaSerde(avroProvider, schema);
}

/** JSON values checked against a JSON Schema, both when read and when written. */
export function jsonSchema<T>(schema: unknown): Serde<T> {
  const parsed = jsonSchemaProvider.parse(textOf(schema), []) as JsonSchema;
  const codec = parsed.codec();
  return {
    decode: (bytes) => {
      const value = codec.decode(bytes);
      parsed.validate(value);
      return value as T;
    },
    encode: (value) => codec.encode(value).payload,
  };
}

const textOf = (schema: unknown) => (typeof schema === 'string' ? schema : JSON.stringify(schema));

/** Protobuf values of the first message of a `.proto` text, as plain objects (JSON mapping). */
export function protobuf<T>(proto: string): Serde<T> {
  return schemaSerde(protobufProvider, proto);
}
