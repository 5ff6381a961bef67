import { RecordInvalidError } from './errors.ts';
import type { SchemaRegistry } from './registry.ts';
import type { ParsedSchema, SchemaType } from './schema.ts';
import { LATEST } from './subject-name.ts';
import {
  decodeMessageIndexes,
  encodeMessageIndexes,
  frame,
  HEADER_BYTES,
  schemaIdOf,
} from './wire-format.ts';

export interface Deserialized {
  schemaId: number;
  schemaType: SchemaType;
  value: unknown;
}

/**
 * Values to Confluent wire format and back with the registry's schemas, for the ingest path and for
 * pipelines. Ids never change meaning, so parsed schemas are cached by id; a cache miss is answered
 * from the registry's memory, so the hot path never waits on the bus.
 */
export class WireSerde {
  readonly #registry: SchemaRegistry;
  readonly #cache = new Map<number, ParsedSchema>();
  readonly #cacheSize: number;

  constructor(registry: SchemaRegistry, options: { cacheSize?: number } = {}) {
    this.#registry = registry;
    this.#cacheSize = options.cacheSize ?? 10_000;
  }

  /** The parsed schema of an id; throws 40403 when this registry does not know it (yet: see `load`). */
  schema(id: number): ParsedSchema {
    let parsed = this.#cache.get(id);
    if (!parsed) {
      parsed = this.#registry.parsed(this.#registry.schemaById(id));
      if (this.#cache.size >= this.#cacheSize) this.#cache.delete(this.#cache.keys().next().value!);
      this.#cache.set(id, parsed);
    }
    return parsed;
  }

  /** Makes sure an id another registry process may have just handed out is known here. */
  async load(id: number): Promise<ParsedSchema> {
    await this.#registry.loadSchemaById(id);
    return this.schema(id);
  }

  /** Checks `value` against schema `id` and frames it; Protobuf encodes `message` (default: the first). */
  serialize(id: number, value: unknown, options: { message?: string } = {}): Buffer {
    const { payload, indexes } = this.schema(id).codec().encode(value, options);
    return frame(id, payload, indexes === undefined ? undefined : encodeMessageIndexes(indexes));
  }

  /** Reads a framed value; throws RecordInvalidError for bytes that are not wire format or do not decode. */
  deserialize(bytes: Uint8Array): Deserialized {
    const schemaId = schemaIdOf(bytes);
    let schema: ParsedSchema;
    try {
      schema = this.schema(schemaId);
    } catch {
      throw new RecordInvalidError(
        `The record names schema id ${schemaId}, which the registry does not hold`,
        '$',
      );
    }
    let at = HEADER_BYTES;
    let indexes: number[] | undefined;
    if (schema.type === 'PROTOBUF') ({ indexes, next: at } = decodeMessageIndexes(bytes, at));
    return { schemaId, schemaType: schema.type, value: schema.codec().decode(bytes.subarray(at), indexes) };
  }

  /** The id of a subject's latest schema, for serializing with it. */
  latestId(subject: string): number {
    return this.#registry.version(subject, LATEST).id;
  }
}
