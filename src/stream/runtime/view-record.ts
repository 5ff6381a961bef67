import { ErrorCodes, KappaError } from '../../core/index.ts';
import type { Windowed } from '../dsl/pipeline.ts';
import type { Window } from '../windows/window.ts';

/**
 * A record of a view's topic (`kappa-view-<name>`), which the view materializer turns into a row.
 * Key: JSON `[key, start, end]`, so compaction keeps one record per (key, window). Value: JSON
 * `{ key, start, end, kind, value }`, the window result; null (a tombstone) when the row is gone: a
 * session a record merged into a larger one.
 */
export interface ViewRow {
  key: unknown;
  start: number;
  end: number;
  kind: 'early' | 'final' | 'update';
  /** The aggregates, one field per column. */
  value: Record<string, unknown>;
}

/**
 * A view record that is not one a pipeline writes, or a row that does not fit its view's columns:
 * the materializer dead-letters it and goes on.
 */
export class ViewRowError extends KappaError {
  constructor(message: string) {
    super(ErrorCodes.VIEW_ROW_INVALID, 'data', message);
  }
}

export function viewRecordKey(key: unknown, window: Window): Buffer {
  return Buffer.from(JSON.stringify([key, window.start, window.end]));
}

export function viewRecordValue(result: Windowed<unknown, unknown>): Buffer {
  const row: ViewRow = {
    key: result.key,
    start: result.window.start,
    end: result.window.end,
    kind: result.kind,
    value: result.value as Record<string, unknown>,
  };
  return Buffer.from(JSON.stringify(row));
}

/** The row of a view record, or the (key, window) a tombstone removes. Throws ViewRowError. */
export function decodeViewRecord(
  key: Buffer | null,
  value: Buffer | null,
): { key: unknown; start: number; end: number; row: ViewRow | null } {
  if (key === null) throw new ViewRowError('A view record has no key');
  const id = parse(key, 'key');
  if (!Array.isArray(id) || id.length !== 3 || !isTime(id[1]) || !isTime(id[2]))
    throw new ViewRowError('A view record key is not [key, window start, window end]');
  const [k, start, end] = id as [unknown, number, number];
  if (value === null) return { key: k, start, end, row: null };
  const row = parse(value, 'value') as Partial<ViewRow> | null;
  if (
    row === null ||
    typeof row !== 'object' ||
    row.start !== start ||
    row.end !== end ||
    (row.kind !== 'final' && row.kind !== 'update' && row.kind !== 'early') ||
    row.value === null ||
    typeof row.value !== 'object' ||
    Array.isArray(row.value)
  )
    throw new ViewRowError('A view record value is not a window result of its key');
  return { key: k, start, end, row: row as ViewRow };
}

function parse(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ViewRowError(`A view record ${what} is not JSON`);
  }
}

function isTime(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}
