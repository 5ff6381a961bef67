import { kappaTopics } from '../core/index.ts';
import { type Bus, BusScan, groupLag, heldRecords, type PartitionLag } from '../log/index.ts';
import type { Views } from '../serve/index.ts';
import type { PipelineRunner } from '../stream/index.ts';

/** One screen of what runs and how far behind it is: `GET /v1/status`, `kappa status`, the dashboard. */
export interface Status {
  /** Where the bus is: the data folder or the Kafka brokers. */
  bus: string;
  /** When it was read (ms since the epoch). */
  at: number;
  /** `internal`: one of Kappa's own (the registry's, `__*`, a pipeline's `kappa-*` changelogs, repartition and view topics). */
  topics: Array<{ name: string; partitions: number; records: number; endOffset: number; internal: boolean }>;
  groups: Array<{
    group: string;
    members: number;
    lag: number;
    partitions: Array<Omit<PartitionLag, 'group'>>;
  }>;
  pipelines: Array<{
    name: string;
    source: string;
    /** `restoring`: some task's state is not back yet (the pipeline waits for it). */
    state: 'running' | 'restoring';
    processed: number;
    restoring: number;
    idlePartitions: number[];
    /** The pipeline's steps in order, with their kinds: the picture of its stages. */
    steps: Array<{ name: string; kind: string }>;
    /** The records its consumer groups have not committed past. */
    lag: number;
  }>;
  views: Array<{ name: string; pipeline: string; version: number; rows: number; lag: number }>;
  deadLetters: { topic: string; records: number };
}

export interface StatusSources {
  bus: Bus;
  busDescription: string;
  pipelines: readonly PipelineRunner[];
  views?: Views;
  deadLetterTopic: string;
  /** The registry's topic; default `_schemas`. */
  registryTopic?: string;
}

/** Reads the status from the bus and what runs in this process. */
export async function readStatus(s: StatusSources): Promise<Status> {
  const scan = new BusScan(s.bus);
  const own = kappaTopics(s.registryTopic);
  const topics: Status['topics'] = [];
  for (const name of await scan.topics()) {
    const parts = await scan.ranges(name);
    topics.push({
      name,
      partitions: parts.length,
      records: heldRecords(parts),
      endOffset: parts.reduce((n, p) => n + p.end, 0),
      internal: own(name),
    });
  }
  const groups: Status['groups'] = [];
  for (const group of await s.bus.listGroups()) {
    const partitions = (await groupLag(scan, group)).map(({ group: _, ...p }) => p);
    groups.push({
      group,
      members: (await s.bus.groupMembers(group).catch(() => [])).length,
      lag: partitions.reduce((n, p) => n + p.lag, 0),
      partitions,
    });
  }
  const pipelines: Status['pipelines'] = s.pipelines.map((runner) => {
    const p = runner.pipeline;
    const own = new Set(runner.groups);
    return {
      name: p.name,
      source: p.source.topic,
      state: runner.restoring > 0 ? 'restoring' : 'running',
      processed: runner.processed,
      restoring: runner.restoring,
      idlePartitions: runner.idlePartitions,
      steps: p.steps.map((step) => ({ name: step.name, kind: step.kind })),
      lag: groups.filter((g) => own.has(g.group)).reduce((n, g) => n + g.lag, 0),
    };
  });
  const views: Status['views'] = [];
  for (const m of s.views?.materializers ?? [])
    views.push({
      name: m.view,
      pipeline: m.pipeline,
      version: m.version,
      rows: await s.views!.store.rowCount(m.table).catch(() => 0),
      lag: await m.lag().catch(() => 0),
    });
  const letters = await scan.ranges(s.deadLetterTopic);
  return {
    bus: s.busDescription,
    at: Date.now(),
    topics,
    groups,
    pipelines,
    views,
    deadLetters: { topic: s.deadLetterTopic, records: heldRecords(letters) },
  };
}
