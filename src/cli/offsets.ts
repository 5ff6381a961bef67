import type { Command } from 'commander';
import { InvalidArgumentError } from '../core/index.ts';
import { type Bus, BusScan, lagOf } from '../log/index.ts';
import { type LocalBusOptions, localBusOptions, openLocalBus } from './local-bus.ts';
import { renderTable } from './views.ts';

/** Where `offsets reset` moves each partition: exactly one is given. */
interface ResetTarget {
  toEarliest?: boolean;
  toLatest?: boolean;
  toDatetime?: string;
  toOffset?: string;
  shiftBy?: string;
}

interface ResetOptions extends ResetTarget, LocalBusOptions {
  group: string;
  topic?: string[];
  execute?: boolean;
}

/** A partition's committed offset now and where a reset puts it. */
interface Move {
  topic: string;
  partition: number;
  current: number | null;
  next: number;
}

export function offsetsCommand(program: Command): void {
  const offsets = program
    .command('offsets')
    .description(
      'consumer groups’ committed offsets, and resetting them (as kafka-consumer-groups --reset-offsets); on the embedded log, while kappa up is stopped',
    );

  localBusOptions(
    offsets
      .command('list')
      .description('each group’s committed offset, log range and lag per partition, and its live members')
      .option('--group <group>', 'only this group'),
  ).action(async (options: LocalBusOptions & { group?: string }) => {
    const { bus } = await openLocalBus(options);
    try {
      const groups = options.group ? [options.group] : await bus.listGroups();
      const scan = new BusScan(bus);
      const rows: unknown[][] = [];
      for (const group of groups) {
        const members = (await bus.groupMembers(group)).length;
        const committed = await bus.committedOffsets(group);
        for (const topic of new Set(committed.map((c) => c.topic)))
          for (const r of await scan.ranges(topic)) {
            const offset = committed.find((c) => c.topic === topic && c.partition === r.partition)?.offset;
            rows.push([
              group,
              topic,
              r.partition,
              offset ?? '-',
              r.start,
              r.end,
              offset === undefined ? '-' : lagOf(offset, r),
              members,
            ]);
          }
        if (committed.length === 0) rows.push([group, '-', '-', '-', '-', '-', '-', members]);
      }
      console.log(
        renderTable(['group', 'topic', 'partition', 'offset', 'start', 'end', 'lag', 'members'], rows),
      );
    } finally {
      await bus.close();
    }
  });

  localBusOptions(
    offsets
      .command('reset')
      .description(
        'move a group’s committed offsets; a dry run that prints the plan unless --execute; refused while the group has live members',
      )
      .requiredOption('--group <group>', 'the consumer group (a pipeline’s is kappa-pipeline-<name>)')
      .option('--topic <topic...>', 'only these topics (default: every topic the group has offsets in)')
      .option('--to-earliest', 'the oldest offset the log holds')
      .option('--to-latest', 'the end of the log: skip everything not read yet')
      .option('--to-datetime <time>', 'the first offset with a timestamp at or after this ISO 8601 time')
      .option('--to-offset <n>', 'this offset on every partition (0 on a fromArchive source: all of history)')
      .option('--shift-by <n>', 'the committed offset moved by n (negative: back), kept within the log')
      .option('--execute', 'apply the plan (without it, nothing changes)'),
  ).action(async (options: ResetOptions) => {
    const target = parseTarget(options);
    const { bus } = await openLocalBus(options);
    try {
      const moves = await plan(bus, options.group, options.topic, target);
      const rows = moves.map((m) => [m.topic, m.partition, m.current ?? '-', m.next]);
      console.log(renderTable(['topic', 'partition', 'current', 'new'], rows));
      if (!options.execute) {
        const members = (await bus.groupMembers(options.group)).length;
        console.log(
          `Dry run: nothing changed. Add --execute to apply${members > 0 ? ` (the group has ${members} live member${members === 1 ? '' : 's'}, so it would be refused now)` : ''}.`,
        );
        return;
      }
      await bus.alterOffsets(
        options.group,
        moves.map((m) => ({ topic: m.topic, partition: m.partition, offset: m.next })),
      );
      console.log(
        `Reset ${moves.length} partition${moves.length === 1 ? '' : 's'} of group ${options.group}.`,
      );
    } finally {
      await bus.close();
    }
  });
}

type Target =
  | { kind: 'earliest' | 'latest' }
  | { kind: 'datetime'; at: number }
  | { kind: 'offset'; offset: number }
  | { kind: 'shift'; by: number };

function parseTarget(o: ResetTarget): Target {
  const given = [o.toEarliest, o.toLatest, o.toDatetime, o.toOffset, o.shiftBy].filter(
    (v) => v !== undefined,
  );
  if (given.length !== 1)
    throw new InvalidArgumentError(
      'Give exactly one of --to-earliest, --to-latest, --to-datetime, --to-offset, --shift-by',
    );
  if (o.toEarliest) return { kind: 'earliest' };
  if (o.toLatest) return { kind: 'latest' };
  if (o.toDatetime !== undefined) {
    const at = Date.parse(o.toDatetime);
    if (Number.isNaN(at))
      throw new InvalidArgumentError(
        `--to-datetime takes an ISO 8601 time (2026-01-31T12:00:00Z), got '${o.toDatetime}'`,
      );
    return { kind: 'datetime', at };
  }
  if (o.toOffset !== undefined) {
    if (!/^\d+$/.test(o.toOffset))
      throw new InvalidArgumentError(`--to-offset takes a non-negative integer, got '${o.toOffset}'`);
    return { kind: 'offset', offset: Number(o.toOffset) };
  }
  if (!/^-?\d+$/.test(o.shiftBy!))
    throw new InvalidArgumentError(`--shift-by takes an integer, got '${o.shiftBy}'`);
  return { kind: 'shift', by: Number(o.shiftBy) };
}

/** Where each partition of the group's topics goes, as kafka-consumer-groups computes it. */
async function plan(bus: Bus, group: string, only: string[] | undefined, target: Target): Promise<Move[]> {
  const committed = await bus.committedOffsets(group);
  const topics = only ?? [...new Set(committed.map((c) => c.topic))];
  if (topics.length === 0)
    throw new InvalidArgumentError(
      `Group '${group}' has no committed offsets: name the topics to reset with --topic`,
    );
  const moves: Move[] = [];
  for (const topic of topics) {
    const ranges = await bus.partitionOffsets(topic);
    const atTime = target.kind === 'datetime' ? await bus.offsetsForTime(topic, target.at) : [];
    for (const r of ranges) {
      const current = committed.find((c) => c.topic === topic && c.partition === r.partition)?.offset ?? null;
      const next = (() => {
        switch (target.kind) {
          case 'earliest':
            return r.start;
          case 'latest':
            return r.end;
          case 'datetime': {
            const found = atTime.find((o) => o.partition === r.partition)?.offset ?? -1;
            return found < 0 ? r.end : found;
          }
          case 'offset':
            // Below the log's start is kept: a fromArchive source reads it from the archive.
            return Math.min(target.offset, r.end);
          case 'shift':
            return Math.max(r.start, Math.min(r.end, (current ?? r.start) + target.by));
        }
      })();
      moves.push({ topic, partition: r.partition, current, next });
    }
  }
  return moves;
}
