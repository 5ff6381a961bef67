import {
  type DuckDBConnection,
  DuckDBTimestampValue,
  type DuckDBValue,
  StatementType,
} from '@duckdb/node-api';
import { TimeoutError } from '../core/index.ts';
import { QueryInvalidError, QueryRefusedError } from './view-errors.ts';
import type { QueryOptions, QueryResult } from './view-store.ts';

/** A statement that starts like anything but a read. */
const WRITE =
  /^\s*(?:insert|update|delete|merge|create|drop|alter|truncate|copy|attach|detach|install|load|set|reset|pragma|call|export|import|vacuum|checkpoint|use|begin|commit|rollback)\b/i;

/**
 * One ad-hoc query on a DuckDB connection, read-only for real: it must be one statement that DuckDB's
 * own parser types as a SELECT (writes, DDL, SET, PRAGMA and EXPLAIN ANALYZE are refused before they
 * run), it is interrupted past its timeout, and at most `maxRows` rows come back. What it may read
 * besides tables is the database's business (external access off, configuration locked).
 */
export async function readOnlyQuery(
  c: DuckDBConnection,
  sql: string,
  options: QueryOptions,
): Promise<QueryResult> {
  let statements: Awaited<ReturnType<DuckDBConnection['extractStatements']>>;
  try {
    statements = await c.extractStatements(sql);
  } catch (error) {
    throw queryError(error);
  }
  if (statements.count !== 1)
    throw new QueryRefusedError(`A query is one SQL statement; this has ${statements.count}`);
  let prepared: Awaited<ReturnType<typeof statements.prepare>>;
  try {
    prepared = await statements.prepare(0);
  } catch (error) {
    // A write that cannot even be bound (DELETE from a view) is still a write: refused, not invalid.
    if (WRITE.test(sql)) throw new QueryRefusedError(`Queries are read-only: ${cleanMessage(error)}`);
    throw queryError(error);
  }
  if (prepared.statementType !== StatementType.SELECT)
    throw new QueryRefusedError(
      `Queries are read-only: a ${StatementType[prepared.statementType]} statement is refused (views change only through their pipelines)`,
    );
  const params = options.params ?? [];
  if (prepared.parameterCount !== params.length)
    throw new QueryInvalidError(
      `The query has ${prepared.parameterCount} parameter(s) ($1, ?) and was given ${params.length}: over HTTP, put the values in the SQL`,
    );
  // Text values, which DuckDB casts to the type it inferred for each parameter.
  params.forEach((v, i) => {
    if (v === null) prepared.bindNull(i + 1);
    else prepared.bindVarchar(i + 1, v);
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    c.interrupt();
  }, options.timeoutMs);
  try {
    const reader = await prepared.streamAndReadUntil(options.maxRows + 1);
    const rows = reader.getRows();
    const truncated = rows.length > options.maxRows;
    return {
      columns: reader.columnNames().map((name, i) => ({ name, type: String(reader.columnTypes()[i]) })),
      rows: rows.slice(0, options.maxRows).map((row) => row.map(jsonValue)),
      truncated,
    };
  } catch (error) {
    if (timedOut)
      throw new TimeoutError(`The query took longer than ${options.timeoutMs} ms and was stopped`);
    throw queryError(error);
  } finally {
    clearTimeout(timer);
  }
}

/** A DuckDB value as JSON takes it: big integers as numbers when exact, else text; other values as their text. */
function jsonValue(value: DuckDBValue): unknown {
  if (value === null || typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean')
    return value;
  if (typeof value === 'bigint')
    return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof DuckDBTimestampValue) return new Date(Number(value.micros / 1000n)).toISOString();
  return String(value);
}

/** DuckDB's refusal of a file, the network or a setting is a refused query; any other error an invalid one. */
function queryError(error: unknown): QueryInvalidError | QueryRefusedError {
  if (/Permission Error|disabled by configuration|configuration has been locked/i.test(String(error)))
    return new QueryRefusedError(
      `Queries cannot read files, the network or settings: ${cleanMessage(error)}`,
    );
  return new QueryInvalidError(cleanMessage(error), { cause: error });
}

/** DuckDB's message without its multi-line context. */
export function cleanMessage(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0]!;
}
