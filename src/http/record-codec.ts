import type { ConsumedRecord } from '../core/index.ts';
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
 * A record as the REST Proxy returns it. In the `json` format, bytes that are not JSON (written by
 * another client, or in a schema's wire format) come back base64-encoded, flagged by
 * `key_encoding`/`value_encoding: "base64"`, instead of failing the whole fetch.
 */
export function decodeRecord(record: ConsumedRecord, format: EmbeddedFormat): Record<string, unknown> {
  const out: Record<string, unknown> = {
    topic: record.topic,
    key: null,
    value: null,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
  };
  decodeField(out, 'key', record.key, format);
  decodeField(out, 'value', record.value, format);
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
): void {
  if (bytes === null) return;
  if (format === 'json') {
    try {
      out[name] = JSON.parse(bytes.toString('utf8'));
      return;
    } catch {
      out[`${name}_encoding`] = 'base64';
    }
  }
  out[name] = bytes.toString('base64');
}
