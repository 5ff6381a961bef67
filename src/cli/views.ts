import type { Command } from 'commander';
import type { KappaClient } from './client.ts';

interface ViewInfo {
  name: string;
  topic: string;
  key: { name: string; type: string };
  columns: Array<{ name: string; type: string }>;
  retentionMs: number | null;
  rows: number;
}

interface VersionRow {
  version: number;
  table: string;
  state: string;
  rows: number;
  lag: number | null;
}

interface QueryAnswer {
  columns: Array<{ name: string; type: string }>;
  rows: unknown[][];
  truncated: boolean;
}

/** Cells as text, in columns padded to their widest cell, as `psql` prints them. */
export function renderTable(columns: string[], rows: unknown[][]): string {
  const text = (v: unknown) =>
    v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  const cells = rows.map((r) => r.map(text));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) => ` ${values.map((v, i) => v.padEnd(widths[i]!)).join(' | ')}`.trimEnd();
  return [
    line(columns),
    widths.map((w) => '-'.repeat(w + 2)).join('+'),
    ...cells.map(line),
    `(${rows.length} row${rows.length === 1 ? '' : 's'})`,
  ].join('\n');
}

export function viewsCommand(program: Command, client: () => KappaClient): void {
  const views = program.command('views').description('list and describe the views pipelines keep');

  views
    .command('list')
    .description('the views, with their row counts')
    .action(async () => {
      const { views: list } = await client().request<{ views: ViewInfo[] }>('GET', '/v1/views');
      process.stdout.write(
        `${renderTable(
          ['view', 'key', 'columns', 'rows'],
          list.map((v) => [v.name, v.key.type, v.columns.map((c) => c.name).join(', '), v.rows]),
        )}\n`,
      );
    });

  views
    .command('describe <view>')
    .description("a view's columns and types, topic, retention and rows")
    .action(async (name: string) => {
      const { views: list } = await client().request<{ views: ViewInfo[] }>('GET', '/v1/views');
      const view = list.find((v) => v.name === name);
      if (!view)
        throw new Error(`No view '${name}' (there: ${list.map((v) => v.name).join(', ') || 'none'})`);
      const retention = view.retentionMs === null ? 'kept for ever' : `${view.retentionMs / 1000} s`;
      process.stdout.write(
        `View ${view.name}: ${view.rows} rows, from topic ${view.topic}; rows ${retention}\n${renderTable(
          ['column', 'type'],
          [[view.key.name, view.key.type], ...view.columns.map((c) => [c.name, c.type])],
        )}\n`,
      );
    });

  const printVersions = (answer: { view: string; versions: VersionRow[] }) =>
    process.stdout.write(
      `${renderTable(
        ['version', 'state', 'rows', 'lag', 'table'],
        answer.versions.map((v) => [v.version, v.state, v.rows, v.lag ?? '-', v.table]),
      )}\n`,
    );
  const path = (view: string, what: string) => `/v1/views/${encodeURIComponent(view)}/${what}`;

  views
    .command('versions <view>')
    .description(
      "a view's versions: which one queries read (serving), which are building or ready, held or retired",
    )
    .action(async (view: string) => {
      printVersions(await client().request('GET', path(view, 'versions')));
    });

  views
    .command('promote <view>')
    .description('queries read this version from now on (default the newest); it must have caught up')
    .option('--version <n>', 'the version to promote')
    .option('--force', 'promote a version that has not caught up (queries see it half built)')
    .action(async (view: string, options: { version?: string; force?: boolean }) => {
      printVersions(
        await client().request('POST', path(view, 'promote'), {
          ...(options.version === undefined ? {} : { version: Number(options.version) }),
          ...(options.force ? { force: true } : {}),
        }),
      );
    });

  views
    .command('rollback <view>')
    .description('queries read the version before the one served, which is held from promotion')
    .action(async (view: string) => {
      printVersions(await client().request('POST', path(view, 'rollback'), {}));
    });

  program
    .command('query <sql>')
    .description('run a read-only SQL query over the views (a table; JSON lines with --json)')
    .option('--json', 'one JSON object per row')
    .option('--limit <n>', 'rows at most')
    .action(async (sql: string, options: { json?: boolean; limit?: string }) => {
      const answer = await client().request<QueryAnswer>('POST', '/v1/query', {
        sql,
        ...(options.limit === undefined ? {} : { limit: Number(options.limit) }),
      });
      const names = answer.columns.map((c) => c.name);
      if (options.json)
        for (const row of answer.rows)
          process.stdout.write(`${JSON.stringify(Object.fromEntries(names.map((n, i) => [n, row[i]])))}\n`);
      else process.stdout.write(`${renderTable(names, answer.rows)}\n`);
      if (answer.truncated) process.stderr.write('(more rows: the result was cut at the row limit)\n');
    });

  program
    .command('lookup <view> <key>')
    .description("a key's latest window in a view (from the cache), as JSON")
    .action(async (view: string, key: string) => {
      const row = await client().request<unknown>(
        'GET',
        `/v1/views/${encodeURIComponent(view)}/keys/${encodeURIComponent(key)}`,
      );
      process.stdout.write(`${JSON.stringify(row, null, 2)}\n`);
    });
}
