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
  const typeOf = (message: string | undefined): protobuf.Type => {
    const name = message ?? schema.firstMessage();
    const pkg = schema.file.package;
    for (const candidate of [name, pkg ? `${pkg}.${name}` : name])
      try {
        return schema.lookup(candidate.replace(/^\./, ''));
      } catch {}
    throw new RecordInvalidError(`The schema has no message ${JSON.stringify(name)}`, '$');
  };
  const fromJson = (json: unknown, options?: { message?: string }) => {
    const type = typeOf(options?.message);
    check(type, json, '$');
    return type.fromObject(json as Record<string, unknown>);
  };
  return {
    encode(value, options) {
      const type = typeOf(options?.message);
      const message = value instanceof protobuf.Message ? value : fromJson(value, options);
      const payload = Buffer.from(type.encode(message).finish());
      return { payload, indexes: schema.indexesOf(type.fullName.slice(1)) };
    },
    decode(payload, indexes = [0]) {
      const name = schema.messageAt(indexes);
      if (!name)
        throw new RecordInvalidError(
          `Message indexes ${JSON.stringify(indexes)} point to no message of the schema`,
          '$',
        );
      try {
        const type = schema.lookup(name);
        return type.toObject(type.decode(payload), {
          longs: String,
          enums: String,
          bytes: String,
          defaults: true,
        });
      } catch (error) {
        throw new RecordInvalidError(`$ does not decode as ${name}: ${(error as Error).message}`, '$', error);
      }
    },
    fromJson,
  };
}

function check(type: protobuf.Type, value: unknown, path: string): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new RecordInvalidError(`${path} must be an object for message ${type.name}`, path);
  const byJsonName = new Map(type.fieldsArray.map((f) => [f.options?.json_name ?? camel(f.name), f]));
  for (const [key, v] of Object.entries(value)) {
    const field = type.fields[key] ?? byJsonName.get(key);
    const at = `${path}.${key}`;
    if (!field) throw new RecordInvalidError(`${at} is not a field of message ${type.name}`, at);
    if (v === null || v === undefined) continue;
    field.resolve();
    if (field instanceof protobuf.MapField) {
      if (typeof v !== 'object' || Array.isArray(v))
        throw new RecordInvalidError(`${at} must be an object (a map)`, at);
      for (const [k, x] of Object.entries(v)) checkValue(field, x, `${at}.${k}`);
    } else if (field.repeated) {
      if (!Array.isArray(v)) throw new RecordInvalidError(`${at} must be an array`, at);
      for (const [i, x] of v.entries()) checkValue(field, x, `${at}[${i}]`);
    } else checkValue(field, v, at);
  }
}

function checkValue(field: protobuf.Field, v: unknown, at: string): void {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) {
    check(resolved, v, at);
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
  if (expected)
    throw new RecordInvalidError(`${at} is ${JSON.stringify(v)?.slice(0, 60)}, not ${expected}`, at);
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

const camel = (name: string) => name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
