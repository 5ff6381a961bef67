import { QueryInvalidError } from '../view-errors.ts';

/**
 * Values in PostgreSQL's binary format, for the drivers that ask for it: JDBC sends `setInt` and
 * `setLong` parameters in binary and reads results in binary once a statement is prepared on the
 * server, and pgx (Grafana's driver) reads binary results for every type it knows. Written by hand:
 * no maintained library serializes the server side of the protocol (pg-protocol and pg-types parse
 * what a server sends). https://www.postgresql.org/docs/current/protocol-overview.html#PROTOCOL-FORMAT-CODES
 */

/** Microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01 (UTC). */
const PG_EPOCH_MICROS = 946_684_800_000_000n;
const MICROS_PER_DAY = 86_400_000_000n;

/** Types whose binary form is their UTF-8 text. */
const TEXT_LIKE = new Set([0, 18, 19, 25, 114, 705, 1042, 1043]);

/** How one type reads from and writes to binary; `size` when its binary form has a fixed length. */
interface Codec {
  size?: number;
  read(bytes: Buffer, position: number): string;
  write(text: string): Buffer;
}

const CODECS: Record<number, Codec> = {
  16: {
    size: 1,
    read: (b) => (b[0] ? 'true' : 'false'),
    write: (t) => Buffer.from([t === 't' || t === 'true' ? 1 : 0]),
  },
  21: {
    size: 2,
    read: (b) => String(b.readInt16BE(0)),
    write: (t) => fixed(2, (b) => b.writeInt16BE(Number(t), 0)),
  },
  23: {
    size: 4,
    read: (b) => String(b.readInt32BE(0)),
    write: (t) => fixed(4, (b) => b.writeInt32BE(Number(t), 0)),
  },
  26: {
    size: 4,
    read: (b) => String(b.readUInt32BE(0)),
    write: (t) => fixed(4, (b) => b.writeUInt32BE(Number(t), 0)),
  },
  20: {
    size: 8,
    read: (b) => String(b.readBigInt64BE(0)),
    write: (t) => fixed(8, (b) => b.writeBigInt64BE(BigInt(t), 0)),
  },
  700: {
    size: 4,
    read: (b) => floatText(b.readFloatBE(0)),
    write: (t) => fixed(4, (b) => b.writeFloatBE(Number(t), 0)),
  },
  701: {
    size: 8,
    read: (b) => floatText(b.readDoubleBE(0)),
    write: (t) => fixed(8, (b) => b.writeDoubleBE(Number(t), 0)),
  },
  1700: { read: numericFromBinary, write: numericToBinary },
  1082: {
    size: 4,
    read: (b) => dateText(b.readInt32BE(0)),
    write: (t) => fixed(4, (b) => b.writeInt32BE(Number(micros(t) / MICROS_PER_DAY), 0)),
  },
  1114: {
    size: 8,
    read: (b) => timestampText(b.readBigInt64BE(0), false),
    write: (t) => fixed(8, (b) => b.writeBigInt64BE(micros(t), 0)),
  },
  1184: {
    size: 8,
    read: (b) => timestampText(b.readBigInt64BE(0), true),
    write: (t) => fixed(8, (b) => b.writeBigInt64BE(micros(t), 0)),
  },
  2950: { size: 16, read: uuidText, write: (t) => Buffer.from(t.replaceAll('-', ''), 'hex') },
  // A version byte (1), then the JSON text.
  3802: {
    read: (b) => b.subarray(1).toString('utf8'),
    write: (t) => Buffer.concat([Buffer.from([1]), Buffer.from(t, 'utf8')]),
  },
  17: { read: (b) => `\\x${b.toString('hex')}`, write: (t) => Buffer.from(t.replace(/^\\x/, ''), 'hex') },
};

/** A parameter sent in binary, as the text DuckDB or PostgreSQL casts to the parameter's type. */
export function paramFromBinary(bytes: Buffer, oid: number, position: number): string {
  if (TEXT_LIKE.has(oid)) return bytes.toString('utf8');
  const codec = CODECS[oid];
  if (!codec)
    throw new QueryInvalidError(
      `Parameter $${position} is in binary format with a type (OID ${oid}) Kappa cannot read in binary: send it as text`,
    );
  if (codec.size !== undefined && bytes.length !== codec.size)
    throw new QueryInvalidError(
      `Parameter $${position} of type ${oid} has ${bytes.length} bytes in binary, not ${codec.size}`,
    );
  return codec.read(bytes, position);
}

/** A result value (in text format, as `textOf` gives it) in binary format for its column's type. */
export function binaryOf(text: string, oid: number): Buffer {
  const codec = TEXT_LIKE.has(oid) ? undefined : CODECS[oid];
  return codec ? codec.write(text) : Buffer.from(text, 'utf8');
}

