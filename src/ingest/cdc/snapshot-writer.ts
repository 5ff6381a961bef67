import type { Capture } from './capture.ts';
import { type CdcState, type Segment, snapshotted } from './cdc-state.ts';
import { formatLsn } from './pgoutput.ts';
import { SnapshotReader } from './snapshot-reader.ts';
import { connectSource } from './source-database.ts';

/** Reads every table not snapshotted yet, a page per bus transaction, each with the state it reaches. */
export async function snapshotTables(
  capture: Capture,
  snapshotName: string,
  lsn: bigint,
  state: CdcState,
): Promise<void> {
  capture.status.phase = 'snapshot';
  const pageRows = capture.snapshotPageRows;
  const client = await connectSource(capture.url);
  const reader = await SnapshotReader.open(client, snapshotName);
  try {
    for (const table of capture.tables.values()) {
      const segments = state.tables[table.id]!;
      if (snapshotted(segments)) continue;
      let after = segments.at(-1)?.upTo ?? null;
      const estimate = await reader.estimate(table);
      let rows = state.snapshotRows?.[table.id] ?? 0;
      let current: Segment | null = null;
      let logged = Date.now();
      capture.status.snapshot = { table: table.id, rows, estimate };
      capture.logger.info(
        { source: capture.name, table: table.id, estimate, resumingAfter: after },
        'snapshot of a table started',
      );
      for (;;) {
        if (capture.stopped()) return;
        const page = await reader.page(table, after, pageRows);
        const done = page.length < pageRows;
        if (page.length > 0) {
          const last = page.at(-1)!;
          after = table.key.map((k) => last[table.columns.findIndex((c) => c.name === k)] as string);
        }
        const upTo = done ? null : after;
        if (current) current.upTo = upTo;
        else segments.push((current = { upTo, lsn: String(lsn) }));
        rows += page.length;
        state.snapshotRows = { ...state.snapshotRows, [table.id]: rows };
        const tsMs = Date.now();
        const records = page.flatMap((row) =>
          capture.records
            .records({
              table,
              op: 'r',
              before: null,
              beforeKeyOnly: false,
              after: row,
              source: capture.changeSource(table, {
                tsMs,
                snapshot: 'true',
                txId: null,
                lsn,
                lastCommitLsn: null,
              }),
            })
            .map((k) => k.record),
        );
        await capture.commit(records, state);
        capture.status.lsn = formatLsn(BigInt(state.lsn));
        capture.status.snapshot = { table: table.id, rows, estimate };
        if (done || Date.now() - logged > 5000) {
          logged = Date.now();
          capture.logger.info(
            {
              source: capture.name,
              table: table.id,
              rows,
              estimate,
              ...(estimate > 0 ? { percent: Math.min(100, Math.round((rows / estimate) * 100)) } : {}),
            },
            done ? 'snapshot of a table done' : 'snapshot in progress',
          );
        }
        if (done) break;
      }
    }
    state.snapshotRows = undefined;
    capture.status.snapshot = null;
  } finally {
    await reader.close();
    await client.end().catch(() => {});
  }
}
