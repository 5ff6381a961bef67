import avro, { type Type } from 'avsc';
import { RegistryErrors } from '../errors.ts';
import {
  flattenReferences,
  type ParsedSchema,
  type ResolvedReference,
  type SchemaCodec,
  type SchemaProvider,
} from '../schema.ts';
import { parseSchemaJson } from '../schema-json.ts';
import { avroCanonical } from './avro-canonical.ts';
import { avroCodec } from './avro-codec.ts';
import { type AvroIncompatibility, avroIncompatibilities } from './avro-compatibility.ts';

/** An Avro schema: the avsc type it parses to, with the named types of its references. */
export class AvroSchema implements ParsedSchema {
  readonly type = 'AVRO' as const;
  readonly canonical: string;
  /** The parsed type; unions unwrapped where avsc can (its default), as JavaScript callers expect. */
  readonly avro: Type;
  readonly #json: unknown;
  #codec: SchemaCodec | undefined;

  constructor(json: unknown, references: readonly ResolvedReference[]) {
    const registry: Record<string, Type> = {};
    for (const reference of flattenReferences(references))
      forSchema(parseSchemaJson(reference.schema, 'Avro'), registry);
    this.avro = forSchema(json, registry);
    this.canonical = avroCanonical(json);
    this.#json = json;
  }

  /** Confluent's normalized form: full names, custom properties and aliases sorted. */
  normalized(): string {
    return avroCanonical(this.#json, true);
  }

  isBackwardCompatible(previous: ParsedSchema): string[] {
    if (!(previous instanceof AvroSchema)) return ['Incompatible because of different schema type'];
    return avroIncompatibilities(this.avro, previous.avro).map(describe);
  }

  codec(): SchemaCodec {
    this.#codec ??= avroCodec(this.avro);
    return this.#codec;
  }
}

export const avroProvider: SchemaProvider = {
  type: 'AVRO',
  parse(text, references) {
    return new AvroSchema(parseSchemaJson(text, 'Avro'), references);
  },
};

function forSchema(json: unknown, registry: Record<string, Type>): Type {
  try {
    return avro.Type.forSchema(json as avro.Schema, { registry });
  } catch (error) {
    throw RegistryErrors.invalidSchema(`Avro: ${(error as Error).message}`, error);
  }
}

/**
 * Confluent's verbose message for one incompatibility (its avro/Difference.java), with `%s` where the
 * compatibility check puts the reader's and the writer's labels ('new', 'old').
 */
function describe(i: AvroIncompatibility): string {
  return `{errorType:'${i.type}', description:'${DESCRIPTIONS[i.type](i)}', additionalInfo:'${i.message}'}`;
}

const DESCRIPTIONS: Record<AvroIncompatibility['type'], (i: AvroIncompatibility) => string> = {
  NAME_MISMATCH: (i) => `The name of the schema has changed (path '${i.location}')`,
  FIXED_SIZE_MISMATCH: (i) =>
    `The size of FIXED type field at path '${i.location}' in the %s schema does not match with the %s schema`,
  MISSING_ENUM_SYMBOLS: (i) =>
    `The %s schema is missing enum symbols '${i.message}' at path '${i.location}' in the %s schema`,
  READER_FIELD_MISSING_DEFAULT_VALUE: (i) =>
    `The field '${i.message}' at path '${i.location}' in the %s schema has no default value and is missing in the %s schema`,
  TYPE_MISMATCH: (i) =>
    `The type (path '${i.location}') of a field in the %s schema does not match with the %s schema`,
  MISSING_UNION_BRANCH: (i) =>
    `The %s schema is missing a type inside a union field at path '${i.location}' in the %s schema`,
};
