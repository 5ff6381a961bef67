export { AvroSchema, avroProvider } from './avro/avro-schema.ts';
export { typeName, typescriptTypes } from './codegen/typescript-types.ts';
export { COMPATIBILITY_LEVELS, type CompatibilityLevel, checkCompatibility } from './compatibility.ts';
export { RecordInvalidError, RegistryError, RegistryErrors } from './errors.ts';
export { JsonSchema, jsonSchemaProvider } from './json/json-schema.ts';
export { ProtobufSchema, protobufProvider } from './protobuf/protobuf-schema.ts';
export {
  type RegisterOptions,
  type RegistryOptions,
  SchemaRegistry,
  type SubjectVersion,
} from './registry.ts';
export { type LookedUpEvent, lookedUp } from './registry-events.ts';
export {
  type ParsedSchema,
  type ResolvedReference,
  SCHEMA_TYPES,
  type SchemaCodec,
  type SchemaDefinition,
  type SchemaProvider,
  type SchemaReference,
  type SchemaType,
} from './schema.ts';
export { MODES, type Mode } from './store/schema-records.ts';
export { checkSubject, LATEST, parseVersion } from './subject-name.ts';
export {
  decodeMessageIndexes,
  encodeMessageIndexes,
  frame,
  HEADER_BYTES,
  MAGIC_BYTE,
  schemaIdOf,
} from './wire-format.ts';
export { type Deserialized, WireSerde } from './wire-serde.ts';
