import { describe, expect, it } from 'vitest';
import { runPipeline, type TestRun } from '../../src/stream/index.ts';
import { loadScenario, SCENARIOS } from './scenario-files.ts';

/**
 * Golden scenarios: each folder holds `pipeline.ts` (default export), `input.jsonl` (runPipeline
 * inputs) and `expected.jsonl` (`{"topic","key","value"}` lines for what the sinks get, in order, and
 * `{"deadLetter":{…}}` lines for dead letters). Each runs straight through, and again with the task
 * restarted from its stores before every input in turn; all runs must give exactly the expected
 * lines. scenarios-runtime.test.ts runs them again on the runtime, with a kill -9 in the middle.
 */
const scenarios = SCENARIOS;

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
      const { pipeline, input, expected } = await loadScenario(name);
      expect(observed(runPipeline(pipeline, input))).toEqual(expected);
      for (let at = 1; at < input.length; at++)
        expect({ restoredAt: at, lines: observed(runPipeline(pipeline, input, { restoreAt: at })) }).toEqual({
          restoredAt: at,
          lines: expected,
        });
    });
  }
});
