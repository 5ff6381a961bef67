import type { ColumnType, ViewDefinition } from '../view-store.ts';
import type { PgField } from './pg-messages.ts';

/** A result the server answers itself, as the wire protocol sends it (text values). */
export interface CannedResult {
  fields: PgField[];
  rows: Array<Array<string | null>>;
}

const TEXT = 25;
const NAME = 19;
const OID = 26;
const BOOL = 16;
const INT2 = 21;
const INT4 = 23;

/** The version the server reports, as `server_version` and as `server_version_num`. */
export const SERVER_VERSION = '15.0 (Kappa)';
export const SERVER_VERSION_NUM = 150000;

/** Where views are in the catalogue these answers make up: one schema, OIDs from 16384 in name order. */
const SCHEMA = 'public';
const FIRST_OID = 16384;

const PG_TYPES: Record<ColumnType, string> = {
  integer: 'bigint',
  number: 'double precision',
  string: 'text',
  boolean: 'boolean',
  json: 'json',
};

function columnsOf(view: ViewDefinition): Array<{ name: string; type: string; notNull: boolean }> {
  return [
    { name: 'key', type: PG_TYPES[view.key], notNull: true },
    { name: 'window_start', type: 'timestamp without time zone', notNull: true },
    { name: 'window_end', type: 'timestamp without time zone', notNull: true },
    { name: 'kind', type: 'text', notNull: true },
    ...view.columns.map((c) => ({ name: c.name, type: PG_TYPES[c.type], notNull: false })),
  ];
}

/** The `'^(…)$'` psql sends for `\d NAME` (NAME may hold `*` and `?`, turned into a regex by psql). */
function namePattern(sql: string): RegExp | null {
  const m = /relname OPERATOR\(pg_catalog\.~\) '(\^\(.*?\)\$)'/.exec(sql);
  if (!m) return null;
  try {
    return new RegExp(m[1]!.replaceAll("''", "'"));
  } catch {
    return null;
  }
}

/**
 * The catalogue queries of `psql` (`\d`, `\d NAME`) and of Grafana's PostgreSQL data source (its
 * version check, table list and column list), answered from the views' definitions. Null when the
 * query is not one of them.
 */
export function catalogAnswer(sql: string, views: readonly ViewDefinition[]): CannedResult | null {
  const sorted = [...views].sort((a, b) => a.name.localeCompare(b.name));
  return psqlAnswer(sql, sorted) ?? grafanaAnswer(sql, sorted);
}

/**
 * What Grafana's data source asks (public/app/plugins/datasource/grafana-postgresql-datasource/
 * postgresMetaQuery.ts): DuckDB lacks `quote_ident`, `parse_ident`, `array_lower` and the
 * `server_version_num` setting those queries use.
 */
function grafanaAnswer(sql: string, views: readonly ViewDefinition[]): CannedResult | null {
  if (/current_setting\('server_version_num'\)::int\s*\/\s*100\s+as\s+version/i.test(sql))
    return { fields: [{ name: 'version', oid: INT4 }], rows: [[String(SERVER_VERSION_NUM / 100)]] };
  if (/\bfrom\s+pg_extension\b/i.test(sql)) return { fields: [{ name: 'extversion', oid: TEXT }], rows: [] };
  if (/\bfrom\s+information_schema\.schemata\b/i.test(sql))
    return { fields: [{ name: 'name', oid: NAME }], rows: [[SCHEMA]] };
  if (/\bfrom\s+information_schema\.tables\b/i.test(sql) && /quote_ident\(table_name\)/i.test(sql)) {
    const schema = /quote_ident\(table_schema\)\s*=\s*'((?:[^']|'')*)'/i.exec(sql)?.[1];
    const rows = schema === undefined || schema === SCHEMA ? views.map((v) => [v.name]) : [];
    return { fields: [{ name: 'table', oid: TEXT }], rows };
  }
  const table = /\bfrom\s+information_schema\.columns\b[\s\S]*parse_ident\('((?:[^']|'')*)'\)/i.exec(
    sql,
  )?.[1];
  if (table !== undefined) {
    const parts = table
      .replaceAll("''", "'")
      .split('.')
      .map((p) => p.replace(/^"(.*)"$/, '$1'));
    const name = parts.length === 2 && parts[0] === SCHEMA ? parts[1] : parts.length === 1 ? parts[0] : null;
    const view = views.find((v) => v.name === name);
    return {
      fields: [
        { name: 'column', oid: TEXT },
        { name: 'type', oid: TEXT },
      ],
      rows: view ? columnsOf(view).map((c) => [c.name, c.type]) : [],
    };
  }
  return null;
}

