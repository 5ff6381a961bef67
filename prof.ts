import { ManualClock } from './src/core/index.ts';
import { PipelineTask } from './src/stream/index.ts';
import { generateNexmark, maxDisorder } from './bench/nexmark/generator.ts';
import { nexmarkQueries } from './bench/nexmark/queries.ts';
const opts = { seed: 7, events: 300_000, rate: 10_000, outOfOrderGroup: 50 };
const events = generateNexmark(opts);
const records = events.map((e, i) => ({ topic: 'n', partition: 0, offset: i, timestamp: 0, key: null, value: Buffer.from(JSON.stringify(e)), headers: {} }));
const q = nexmarkQueries('n', maxDisorder(opts))[process.argv[2] ?? 'q5']!;
for (let round = 0; round < 3; round++) {
  const task = new PipelineTask(q, { partitions: [0], clock: new ManualClock(0), output: { send: () => {}, deadLetter: () => {} } });
  const t = Date.now();
  for (const r of records) task.process(r);
  task.endOfInput();
  console.log(round, Math.round(records.length / ((Date.now() - t) / 1000)), 'ev/s');
}