function fixed(size: number, write: (b: Buffer) => void): Buffer {
  const b = Buffer.alloc(size);
  write(b);
  return b;
}

function floatText(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return 'Infinity';
  if (v === Number.NEGATIVE_INFINITY) return '-Infinity';
  return String(v);
}

/** `YYYY-MM-DD[ HH:MM:SS[.ffffff]][+00]` (UTC) → microseconds since PostgreSQL's epoch. */
function micros(text: string): bigint {
  const m = /^(-?\d{4,})-(\d\d)-(\d\d)(?:[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?)?/.exec(text);
  if (!m) throw new QueryInvalidError(`'${text}' is not a timestamp Kappa can send in binary`);
  const ms = Date.UTC(
    Number(m[1]),
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4] ?? 0),
    Number(m[5] ?? 0),
    Number(m[6] ?? 0),
  );
  const fraction = BigInt((m[7] ?? '').padEnd(6, '0'));
  return BigInt(ms) * 1000n + fraction - PG_EPOCH_MICROS;
}

function timestampText(value: bigint, zoned: boolean): string {
  const total = value + PG_EPOCH_MICROS;
  const fraction = ((total % 1_000_000n) + 1_000_000n) % 1_000_000n;
  const seconds = (total - fraction) / 1_000_000n;
  const iso = new Date(Number(seconds) * 1000).toISOString().slice(0, 19).replace('T', ' ');
  return `${iso}.${String(fraction).padStart(6, '0')}${zoned ? '+00' : ''}`;
}

function dateText(days: number): string {
  return new Date(Number((BigInt(days) * MICROS_PER_DAY + PG_EPOCH_MICROS) / 1000n))
    .toISOString()
    .slice(0, 10);
}

function uuidText(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** NUMERIC's binary form: digit count, weight, sign and display scale, then base-10000 digits. */
function numericToBinary(text: string): Buffer {
  if (text === 'NaN') return Buffer.from([0, 0, 0, 0, 0xc0, 0, 0, 0]);
  const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(text);
  if (!m) throw new QueryInvalidError(`'${text}' is not a number Kappa can send as NUMERIC in binary`);
  const negative = m[1] === '-';
  const whole = m[2]!.replace(/^0+/, '');
  const fraction = m[3] ?? '';
  const wholePadded = whole.padStart(Math.ceil(whole.length / 4) * 4, '0');
  const fractionPadded = fraction.padEnd(Math.ceil(fraction.length / 4) * 4, '0');
  const groups = `${wholePadded}${fractionPadded}`.match(/.{4}/g)?.map(Number) ?? [];
  let weight = wholePadded.length / 4 - 1;
  while (groups.length > 0 && groups[0] === 0) {
    groups.shift();
    weight--;
  }
  while (groups.length > 0 && groups[groups.length - 1] === 0) groups.pop();
  if (groups.length === 0) weight = 0;
  const b = Buffer.alloc(8 + groups.length * 2);
  b.writeInt16BE(groups.length, 0);
  b.writeInt16BE(weight, 2);
  b.writeUInt16BE(negative && groups.length > 0 ? 0x4000 : 0, 4);
  b.writeInt16BE(fraction.length, 6);
  for (const [i, g] of groups.entries()) b.writeInt16BE(g, 8 + i * 2);
  return b;
}

function numericFromBinary(b: Buffer, position: number): string {
  if (b.length < 8 || b.length !== 8 + b.readInt16BE(0) * 2)
    throw new QueryInvalidError(`Parameter $${position} is not a NUMERIC in binary format`);
  const count = b.readInt16BE(0);
  const weight = b.readInt16BE(2);
  const sign = b.readUInt16BE(4);
  const scale = b.readInt16BE(6);
  if (sign === 0xc000) return 'NaN';
  const groups = Array.from({ length: count }, (_, i) => String(b.readInt16BE(8 + i * 2)).padStart(4, '0'));
  // Digits before the point: the groups up to the weight (padded with zero groups past the last).
  const wholeGroups = Array.from({ length: Math.max(0, weight + 1) }, (_, i) => groups[i] ?? '0000');
  const fractionGroups = [
    ...Array.from({ length: Math.max(0, -weight - 1) }, () => '0000'),
    ...groups.slice(Math.max(0, weight + 1)),
  ];
  const whole = wholeGroups.join('').replace(/^0+(?=\d)/, '') || '0';
  const fraction = fractionGroups.join('').padEnd(scale, '0').slice(0, scale);
  return `${sign === 0x4000 ? '-' : ''}${whole}${scale > 0 ? `.${fraction}` : ''}`;
}
