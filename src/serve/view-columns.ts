import { InvalidArgumentError } from '../core/index.ts';
import { type ResultType, type ViewRow, ViewRowError, type ViewStep } from '../stream/index.ts';
import type { ColumnType, StoredRow, ViewColumn, ViewDefinition } from './view-store.ts';

/** The columns every view has before its aggregates. */
const FIXED_COLUMNS = ['key', 'window_start', 'window_end', 'kind'] as const;

/** An aggregate's name as a column: any text but the fixed columns' names (it is always quoted). */
function checkColumnName(view: string, name: string): void {
  if ((FIXED_COLUMNS as readonly string[]).includes(name) || name.length === 0 || name.length > 63)
    throw new InvalidArgumentError(
      `View '${view}': an aggregate cannot be named ${JSON.stringify(name)} (taken by a view's own columns, or not 1-63 characters)`,
    );
}

/** What a value found in a row holds, for a column nobody declared. */
function typeOf(value: unknown, forKey: boolean): ColumnType | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return forKey && Number.isSafeInteger(value) ? 'integer' : 'number';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'boolean';
  return 'json';
}

/**
 * The view's definition from its step and its first rows: declared result types as they are,
 * the others from the first non-null value (json when the rows hold none).
 */
export function defineView(step: ViewStep, rows: readonly ViewRow[]): ViewDefinition {
  const first = rows[0];
  if (first === undefined) throw new InvalidArgumentError(`View '${step.view}': no row to define it from`);
  const declared: Record<string, ResultType | null> =
    step.columns ?? Object.fromEntries(Object.keys(first.value).map((n) => [n, null]));
  const columns: ViewColumn[] = Object.entries(declared).map(([name, type]) => {
    checkColumnName(step.view, name);
    let found = type;
    for (let i = 0; found === null && i < rows.length; i++) found = typeOf(rows[i]!.value[name], false);
    return { name, type: found ?? 'json' };
  });
  return {
    name: step.table,
    topic: step.topic,
    key: typeOf(first.key, true) ?? 'json',
    columns,
    retentionMs: step.retentionMs,
  };
}

function fits(type: ColumnType, value: unknown): boolean {
  if (value === null) return true;
  switch (type) {
    case 'integer':
      return Number.isSafeInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'string':
      return typeof value === 'string';
    case 'boolean':
      return typeof value === 'boolean';
    case 'json':
      return value !== undefined;
  }
}

/** The row as the view stores it; a row that does not fit the view's columns is a ViewRowError. */
export function storedRow(view: ViewDefinition, row: ViewRow): StoredRow {
  if (row.key === null || !fits(view.key, row.key))
    throw new ViewRowError(
      `View '${view.name}': key ${JSON.stringify(row.key)} is not of the view's key type (${view.key})`,
    );
  const values: Record<string, unknown> = {};
  for (const { name, type } of view.columns) {
    const value = row.value[name] ?? null;
    if (!fits(type, value))
      throw new ViewRowError(
        `View '${view.name}': column ${JSON.stringify(name)} is ${type}, the row has ${JSON.stringify(value)}`,
      );
    values[name] = value;
  }
  for (const name of Object.keys(row.value))
    if (!view.columns.some((c) => c.name === name))
      throw new ViewRowError(
        `View '${view.name}': the row has a field ${JSON.stringify(name)} the view has no column for`,
      );
  return { key: row.key, windowStart: row.start, windowEnd: row.end, kind: row.kind, values };
}

/** Null when the view has an aggregate column `name`; otherwise what to tell the caller. */
export function missingColumn(view: ViewDefinition, name: string): string | null {
  if (view.columns.some((c) => c.name === name)) return null;
  return `View '${view.name}' has no column ${JSON.stringify(name)} (columns: ${view.columns.map((c) => c.name).join(', ')})`;
}

/** A key as the URL gives it (text), as the view's key type holds it; null when it cannot be one. */
export function parseKey(view: ViewDefinition, text: string): unknown {
  switch (view.key) {
    case 'string':
      return text;
    case 'integer':
      return /^-?\d+$/.test(text) && Number.isSafeInteger(Number(text)) ? Number(text) : null;
    case 'number':
      return text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : null;
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : null;
    case 'json':
      try {
        return JSON.parse(text);
      } catch {
        return null;
      }
  }
}

/** Double quotes around an identifier, as both DuckDB and Postgres take it. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
