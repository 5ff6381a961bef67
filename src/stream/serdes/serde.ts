import type { SchemaRegistry } from '../../registry/index.ts';

/**
 * How a pipeline reads record bytes into values (at its source) and writes values as bytes (at its
 * sinks). A `decode` that throws sends the record to the dead-letter topic with reason `decode`; an
 * `encode` that throws sends the input record there with reason `error`.
 */
export interface Serde<T> {
  decode(bytes: Buffer): T;
  encode(value: T): Buffer;
  /**
   * Called by the runner before the first record, for serdes that need what the process has: the
   * schema registry, for values in Confluent's wire format.
   */
  bind?(context: SerdeContext): void;
}

export interface SerdeContext {
  registry: SchemaRegistry;
}

const JSON_SERDE: Serde<unknown> = {
  decode: (bytes) => JSON.parse(bytes.toString('utf8')),
  encode: (value) => {
    const text = JSON.stringify(value);
    // JSON.stringify(undefined) is undefined, not text: say so rather than write an empty record.
    if (text === undefined) throw new TypeError(`${String(value)} has no JSON form`);
    return Buffer.from(text);
  },
};

/** UTF-8 JSON, unchecked: the default at sources and sinks. */
export function json<T>(): Serde<T> {
  return JSON_SERDE as Serde<T>;
}
