import type { Bus } from '../../src/log/index.ts';
import { type PipelineRunner, stageGroup } from '../../src/stream/index.ts';

/** Waits until every stage of the runner has committed all of its input. */
export async function caughtUp(bus: Bus, runner: PipelineRunner, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const stage of runner.stages) {
    const group = stageGroup(runner.pipeline, stage);
    for (;;) {
      const ends = await bus.partitionOffsets(stage.input);
      const committed = new Map(
        (await bus.committedOffsets(group, stage.input)).map((o) => [o.partition, o.offset]),
      );
      if (ends.every((r) => r.end === r.start || (committed.get(r.partition) ?? -1) >= r.end)) break;
      if (Date.now() > deadline) throw new Error(`stage ${stage.index} did not catch up`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
