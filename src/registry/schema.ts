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
