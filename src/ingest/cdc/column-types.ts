import postgresArray from 'postgres-array';
import { CdcRowError } from './cdc-errors.ts';

/**
 * PostgreSQL column types as Debezium's Postgres connector maps them, with the settings Kappa
 * documents (docs/ingest.md): time.precision.mode=adaptive, decimal.handling.mode=string (numeric
 * keeps every digit, NaN too), interval.handling.mode=string (ISO 8601), binary.handling.mode=bytes.
 * Values come in their text form (pgoutput's, and the snapshot's: both connections set the same
 * DateStyle, TimeZone, IntervalStyle and bytea_output, see SESSION_SETTINGS).
 */

/** Session settings both the snapshot and the replication connection run with, so text forms agree. */
export const SESSION_SETTINGS =
  '-c DateStyle=ISO,YMD -c TimeZone=UTC -c IntervalStyle=iso_8601 -c bytea_output=hex -c extra_float_digits=3';

/** What pg_type says about a column's type, with domains resolved to their base type. */
export interface PgType {
  oid: number;
  /** Schema-qualified when not in pg_catalog, as format_type writes it. */
  name: string;
  /** pg_type.typtype: b(ase), e(num), c(omposite), r(ange), m(ultirange), p(seudo), d(omain). */
  kind: string;
  /** For arrays, the element type. */
  element: PgType | null;
}

/** An Avro type (of a non-null value) and how a column's text becomes a value of it. */
export interface ColumnCodec {
  avro: unknown;
  parse(text: string): unknown;
  /** The key's JSON form of a parsed value (bytes as base64, as Kafka Connect's JsonConverter writes them). */
  json?(value: unknown): unknown;
}

export type ColumnMapping = ColumnCodec | { unsupported: string };

const int = (text: string) => Number.parseInt(text, 10);
const long = (text: string) => {
  const n = Number(text);
  if (!Number.isSafeInteger(n))
    throw new CdcRowError(
      `${text} is beyond ±2^53, which a JavaScript number (an Avro long in avsc) cannot hold`,
    );
  return n;
};
const float = (text: string) =>
  text === 'Infinity' ? Infinity : text === '-Infinity' ? -Infinity : Number(text);
const text = (t: string) => t;
const logical = (type: string, name: string, extra: Record<string, unknown> = {}) => ({
  type,
  'connect.name': name,
  ...extra,
});

const STRING: ColumnCodec = { avro: 'string', parse: text };
const named = (name: string): ColumnCodec => ({ avro: logical('string', name), parse: text });

/** By pg_type name (format_type's, without type modifiers). */
const BASE: Record<string, (typeMod: number) => ColumnCodec> = {
  boolean: () => ({ avro: 'boolean', parse: (t) => t === 't' }),
  smallint: () => ({ avro: logical('int', 'int16'), parse: int }),
  integer: () => ({ avro: 'int', parse: int }),
  bigint: () => ({ avro: 'long', parse: long }),
  oid: () => ({ avro: 'long', parse: long }),
  real: () => ({ avro: 'float', parse: float }),
  'double precision': () => ({ avro: 'double', parse: float }),
  numeric: () => STRING,
  money: () => STRING,
  text: () => STRING,
  'character varying': () => STRING,
  character: () => STRING,
  name: () => STRING,
  citext: () => STRING,
  '"char"': () => STRING,
  xml: () => named('io.debezium.data.Xml'),
  json: () => named('io.debezium.data.Json'),
  jsonb: () => named('io.debezium.data.Json'),
  uuid: () => named('io.debezium.data.Uuid'),
  inet: () => STRING,
  cidr: () => STRING,
  macaddr: () => STRING,
  macaddr8: () => STRING,
  bit: () => STRING,
  'bit varying': () => STRING,
  ltree: () => named('io.debezium.data.Ltree'),
  interval: () => ({ avro: logical('string', 'io.debezium.time.Interval'), parse: debeziumInterval }),
  bytea: () => ({
    avro: 'bytes',
    parse: (t) => Buffer.from(t.slice(2), 'hex'),
    json: (v) => (v as Buffer).toString('base64'),
  }),
  date: () => ({ avro: logical('int', 'io.debezium.time.Date'), parse: epochDays }),
  // adaptive: up to millisecond precision in milliseconds, else microseconds.
  'timestamp without time zone': (mod) =>
    mod >= 0 && mod <= 3
      ? {
          avro: logical('long', 'io.debezium.time.Timestamp'),
          parse: (t) => Math.floor(epochMicros(t) / 1000),
        }
      : { avro: logical('long', 'io.debezium.time.MicroTimestamp'), parse: epochMicros },
  'timestamp with time zone': (mod) => zoned('ZonedTimestamp', (t) => isoTimestamp(t, fractionDigits(mod))),
  'time without time zone': (mod) =>
    mod >= 0 && mod <= 3
      ? { avro: logical('int', 'io.debezium.time.Time'), parse: (t) => Math.floor(dayMicros(t) / 1000) }
      : { avro: logical('long', 'io.debezium.time.MicroTime'), parse: dayMicros },
  'time with time zone': () => zoned('ZonedTime', utcTime),
};

function zoned(name: string, parse: (t: string) => string): ColumnCodec {
  return { avro: logical('string', `io.debezium.time.${name}`), parse };
}

