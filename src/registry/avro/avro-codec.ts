import type { Type } from 'avsc';
import { RecordInvalidError } from '../errors.ts';
import type { SchemaCodec } from '../schema.ts';

/**
 * Avro values: avsc encodes and decodes; its error hook says which field is wrong. avsc's writers
 * check every value's type as they write, so the error hook runs only once a write has failed.
 */
export function avroCodec(type: Type): SchemaCodec {
  return {
    encode(value) {
      try {
        // Into a reused buffer and copied out: avsc's own toBuffer zero-fills what it hands out.
        const end = type.encode(value, scratch);
        if (end >= 0) return { payload: Buffer.from(scratch.subarray(0, end)) };
        return { payload: type.toBuffer(value) };
      } catch (error) {
        check(type, value);
        throw new RecordInvalidError(`$ cannot be encoded: ${(error as Error).message}`, '$', error);
      }
    },
    decode(payload) {
      try {
        const bytes = Buffer.isBuffer(payload)
          ? payload
          : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
        return type.fromBuffer(bytes);
      } catch (error) {
        throw new RecordInvalidError(
          `$ does not decode with its Avro schema: ${(error as Error).message}`,
          '$',
          error,
        );
      }
    },
    fromJson(json) {
      try {
        return type.fromString(JSON.stringify(json));
      } catch (error) {
        // Say where: avsc's message names the type, not the field.
        check(type, json, (t, v) => !(typeof v === 'string' && ['bytes', 'fixed'].includes(t.typeName)));
        throw new RecordInvalidError(
          `$ is not Avro JSON for the schema: ${(error as Error).message}`,
          '$',
          error,
        );
      }
    },
  };
}

const scratch = Buffer.allocUnsafe(64 * 1024);

function check(type: Type, value: unknown, counts: (t: Type, v: unknown) => boolean = () => true): void {
  let first: { path: string[]; value: unknown; type: Type } | undefined;
  type.isValid(value, {
    errorHook: (path: string[], v: unknown, t: Type) => {
      if (!first && counts(t, v)) first = { path, value: v, type: t };
    },
  });
  if (!first) return;
  const where = `$${first.path.map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`)).join('')}`;
  const shown = JSON.stringify(first.value)?.slice(0, 60) ?? String(first.value);
  throw new RecordInvalidError(`${where} is ${shown}, not a valid ${describe(first.type)}`, where);
}

function describe(type: Type): string {
  const name = type.typeName;
  if (name.startsWith('union')) return `value of ${JSON.stringify(type.schema())}`;
  return type.name ? `${name} ${type.name}` : name;
}
