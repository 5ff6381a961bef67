import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, toMillis } from '../core/index.ts';
import type { FsyncPolicy, TopicDescription, TopicSpec } from './bus.ts';
import { writeFileAtomic } from './file-io.ts';
import type { PartitionConfig } from './partition-log.ts';

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
export const DEFAULT_TOMBSTONE_RETENTION_MS = 86_400_000;
export const MAX_PARTITIONS = 10_000;

/** A topic's settings as stored in `topic.json`: every field resolved, durations in milliseconds. */
export interface TopicConfig extends PartitionConfig {
  name: string;
  partitions: number;
  internal: boolean;
}

/** Validates a spec and fills in defaults; throws InvalidArgumentError naming the bad field. */
export function resolveTopicConfig(
  name: string,
  spec: TopicSpec,
  defaults: Partial<Omit<TopicSpec, 'partitions'>> = {},
): TopicConfig {
  const merged = { ...defaults, ...stripUndefined(spec) };
  const { partitions } = merged;
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    throw new InvalidArgumentError(
      `partitions must be an integer from 1 to ${MAX_PARTITIONS}, got ${partitions}`,
    );
  }
  const segmentBytes = merged.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  if (!Number.isInteger(segmentBytes) || segmentBytes < 1024) {
    throw new InvalidArgumentError(`segmentBytes must be an integer of at least 1024, got ${segmentBytes}`);
  }
  const retentionBytes = merged.retentionBytes ?? null;
  if (retentionBytes !== null && (!Number.isInteger(retentionBytes) || retentionBytes < 0)) {
    throw new InvalidArgumentError(`retentionBytes must be a non-negative integer, got ${retentionBytes}`);
  }
  return {
    name,
    partitions,
    internal: name.startsWith('__'),
    compacted: merged.compacted ?? false,
    retentionMs: merged.retention === undefined ? null : toMillis(merged.retention),
    retentionBytes,
    tombstoneRetentionMs:
      merged.tombstoneRetention === undefined
        ? DEFAULT_TOMBSTONE_RETENTION_MS
        : toMillis(merged.tombstoneRetention),
    fsync: resolveFsync(merged.fsync ?? 'batch'),
    segmentBytes,
  };
}

function resolveFsync(policy: FsyncPolicy): PartitionConfig['fsync'] {
  if (policy === 'batch' || policy === 'never') return policy;
  const ms = toMillis(policy);
  return ms === 0 ? 'batch' : ms;
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

export function describe(config: TopicConfig): TopicDescription {
  return {
    name: config.name,
    partitions: config.partitions,
    compacted: config.compacted,
    retentionMs: config.retentionMs,
    retentionBytes: config.retentionBytes,
    internal: config.internal,
    replicationFactor: 1,
  };
}

export async function saveTopicConfig(file: string, config: TopicConfig): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(config, null, 2)}\n`);
}

export async function loadTopicConfig(file: string): Promise<TopicConfig> {
  return JSON.parse(await readFile(file, 'utf8')) as TopicConfig;
}
