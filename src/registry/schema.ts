/** The three schema languages, named as Confluent's API names them. */
export const SCHEMA_TYPES = ['AVRO', 'JSON', 'PROTOBUF'] as const;
export type SchemaType = (typeof SCHEMA_TYPES)[number];

/** A named dependency of a schema: an Avro named type, a JSON Schema `$ref` URL, a Protobuf import path. */
export interface SchemaReference {
  name: string;
  subject: string;
  version: number;
}

/** What a client registers: schema text in a language, with the schemas it references. */
export interface SchemaDefinition {
  schemaType: SchemaType;
  schema: string;
  references: SchemaReference[];
}

/** A reference resolved to the schema text it names, with that schema's own references resolved. */
export interface ResolvedReference {
  name: string;
  schema: string;
  references: ResolvedReference[];
  /** The subject and version it was found at: Protobuf compares imported types from different versions. */
  subject?: string;
  version?: number;
}

/**
 * A schema parsed by its language, with its references resolved. Compatibility is asked as Confluent's
 * registry asks it: can this schema read data written with `previous` (backward)? Forward is the same
 * question with the two swapped.
 */
export interface ParsedSchema {
  readonly type: SchemaType;
  /** The text stored and returned, and the form two registrations are compared in for "the same schema". */
  readonly canonical: string;
  /** The text the API may return in place of `canonical`; the same form for languages without one. */
  normalized(): string;
  /**
   * Why data written with `previous` cannot be read with this schema, in Confluent's verbose
   * message form; empty when it can. A message may hold up to two `%s`: the first is replaced by the
   * reader's label, the second by the writer's ('new' and 'old', or the other way round).
   */
  isBackwardCompatible(previous: ParsedSchema): string[];
  /** Encodes and decodes values of this schema (made once, on first use). */
  codec(): SchemaCodec;
}

/** Values of one schema to bytes and back: the payload after Confluent's wire-format header. */
export interface SchemaCodec {
  /**
   * Checks a value against the schema and encodes it; throws RecordInvalidError naming the field.
   * Protobuf encodes `message` (default: the file's first message) and returns its message indexes.
   */
  encode(value: unknown, options?: { message?: string }): { payload: Buffer; indexes?: number[] };
  decode(payload: Uint8Array, indexes?: readonly number[]): unknown;
  /**
   * A value in the JSON form REST Proxy takes (Avro's JSON encoding with wrapped unions and bytes
   * as strings, Protobuf's JSON mapping) as the value `encode` takes.
   */
  fromJson(json: unknown, options?: { message?: string }): unknown;
}

/** One language: parses schema text and its resolved references. */
export interface SchemaProvider {
  readonly type: SchemaType;
  /** Throws InvalidSchemaError with what is wrong and where. */
  parse(text: string, references: readonly ResolvedReference[]): ParsedSchema;
}

/** References in dependency order, each once: a referenced schema's own references come before it. */
export function flattenReferences(
  references: readonly ResolvedReference[],
  out: ResolvedReference[] = [],
): ResolvedReference[] {
  for (const reference of references) {
    flattenReferences(reference.references, out);
    if (!out.some((r) => r.name === reference.name)) out.push(reference);
  }
  return out;
}
