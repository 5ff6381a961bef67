import type { ConsumedRecord } from '../core/index.ts';
import { HEADER_BYTES, MAGIC_BYTE, type WireSerde } from '../registry/index.ts';
import type { EmbeddedFormat } from './content-types.ts';
import { RequestError } from './errors.ts';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A key or value from a produce request, as bytes: JSON text for `json`, base64-decoded for `binary`. */
export function encodeField(value: unknown, format: EmbeddedFormat, what: string): Buffer | null {
  if (value === undefined || value === null) return null;
  if (format === 'json') return Buffer.from(JSON.stringify(value), 'utf8'); // the body parser bounded its depth
  if (typeof value !== 'string' || value.length % 4 !== 0 || !BASE64.test(value)) {
    throw new RequestError(422, 42205, `${what} must be a base64 string in the binary format`);
  }
  return Buffer.from(value, 'base64');
}

/**
 * A record as the REST Proxy returns it. In the `json` format, a value in a schema's wire format
 * (Confluent's serializers, Kappa's CDC topics) is decoded with the registry's schema, its id in
 * `key_schema_id`/`value_schema_id` (bytes as base64); other bytes that are not JSON come back
 * base64-encoded, flagged by `key_encoding`/`value_encoding: "base64"`, instead of failing the fetch.
 */
export function decodeRecord(
  record: ConsumedRecord,
  format: EmbeddedFormat,
  serde?: WireSerde,
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    topic: record.topic,
    key: null,
    value: null,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
  };
  decodeField(out, 'key', record.key, format, serde);
  decodeField(out, 'value', record.value, format, serde);
  const names = Object.keys(record.headers);
  if (names.length > 0)
    out.headers = Object.fromEntries(names.map((n) => [n, record.headers[n]!.toString('base64')]));
  return out;
}

function decodeField(
  out: Record<string, unknown>,
  name: 'key' | 'value',
  bytes: Buffer | null,
  format: EmbeddedFormat,
  serde: WireSerde | undefined,
): void {
  if (bytes === null) return;
  if (format === 'json') {
    try {
      out[name] = JSON.parse(bytes.toString('utf8'));
      return;
    } catch {}
    // JSON text never starts with a zero byte: the wire format's magic byte does.
    if (serde && bytes.length > HEADER_BYTES && bytes[0] === MAGIC_BYTE) {
      try {
        const { schemaId, value } = serde.deserialize(bytes);
        out[name] = JSON.parse(JSON.stringify(value, bytesAsBase64));
        out[`${name}_schema_id`] = schemaId;
        return;
      } catch {}
    }
    out[`${name}_encoding`] = 'base64';
  }
  out[name] = bytes.toString('base64');
}

function bytesAsBase64(_key: string, v: unknown): unknown {
  const b = v as { type?: string; data?: number[] } | null;
  return b?.type === 'Buffer' && Array.isArray(b.data) ? Buffer.from(b.data).toString('base64') : v;
}
