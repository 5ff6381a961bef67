/** The OID of a result column's type, from the type name a view store gives (DuckDB's or PostgreSQL's). */
export function oidOf(type: string): number {
  const t = type.toUpperCase();
  if (t === 'BIGINT' || t === 'INT8') return 20;
  if (t === 'INTEGER' || t === 'INT4' || t === 'UINTEGER' || t === 'USMALLINT') return 23;
  if (t === 'SMALLINT' || t === 'TINYINT' || t === 'UTINYINT' || t === 'INT2') return 21;
  if (t === 'DOUBLE' || t === 'DOUBLE PRECISION' || t === 'FLOAT8') return 701;
  if (t === 'FLOAT' || t === 'REAL' || t === 'FLOAT4') return 700;
  if (t.startsWith('DECIMAL') || t === 'NUMERIC' || t === 'HUGEINT' || t === 'UBIGINT') return 1700;
  if (t === 'BOOLEAN' || t === 'BOOL') return 16;
  if (t === 'TIMESTAMP WITH TIME ZONE' || t === 'TIMESTAMPTZ') return 1184;
  if (t.startsWith('TIMESTAMP')) return 1114;
  if (t === 'DATE') return 1082;
  if (t === 'JSON') return 114;
  if (t === 'JSONB') return 3802;
  if (t === 'UUID') return 2950;
  return 25; // text, for VARCHAR and anything else (lists, structs) sent as their text
}

/** A value in PostgreSQL's text format for its column's type. */
export function textOf(value: unknown, oid: number): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (typeof value === 'object') return JSON.stringify(value);
  const s = String(value);
  // ISO 8601 from the store; PostgreSQL writes a space, and an offset for timestamptz.
  if ((oid === 1114 || oid === 1184) && /^\d{4}-\d\d-\d\dT/.test(s)) {
    const t = s.replace('T', ' ').replace(/Z$/, '');
    return oid === 1184 ? `${t}+00` : t;
  }
  return s;
}
