import { RegistryErrors } from '../errors.ts';

/**
 * The text Confluent's registry stores for an Avro schema: Apache Avro Java's `Schema.toString()`.
 * Keys come in Java's order, a named type is written in full once and by name after that, names are
 * relative to the enclosing namespace. Two texts that differ only in layout or key order give the same
 * canonical text, so they get the same id, as they do on Confluent's registry. Written by hand: avsc
 * exports schemas in its own form (full names everywhere, attributes dropped), not Java's.
 */
export function avroCanonical(schema: unknown, normalize = false): string {
  return JSON.stringify(new Printer(normalize).type(schema, null));
}

const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);
const RESERVED: Record<string, readonly string[]> = {
  record: ['type', 'name', 'namespace', 'doc', 'fields', 'aliases'],
  error: ['type', 'name', 'namespace', 'doc', 'fields', 'aliases'],
  enum: ['type', 'name', 'namespace', 'doc', 'symbols', 'aliases', 'default'],
  fixed: ['type', 'name', 'namespace', 'doc', 'size', 'aliases'],
  array: ['type', 'items'],
  map: ['type', 'values'],
};
const FIELD_RESERVED = ['name', 'type', 'doc', 'default', 'order', 'aliases'];

type Json = unknown;
type JsonObject = Record<string, Json>;

class Printer {
  readonly #seen = new Set<string>();
  /** Confluent's normalize: names in full (no `namespace` key), properties and aliases sorted. */
  readonly #normalize: boolean;

  constructor(normalize: boolean) {
    this.#normalize = normalize;
  }

  #props(s: JsonObject, reserved: readonly string[]): JsonObject {
    const props = propsOf(s, reserved);
    if (!this.#normalize) return props;
    return Object.fromEntries(
      Object.keys(props)
        .sort()
        .map((k) => [k, props[k]]),
    );
  }

  #name(full: string, space: string | null): string {
    return this.#normalize ? full : relative(full, space);
  }

  type(schema: Json, space: string | null): Json {
    if (typeof schema === 'string') return this.#reference(schema, space);
    if (Array.isArray(schema)) return schema.map((branch) => this.type(branch, space));
    if (typeof schema !== 'object' || schema === null) return schema;
    const s = schema as JsonObject;
    const type = s.type;
    if (typeof type !== 'string') return this.type(type, space);
    if (PRIMITIVES.has(type)) {
      const props = this.#props(s, ['type']);
      return Object.keys(props).length === 0 ? type : { type, ...props };
    }
    if (type === 'array')
      return { type, items: this.type(s.items, space), ...this.#props(s, RESERVED.array!) };
    if (type === 'map') return { type, values: this.type(s.values, space), ...this.#props(s, RESERVED.map!) };
    if (type in RESERVED) return this.#named(s, type, space);
    return this.#reference(type, space);
  }

  #named(s: JsonObject, type: string, enclosing: string | null): Json {
    // avsc takes anonymous records; Avro's specification (and Java, and so Confluent) does not.
    if (typeof s.name !== 'string' || s.name === '')
      throw RegistryErrors.invalidSchema(`Avro: a ${type} needs a "name"`);
    const { full, namespace, name } = fullName(
      s.name as string,
      s.namespace as string | undefined,
      enclosing,
    );
    if (this.#seen.has(full)) return this.#name(full, enclosing);
    this.#seen.add(full);
    const out: JsonObject = this.#normalize ? { type, name: full } : { type, name };
    if (!this.#normalize && (namespace !== null ? namespace !== enclosing : enclosing !== null))
      out.namespace = namespace ?? '';
    if (s.doc !== undefined) out.doc = s.doc;
    if (type === 'record' || type === 'error') {
      out.fields = Array.isArray(s.fields)
        ? s.fields.map((f) => this.#field(f as JsonObject, namespace))
        : [];
    } else if (type === 'enum') {
      out.symbols = s.symbols;
      if (s.default !== undefined) out.default = s.default;
    } else {
      out.size = s.size;
    }
    Object.assign(out, this.#props(s, RESERVED[type]!));
    if (Array.isArray(s.aliases) && s.aliases.length > 0) {
      const aliases = s.aliases.map((a) =>
        this.#name(fullName(String(a), undefined, namespace).full, namespace),
      );
      out.aliases = this.#normalize ? aliases.sort() : aliases;
    }
    return out;
  }

  #field(f: JsonObject, space: string | null): Json {
    const out: JsonObject = { name: f.name, type: this.type(f.type, space) };
    if (f.doc !== undefined) out.doc = f.doc;
    if (f.default !== undefined) out.default = f.default;
    if (f.order !== undefined && f.order !== 'ascending') out.order = f.order;
    if (Array.isArray(f.aliases) && f.aliases.length > 0)
      out.aliases = this.#normalize ? [...f.aliases].sort() : f.aliases;
    return Object.assign(out, this.#props(f, FIELD_RESERVED));
  }

  #reference(name: string, space: string | null): Json {
    if (PRIMITIVES.has(name)) return name;
    return this.#name(fullName(name, undefined, space).full, space);
  }
}

function fullName(
  name: string,
  namespace: string | undefined,
  enclosing: string | null,
): { full: string; namespace: string | null; name: string } {
  const dot = name.lastIndexOf('.');
  if (dot >= 0) return { full: name, namespace: name.slice(0, dot), name: name.slice(dot + 1) };
  const space = namespace === undefined ? enclosing : namespace === '' ? null : namespace;
  return { full: space ? `${space}.${name}` : name, namespace: space, name };
}

function relative(full: string, space: string | null): string {
  const dot = full.lastIndexOf('.');
  const namespace = dot >= 0 ? full.slice(0, dot) : null;
  return namespace === space ? full.slice(dot + 1) : full;
}

function propsOf(s: JsonObject, reserved: readonly string[]): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(s)) if (!reserved.includes(key)) out[key] = value;
  return out;
}