/**
 * The catalogue queries `psql` sends for `\d` and `\d NAME`:
 * DuckDB's own `pg_catalog` lacks the functions and operators those queries use
 * (`pg_get_userbyid`, `OPERATOR(pg_catalog.~)`, `pg_table_is_visible`). Any other query of
 * `pg_catalog` (indexes, constraints, policies, publications that `\d NAME` asks about) gets an
 * empty answer: views have none. Null when the query is not a catalogue query.
 */
function psqlAnswer(sql: string, sorted: readonly ViewDefinition[]): CannedResult | null {
  if (!/\bpg_catalog\./i.test(sql)) return null;
  const oidOf = (view: ViewDefinition) => String(FIRST_OID + sorted.indexOf(view));
  const byOid = (oid: string) => sorted.find((v) => oidOf(v) === oid);
  const pattern = namePattern(sql);
  const matching = sorted.filter((v) => pattern === null || pattern.test(v.name));

  // \d and \dt: the list of relations.
  if (/"Schema"/.test(sql) && /"Name"/.test(sql) && /pg_catalog\.pg_class/.test(sql))
    return {
      fields: [
        { name: 'Schema', oid: NAME },
        { name: 'Name', oid: NAME },
        { name: 'Type', oid: TEXT },
        { name: 'Owner', oid: NAME },
      ],
      rows: /'r'/.test(sql) ? matching.map((v) => [SCHEMA, v.name, 'table', 'kappa']) : [],
    };
  // \d NAME, first: which relations the name means.
  if (/SELECT c\.oid,\s*n\.nspname,\s*c\.relname/.test(sql))
    return {
      fields: [
        { name: 'oid', oid: OID },
        { name: 'nspname', oid: NAME },
        { name: 'relname', oid: NAME },
      ],
      rows: matching.map((v) => [oidOf(v), SCHEMA, v.name]),
    };
  const oid = /\.oid = '(\d+)'/.exec(sql)?.[1] ?? /attrelid = '(\d+)'/.exec(sql)?.[1];
  const view = oid === undefined ? undefined : byOid(oid);
  // \d NAME, then: the relation's kind and flags (psql 12 and later ask for these 15 columns).
  if (view && /c\.relchecks, c\.relkind/.test(sql)) {
    const names = [
      'relchecks',
      'relkind',
      'relhasindex',
      'relhasrules',
      'relhastriggers',
      'relrowsecurity',
      'relforcerowsecurity',
      'relhasoids',
      'relispartition',
      'reloptions',
      'reltablespace',
      'reloftype',
      'relpersistence',
      'relreplident',
      'amname',
    ];
    return {
      fields: names.map((name) => ({ name, oid: TEXT })),
      rows: [['0', 'r', 'f', 'f', 'f', 'f', 'f', 'f', 'f', '', '0', '', 'p', 'd', 'heap']],
    };
  }
  // \d NAME, then: its columns.
  if (view && /FROM pg_catalog\.pg_attribute a/.test(sql) && /a\.attname/.test(sql))
    return {
      fields: [
        { name: 'attname', oid: NAME },
        { name: 'format_type', oid: TEXT },
        { name: 'pg_get_expr', oid: TEXT },
        { name: 'attnotnull', oid: BOOL },
        { name: 'attcollation', oid: NAME },
        { name: 'attidentity', oid: TEXT },
        { name: 'attgenerated', oid: TEXT },
      ],
      rows: columnsOf(view).map((c) => [c.name, c.type, null, c.notNull ? 't' : 'f', null, '', '']),
    };
  // Anything else of the catalogue: views have no indexes, constraints, triggers or policies.
  return { fields: [{ name: 'none', oid: INT2 }], rows: [] };
}
