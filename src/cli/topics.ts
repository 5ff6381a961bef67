import type { Command } from 'commander';
import { toMillis } from '../core/index.ts';
import type { KappaClient } from './client.ts';

interface TopicV3 {
  topic_name: string;
  partitions_count: number;
  is_internal: boolean;
}

export function topicsCommand(
  program: Command,
  client: () => Promise<{ client: KappaClient; clusterId: string }>,
): void {
  const topics = program.command('topics').description('create, list, describe and delete topics');

  topics
    .command('create <name>')
    .description('create a topic')
    .option('-p, --partitions <n>', 'number of partitions', '1')
    .option('--compacted', 'keep only the newest record per key')
    .option('--retention <duration>', "delete records older than this, e.g. '7d' (default: keep forever)")
    .action(
      async (name: string, options: { partitions: string; compacted?: boolean; retention?: string }) => {
        const partitions = Number(options.partitions);
        if (!Number.isInteger(partitions) || partitions < 1)
          throw new Error(`--partitions must be a positive integer, got '${options.partitions}'`);
        const configs: Array<{ name: string; value: string }> = [];
        if (options.compacted) configs.push({ name: 'cleanup.policy', value: 'compact' });
        if (options.retention)
          configs.push({ name: 'retention.ms', value: String(toMillis(options.retention)) });
        const { client: c, clusterId } = await client();
        await c.request('POST', `/v3/clusters/${clusterId}/topics`, {
          topic_name: name,
          partitions_count: partitions,
          configs,
        });
        process.stdout.write(
          `Created topic ${name} with ${partitions} partition${partitions === 1 ? '' : 's'}\n`,
        );
      },
    );

  topics
    .command('list')
    .description('list topics')
    .option('--internal', 'include internal topics')
    .action(async (options: { internal?: boolean }) => {
      const { client: c, clusterId } = await client();
      const list = await c.request<{ data: TopicV3[] }>('GET', `/v3/clusters/${clusterId}/topics`);
      for (const t of list.data)
        if (options.internal || !t.is_internal) process.stdout.write(`${t.topic_name}\n`);
    });

  topics
    .command('describe <name>')
    .description('show a topic: settings and per-partition offsets')
    .action(async (name: string) => {
      const { client: c } = await client();
      const d = await c.request<{
        name: string;
        partitions: number;
        compacted: boolean;
        retentionMs: number | null;
        offsets: Array<{ partition: number; start: number; end: number }>;
      }>('GET', `/v1/topics/${encodeURIComponent(name)}`);
      process.stdout.write(
        `Topic ${d.name}: ${d.partitions} partition(s), ${d.compacted ? 'compacted' : 'not compacted'}, retention ${d.retentionMs === null ? 'forever' : `${d.retentionMs} ms`}\n`,
      );
      for (const o of d.offsets)
        process.stdout.write(
          `  partition ${o.partition}: offsets ${o.start}..${o.end} (${o.end - o.start} records)\n`,
        );
    });

  topics
    .command('delete <name>')
    .description('delete a topic and its records')
    .action(async (name: string) => {
      const { client: c, clusterId } = await client();
      await c.request('DELETE', `/v3/clusters/${clusterId}/topics/${encodeURIComponent(name)}`);
      process.stdout.write(`Deleted topic ${name}\n`);
    });
}