/** How a column of this type is captured, or why it cannot be. */
export function columnMapping(type: PgType, typeMod: number): ColumnMapping {
  if (type.element) {
    const element = columnMapping(type.element, typeMod);
    if ('unsupported' in element) return { unsupported: `${type.name} (arrays of ${element.unsupported})` };
    return {
      avro: { type: 'array', items: ['null', element.avro] },
      parse: (t) => {
        const values = postgresArray.parse(t, (item) => element.parse(item));
        if (values.some(Array.isArray))
          throw new CdcRowError(`a multi-dimensional ${type.name} value, which Kappa does not capture`);
        return values;
      },
    };
  }
  if (type.kind === 'e') return named('io.debezium.data.Enum');
  if (type.kind === 'r' || type.kind === 'm') return STRING;
  const base = BASE[type.name];
  return base ? base(typeMod) : { unsupported: type.name };
}

/** `YYYY-MM-DD[ BC]` (DateStyle ISO) as days since 1970-01-01; ±infinity as the int range's ends. */
function epochDays(t: string): number {
  if (t === 'infinity') return 2 ** 31 - 1;
  if (t === '-infinity') return -(2 ** 31);
  return Math.floor(utcMillis(t, '00:00:00') / 86_400_000);
}

/** `YYYY-MM-DD hh:mm:ss[.ffffff][ BC]` as microseconds since the epoch; ±infinity as the long range's safe ends. */
function epochMicros(t: string): number {
  if (t === 'infinity') return Number.MAX_SAFE_INTEGER;
  if (t === '-infinity') return Number.MIN_SAFE_INTEGER;
  const [date, time] = t.split(' ') as [string, string];
  const [whole, fraction = ''] = time.split('.') as [string, string?];
  const micros = Number((fraction + '000000').slice(0, 6));
  return utcMillis(t.endsWith(' BC') ? `${date} BC` : date, whole) * 1000 + micros;
}

function utcMillis(date: string, time: string): number {
  const bc = date.endsWith(' BC');
  const [y, m, d] = date.replace(' BC', '').split('-').map(Number) as [number, number, number];
  const [hh, mm, ss] = time.split(':').map(Number) as [number, number, number];
  const at = new Date(0);
  at.setUTCFullYear(bc ? 1 - y : y, m - 1, d);
  at.setUTCHours(hh, mm, ss, 0);
  return at.getTime();
}

/** `hh:mm:ss[.ffffff]` as microseconds since midnight. */
function dayMicros(t: string): number {
  const [whole, fraction = ''] = t.split('.') as [string, string?];
  const [hh, mm, ss] = whole.split(':').map(Number) as [number, number, number];
  return ((hh * 60 + mm) * 60 + ss) * 1_000_000 + Number((fraction + '000000').slice(0, 6));
}

/** Fraction digits Debezium writes: the column's precision, or 6 when it has none. */
const fractionDigits = (typeMod: number) => (typeMod >= 0 && typeMod <= 6 ? typeMod : 6);

/**
 * `YYYY-MM-DD hh:mm:ss[.f]+00` (TimeZone=UTC) as ISO 8601 as Debezium writes it:
 * `YYYY-MM-DDThh:mm:ss.ffffffZ`, the fraction as wide as the column's precision.
 */
function isoTimestamp(t: string, digits: number): string {
  if (t === 'infinity' || t === '-infinity') return t;
  const bc = t.endsWith(' BC');
  const [date, time] = t.replace(' BC', '').split(' ') as [string, string];
  const iso = `${date}T${isoZone(time, digits)}`;
  return bc ? `-${iso}` : iso;
}

/** `hh:mm:ss[.f]±hh[:mm]`: the fraction `digits` wide, a zone of +00 as `Z`, others as `±hh:mm`. */
function isoZone(time: string, digits: number): string {
  const m = /^(\d\d:\d\d:\d\d)(?:\.(\d+))?([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?$/.exec(time);
  if (!m) return time;
  const [, clock, fraction = '', sign, hh, mm = '00'] = m;
  const f = digits === 0 ? '' : `.${fraction.padEnd(digits, '0').slice(0, digits)}`;
  return hh === '00' && mm === '00' ? `${clock}${f}Z` : `${clock}${f}${sign}${hh}:${mm}`;
}

/** `hh:mm:ss[.f]±hh[:mm[:ss]]` moved to UTC, `hh:mm:ss[.f]Z`, as Debezium writes a ZonedTime. */
function utcTime(t: string): string {
  const m = /^(\d\d):(\d\d):(\d\d)(\.\d+)?([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?$/.exec(t);
  if (!m) return t;
  const [, hh, mm, ss, fraction = '', sign, oh, om = '0', os = '0'] = m;
  const offset = (Number(oh) * 3600 + Number(om) * 60 + Number(os)) * (sign === '-' ? -1 : 1);
  const day = 86_400;
  const at = (((Number(hh) * 3600 + Number(mm) * 60 + Number(ss) - offset) % day) + day) % day;
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(Math.floor(at / 3600))}:${two(Math.floor(at / 60) % 60)}:${two(at % 60)}${fraction}Z`;
}

/**
 * PostgreSQL's ISO 8601 interval (IntervalStyle=iso_8601: `P1Y2M3DT4H5M6.5S`, fields left out
 * when zero, each with its own sign) in Debezium's string form, every field written:
 * `P1Y2M3DT4H5M6.5S`, `P0Y0M1DT2H0M0S`.
 */
function debeziumInterval(t: string): string {
  const m = /^P(?:(-?\d+)Y)?(?:(-?\d+)M)?(?:(-?\d+)D)?(?:T(?:(-?\d+)H)?(?:(-?\d+)M)?(?:(-?[\d.]+)S)?)?$/.exec(
    t,
  );
  if (!m) throw new CdcRowError(`interval ${t} is not in ISO 8601 form`);
  const [, y = '0', mo = '0', d = '0', h = '0', mi = '0', s = '0'] = m;
  const seconds = s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
  return `P${y}Y${mo}M${d}DT${h}H${mi}M${seconds}S`;
}
