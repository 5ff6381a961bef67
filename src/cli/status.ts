import type { Command } from 'commander';
import type { Status } from '../ops/index.ts';
import type { KappaClient } from './client.ts';

/** Columns as `kubectl get` prints them: upper-case headers, padded, no borders. */
export function renderColumns(columns: string[], rows: unknown[][]): string {
  const cells = rows.map((r) => r.map((v) => (v === null || v === undefined ? '-' : String(v))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join('   ')
      .trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n');
}

/** The status as one screen; with the previous reading, each topic's and pipeline's rate. */
export function renderStatus(
  status: Status,
  options: { all?: boolean; previous?: Status | undefined } = {},
): string {
  const { previous } = options;
  const seconds = previous ? Math.max(0.001, (status.at - previous.at) / 1000) : 0;
  const rate = (now: number, before: number | undefined): string =>
    previous === undefined || before === undefined
      ? '-'
      : `${Math.max(0, (now - before) / seconds).toFixed(0)}/s`;
  const topicsBefore = new Map(previous?.topics.map((t) => [t.name, t.endOffset]));
  const processedBefore = new Map(previous?.pipelines.map((p) => [p.name, p.processed]));
  const topics = status.topics.filter((t) => options.all || !t.internal);
  const sections = [
    `Kappa on ${status.bus}, ${new Date(status.at).toISOString()}`,
    renderColumns(
      ['topic', 'partitions', 'records', 'rate'],
      topics.map((t) => [t.name, t.partitions, t.records, rate(t.endOffset, topicsBefore.get(t.name))]),
    ),
    renderColumns(
      ['group', 'members', 'lag', 'partitions'],
      status.groups.map((g) => [g.group, g.members, g.lag, g.partitions.length]),
    ),
    status.pipelines.length === 0
      ? 'No pipelines run here.'
      : renderColumns(
          ['pipeline', 'state', 'source', 'processed', 'rate', 'lag', 'idle', 'steps'],
          status.pipelines.map((p) => [
            p.name,
            p.state === 'restoring' ? `restoring (${p.restoring})` : p.state,
            p.source,
            p.processed,
            rate(p.processed, processedBefore.get(p.name)),
            p.lag,
            p.idlePartitions.length === 0 ? '-' : p.idlePartitions.join(','),
            p.steps
              .slice(1)
              .map((s) => s.kind)
              .join(' → '),
          ]),
        ),
    status.views.length === 0
      ? 'No views are materialized here.'
      : renderColumns(
          ['view', 'pipeline', 'version', 'rows', 'lag'],
          status.views.map((v) => [v.name, v.pipeline, v.version, v.rows, v.lag]),
        ),
    `Dead letters: ${status.deadLetters.records} in ${status.deadLetters.topic}${status.deadLetters.records > 0 ? ' (kappa dlq list)' : ''}`,
  ];
  return `${sections.join('\n\n')}\n`;
}

export function statusCommands(program: Command, client: () => KappaClient): void {
  const read = () => client().request<Status>('GET', '/v1/status');
  program
    .command('status')
    .description(
      'one screen: topics, consumer groups with lag, pipelines and their state, views, dead letters',
    )
    .option('--all', 'also Kappa’s internal topics')
    .option('--json', 'the status as JSON')
    .action(async (options: { all?: boolean; json?: boolean }) => {
      const status = await read();
      process.stdout.write(
        options.json ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(status, options),
      );
    });

  program
    .command('top')
    .description('the status, refreshed every second, with rates (Ctrl-C to stop)')
    .option('--all', 'also Kappa’s internal topics')
    .option('--interval <ms>', 'time between refreshes, in ms', '1000')
    .option('--iterations <n>', 'stop after n refreshes (default: until Ctrl-C)')
    .action(async (options: { all?: boolean; interval: string; iterations?: string }) => {
      const interval = Number(options.interval);
      const iterations =
        options.iterations === undefined ? Number.POSITIVE_INFINITY : Number(options.iterations);
      if (!Number.isInteger(interval) || interval < 100)
        throw new Error(`--interval takes a number of ms, at least 100, got '${options.interval}'`);
      if (!(iterations > 0))
        throw new Error(`--iterations takes a positive number, got '${options.iterations}'`);
      const tty = process.stdout.isTTY === true;
      let previous: Status | undefined;
      let stop = false;
      process.once('SIGINT', () => {
        stop = true;
      });
      for (let i = 0; i < iterations && !stop; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, interval));
        const status = await read();
        const screen = renderStatus(status, { all: options.all, previous });
        // On a terminal the screen is redrawn in place; otherwise each refresh follows the last.
        process.stdout.write(tty ? `\u001b[H\u001b[2J${screen}` : `${i > 0 ? '\n' : ''}${screen}`);
        previous = status;
      }
    });
}
