import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/core/index.ts';
import { defineView, parseKey, storedRow, type ViewDefinition } from '../../src/serve/index.ts';
import { type ViewRow, ViewRowError, type ViewStep } from '../../src/stream/index.ts';

const step = (columns: ViewStep['columns']): ViewStep => ({
  kind: 'toView',
  name: 'toView-1',
  view: 'v',
  version: 1,
  table: 'v__v1',
  topic: 'kappa-view-v',
  retentionMs: null,
  columns,
});
const row = (key: unknown, value: Record<string, unknown>): ViewRow => ({
  key,
  start: 0,
  end: 10,
  kind: 'final',
  value,
});

describe('view columns', () => {
  it('takes declared types, and finds the others from the first non-null values', () => {
    const view = defineView(step({ n: 'integer', last: null, tags: null, never: null }), [
      row(7, { n: 1, last: null, tags: ['a'], never: null }),
      row(8, { n: 2, last: 'x', tags: null, never: null }),
    ]);
    expect(view.key).toBe('integer');
    expect(view.columns).toEqual([
      { name: 'n', type: 'integer' },
      { name: 'last', type: 'string' },
      { name: 'tags', type: 'json' },
      { name: 'never', type: 'json' },
    ]);
  });

  it('refuses an aggregate named as a view column of its own', () => {
    expect(() => defineView(step({ kind: 'integer' }), [row('a', { kind: 1 })])).toThrow(
      InvalidArgumentError,
    );
  });

  it('makes a row of another shape a ViewRowError, naming what is wrong', () => {
    const view: ViewDefinition = {
      name: 'v',
      topic: 't',
      key: 'string',
      columns: [{ name: 'n', type: 'integer' }],
      retentionMs: null,
    };
    expect(storedRow(view, row('a', { n: 3 })).values).toEqual({ n: 3 });
    expect(storedRow(view, row('a', {})).values).toEqual({ n: null });
    for (const [bad, says] of [
      [row('a', { n: 1.5 }), /column "n" is integer/],
      [row('a', { n: 'x' }), /column "n" is integer/],
      [row(5, { n: 1 }), /not of the view's key type/],
      [row(null, { n: 1 }), /not of the view's key type/],
      [row('a', { n: 1, extra: true }), /no column for/],
    ] as const) {
      expect(() => storedRow(view, bad)).toThrow(ViewRowError);
      expect(() => storedRow(view, bad)).toThrow(says);
    }
  });

  it('reads a key from a URL as the view key type, or says it cannot', () => {
    const of = (key: ViewDefinition['key']): ViewDefinition => ({
      name: 'v',
      topic: 't',
      key,
      columns: [],
      retentionMs: null,
    });
    expect(parseKey(of('integer'), '42')).toBe(42);
    expect(parseKey(of('integer'), '-7')).toBe(-7);
    for (const bad of ['4.2', 'abc', '', '99999999999999999999'])
      expect(parseKey(of('integer'), bad), bad).toBeNull();
    expect(parseKey(of('number'), '4.5')).toBe(4.5);
    expect(parseKey(of('number'), ' ')).toBeNull();
    expect(parseKey(of('boolean'), 'true')).toBe(true);
    expect(parseKey(of('boolean'), 'yes')).toBeNull();
    expect(parseKey(of('json'), '{"card":"c1"}')).toEqual({ card: 'c1' });
    expect(parseKey(of('json'), '{broken')).toBeNull();
    expect(parseKey(of('string'), 'anything at all')).toBe('anything at all');
  });
});
