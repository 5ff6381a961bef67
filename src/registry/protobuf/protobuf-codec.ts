import protobuf from 'protobufjs';
import { RecordInvalidError } from '../errors.ts';
import type { SchemaCodec } from '../schema.ts';
import type { ProtobufSchema } from './protobuf-schema.ts';

const INT32 = new Set(['int32', 'sint32', 'sfixed32']);
const UINT32 = new Set(['uint32', 'fixed32']);
const INT64 = new Set(['int64', 'sint64', 'sfixed64', 'uint64', 'fixed64']);

/**
 * Protobuf values: protobufjs encodes and decodes. Values are checked first, field by field, so a
 * wrong value is refused with its path instead of being coerced or dropped (protobufjs's fromObject
 * ignores unknown fields and its verify rejects enum names). Both the JSON mapping (enum names, 64-bit
 * integers as strings, bytes as base64) and plain objects are accepted.
 */
export function protobufCodec(schema: ProtobufSchema): SchemaCodec {
  // Message types, their indexes and the decode side are looked up once per message name.
  const types = new Map<string | undefined, { type: protobuf.Type; indexes: number[] }>();
  const typeOf = (message: string | undefined) => {
    let found = types.get(message);
    if (!found) {
      const name = message ?? schema.firstMessage();
      const pkg = schema.file.package;
      for (const candidate of [name, pkg ? `${pkg}.${name}` : name]) {
        try {
          const type = schema.lookup(candidate.replace(/^\./, ''));
          found = { type, indexes: schema.indexesOf(type.fullName.slice(1)) };
          break;
        } catch {}
      }
      if (!found) throw new RecordInvalidError(`The schema has no message ${JSON.stringify(name)}`, '$');
      types.set(message, found);
    }
    return found;
  };
  const decoders = new Map<string, { name: string; type: protobuf.Type } | null>();
  const decoderAt = (indexes: readonly number[]) => {
    const key = indexes.join('.');
    if (!decoders.has(key)) {
      const name = schema.messageAt(indexes);
      decoders.set(key, name ? { name, type: schema.lookup(name) } : null);
    }
    return decoders.get(key)!;
  };
  const fromJson = (json: unknown, options?: { message?: string }) => {
    const { type } = typeOf(options?.message);
    check(type, json, '$');
    return type.fromObject(json as Record<string, unknown>);
  };
  return {
    encode(value, options) {
      const { type, indexes } = typeOf(options?.message);
      const message = value instanceof protobuf.Message ? value : fromJson(value, options);
      return { payload: Buffer.from(type.encode(message).finish()), indexes };
    },
    decode(payload, indexes = [0]) {
      const decoder = decoderAt(indexes);
      if (!decoder)
        throw new RecordInvalidError(
          `Message indexes ${JSON.stringify(indexes)} point to no message of the schema`,
          '$',
        );
      try {
        return decoder.type.toObject(decoder.type.decode(payload), TO_OBJECT);
      } catch (error) {
        throw new RecordInvalidError(
          `$ does not decode as ${decoder.name}: ${(error as Error).message}`,
          '$',
          error,
        );
      }
    },
    fromJson,
  };
}

const TO_OBJECT: protobuf.IConversionOptions = {
  longs: String,
  enums: String,
  bytes: String,
  defaults: true,
};

/** Fields by name and by JSON name, per message type, built on first use. */
const fieldsByName = new WeakMap<protobuf.Type, Map<string, protobuf.Field>>();
function fieldNamed(type: protobuf.Type, key: string): protobuf.Field | undefined {
  let fields = fieldsByName.get(type);
  if (!fields) {
    fields = new Map();
    for (const f of type.fieldsArray) {
      fields.set(f.options?.json_name ?? camel(f.name), f);
      fields.set(f.name, f);
    }
    fieldsByName.set(type, fields);
  }
  return fields.get(key);
}

function check(type: protobuf.Type, value: unknown, path: string): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new RecordInvalidError(`${path} must be an object for message ${type.name}`, path);
  for (const key in value) {
    const v = (value as Record<string, unknown>)[key];
    const field = fieldNamed(type, key);
    if (!field)
      throw new RecordInvalidError(`${path}.${key} is not a field of message ${type.name}`, `${path}.${key}`);
    if (v === null || v === undefined) continue;
    if (field instanceof protobuf.MapField) {
      const at = `${path}.${key}`;
      if (typeof v !== 'object' || Array.isArray(v))
        throw new RecordInvalidError(`${at} must be an object (a map)`, at);
      for (const [k, x] of Object.entries(v)) checkValue(field, x, at, k);
    } else if (field.repeated) {
      const at = `${path}.${key}`;
      if (!Array.isArray(v)) throw new RecordInvalidError(`${at} must be an array`, at);
      for (let i = 0; i < v.length; i++) checkValue(field, v[i], at, i);
    } else checkValue(field, v, path, key);
  }
}

/** The value of one field at `${parent}.${key}` (`[key]` for a list item); the path is built only when needed. */
function checkValue(field: protobuf.Field, v: unknown, parent: string, key: string | number): void {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) {
    check(resolved, v, pathOf(parent, key));
    return;
  }
  const expected =
    resolved instanceof protobuf.Enum
      ? (typeof v === 'string' ? v in resolved.values : Number.isInteger(v))
        ? null
        : `one of ${Object.keys(resolved.values).join(', ')}`
      : scalarOk(field.type, v)
        ? null
        : `a ${field.type}`;
  if (expected) {
    const at = pathOf(parent, key);
    throw new RecordInvalidError(`${at} is ${JSON.stringify(v)?.slice(0, 60)}, not ${expected}`, at);
  }
}

function scalarOk(t: string, v: unknown): boolean {
  const integer = (min: number, max: number) => {
    const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
    return typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max;
  };
  if (INT32.has(t)) return integer(-(2 ** 31), 2 ** 31 - 1);
  if (UINT32.has(t)) return integer(0, 2 ** 32 - 1);
  if (INT64.has(t)) {
    const unsigned = t.startsWith('u') || t.startsWith('fixed');
    if (unsigned && String(v).startsWith('-')) return false;
    return (
      (typeof v === 'number' && Number.isSafeInteger(v)) ||
      (typeof v === 'string' && /^-?\d{1,20}$/.test(v)) ||
      typeof v === 'bigint' ||
      (typeof v === 'object' && v !== null && 'low' in v && 'high' in v)
    );
  }
  if (t === 'double' || t === 'float')
    return typeof v === 'number' || ['NaN', 'Infinity', '-Infinity'].includes(v as string);
  if (t === 'bool') return typeof v === 'boolean';
  if (t === 'string') return typeof v === 'string';
  if (t === 'bytes') return typeof v === 'string' || v instanceof Uint8Array;
  return true;
}

const pathOf = (parent: string, key: string | number) =>
  typeof key === 'number' ? `${parent}[${key}]` : `${parent}.${key}`;

const camel = (name: string) => name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
