import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { openEmbeddedBus } from '../../src/log/index.ts';
import { json, readDeadLetter, runPipeline } from '../../src/stream/index.ts';
import { seededRandom } from '../support/random.ts';
import { tempDir } from '../support/temp-dir.ts';
import { loadScenario, SCENARIOS } from './scenario-files.ts';

const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'run-on-bus.ts');
/**
 * The golden scenarios again, on the path a deployment runs: an embedded log, a PipelineRunner with
 * its stages, repartition topics, changelogs and state on disk, killed with kill -9 after a random
 * input and started again on the same data. What the sinks and the dead letters get must be what one
 * task over all partitions computes (`runPipeline`) for the windows the watermark closed (a runtime
 * has no end of input), as multisets: order across keys and the offsets of dead letters after a cut
 * are the runtime's own. Scenarios driven by the clock (processing time, early firings, idleness) run
 * through runPipeline only: the runtime's clock is the machine's.
 */
const scenarios = SCENARIOS.filter(
  (name) =>
    !readFileSync(path.join(import.meta.dirname, name, 'input.jsonl'), 'utf8').match(/"at"|advanceClock/),
);

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

/** Runs the fixture until it prints `done` (resolves true) or, given `killAfter`, kills it after that many inputs (false). */
function runFixture(dir: string, data: string, killAfter?: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE, dir, data], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    let oks = 0;
    let finished = false;
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('ok ')) oks++;
      if (killAfter !== undefined && oks >= killAfter && !finished) {
        finished = true;
        child.kill('SIGKILL');
      } else if (line === 'done' && !finished) {
        finished = true;
        child.kill('SIGTERM');
      }
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(false);
      else if (code === 0 || signal === 'SIGTERM') resolve(true);
      else reject(new Error(`fixture exited with ${code}: ${stderr}`));
    });
  });
}

describe('golden scenarios on the runtime, with a kill -9 in the middle', () => {
  const seed = Number(process.env.KAPPA_SEED ?? Date.now() % 1_000_000);
  console.log(`golden scenarios on the runtime: seed ${seed}`);
  const random = seededRandom(seed);

  it('covers most scenarios', () => {
    expect(scenarios.length).toBeGreaterThanOrEqual(15);
  });

  for (const name of scenarios) {
    it(name, async () => {
      const { dir, pipeline, input } = await loadScenario(name);
      const expected = runPipeline(pipeline, input, { endOfInput: false });
      const temp = await tempDir('kappa-scenario-');
      cleanups.push(temp.remove);
      const killAfter = 1 + Math.floor(random() * Math.max(1, input.length - 1));
      expect(await runFixture(dir, temp.dir, killAfter)).toBe(false);
      expect(await runFixture(dir, temp.dir)).toBe(true);

      const bus = await openEmbeddedBus({ dataDir: path.join(temp.dir, 'log'), maintenanceInterval: 0 });
      try {
        const sinks = new Map<string, (b: Buffer) => unknown>();
        for (const step of pipeline.steps)
          if (step.kind === 'toTopic') sinks.set(step.topic, (b) => step.serde.decode(b));
        const topics = new Set([...Object.keys(expected.topics), ...sinks.keys()]);
        const observed = await Promise.all(
          [...topics].map(async (topic) => {
            const decode = sinks.get(topic) ?? ((b: Buffer) => json().decode(b));
            const records = await readTopic(bus, topic);
            return [
              topic,
              records
                .map((r) =>
                  JSON.stringify({
                    key: r.key === null ? null : JSON.parse(r.key.toString()),
                    value: decode(r.value!),
                  }),
                )
                .sort(),
            ] as const;
          }),
        );
        for (const [topic, got] of observed)
          expect(got, `${name}: ${topic} (seed ${seed}, killed after ${killAfter})`).toEqual(
            (expected.topics[topic] ?? []).map((r) => JSON.stringify(r)).sort(),
          );
        const letters = (await readTopic(bus, 'dead-letters')).map((r) => readDeadLetter(r)!);
        expect(letters.map((l) => `${l.reason}/${l.step}`).sort(), `${name}: dead letters`).toEqual(
          expected.deadLetters.map((l) => `${l.reason}/${l.step}`).sort(),
        );
      } finally {
        await bus.close();
      }
    }, 60_000);
  }
});

async function readTopic(bus: Awaited<ReturnType<typeof openEmbeddedBus>>, topic: string) {
  const parts = await bus.partitionOffsets(topic).catch(() => []);
  if (parts.length === 0) return [];
  const c = bus.consumer({ isolation: 'read_committed' });
  await c.assign(parts.map((p) => ({ topic, partition: p.partition, offset: p.start })));
  const total = parts.reduce((n, p) => n + p.end - p.start, 0);
  const out: Awaited<ReturnType<typeof c.poll>> = [];
  for (let empty = 0; out.length < total && empty < 5; ) {
    const batch = await c.poll({ timeoutMs: 100, maxRecords: 10_000 });
    if (batch.length === 0) empty++;
    out.push(...batch);
  }
  await c.close();
  return out;
}
