import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Pipeline, runPipeline, type TestInput, type TestRun } from '../../src/stream/index.ts';

/**
 * Golden scenarios: each folder holds `pipeline.ts` (default export), `input.jsonl` (runPipeline
 * inputs) and `expected.jsonl` (`{"topic","key","value"}` lines for what the sinks get, in order, and
 * `{"deadLetter":{…}}` lines for dead letters). Each runs straight through, and again with the task
 * restarted from its stores before every input in turn; all runs must give exactly the expected
 * lines. scenarios-runtime.test.ts runs them again on the runtime, with a kill -9 in the middle.
 */
const scenarios = readdirSync(import.meta.dirname, { withFileTypes: true })
  .filter((d) => d.isDirectory() && d.name !== 'fixtures')
  .map((d) => d.name)
  .sort();

const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('//'))
    .map((l) => JSON.parse(l));

function observed(run: TestRun): unknown[] {
  const out: unknown[] = [];
  for (const [topic, records] of Object.entries(run.topics))
    for (const r of records) out.push({ topic, ...r });
  for (const d of run.deadLetters)
    out.push({ deadLetter: { reason: d.reason, step: d.step, partition: d.partition, offset: d.offset } });
  return out;
}

describe('golden scenarios', () => {
  it('there are at least 15', () => {
    expect(scenarios.length).toBeGreaterThanOrEqual(15);
  });

  for (const name of scenarios) {
    it(name, async () => {
      const dir = path.join(import.meta.dirname, name);
      const { default: pipeline } = (await import(path.join(dir, 'pipeline.ts'))) as { default: Pipeline };
      // Raw bytes are written base64 in input.jsonl.
      const input = lines(path.join(dir, 'input.jsonl')).map((i: { bytes?: string }) =>
        typeof i.bytes === 'string' ? { ...i, bytes: Buffer.from(i.bytes, 'base64') } : i,
      ) as TestInput[];
      const expected = lines(path.join(dir, 'expected.jsonl'));
      expect(observed(runPipeline(pipeline, input))).toEqual(expected);
      for (let at = 1; at < input.length; at++)
        expect({ restoredAt: at, lines: observed(runPipeline(pipeline, input, { restoreAt: at })) }).toEqual({
          restoredAt: at,
          lines: expected,
        });
    });
  }
});
