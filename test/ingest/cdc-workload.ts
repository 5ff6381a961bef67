import pg from 'pg';
import { expect } from 'vitest';
import { seededRandom } from '../support/random.ts';
import type { ChangeRecord } from './cdc-helpers.ts';
import { tableOf } from './cdc-helpers.ts';

/**
 * A random workload on `accounts (id, v, note)` whose every change can be checked from the topic
 * alone: a row is inserted with v = 0, each update adds exactly 1 to v, ids are never reused. So a
 * key's records must read r|c, then u with v rising by exactly one each, then d and its tombstone:
 * a lost change shows as a gap, a duplicated one as a repeat (also at the snapshot's seam).
 */
export const ACCOUNTS_DDL = 'CREATE TABLE accounts (id int PRIMARY KEY, v int NOT NULL, note text)';

/** `rows` accounts with v = 0. */
export async function seedAccounts(url: string, rows: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(ACCOUNTS_DDL);
  await client.query(`INSERT INTO accounts SELECT g, 0, 'seed' FROM generate_series(1, ${rows}) g`);
  await client.end();
}

export interface Writer {
  /** Transactions committed so far. */
  readonly committed: number;
  /** Stops after the transaction in flight; resolves once stopped. */
  stop(): Promise<void>;
}

/**
 * Writes transactions of 1-5 random changes until stopped, reconnecting when the server goes away
 * (a transaction cut off by that is rolled back, so it changes nothing and is simply not counted).
 */
export function startWriter(url: string, seed: number, firstNewId: number): Writer {
  const random = seededRandom(seed);
  let nextId = firstNewId;
  let committed = 0;
  let stopped = false;
  const loop = (async () => {
    let client: pg.Client | null = null;
    while (!stopped) {
      try {
        if (!client) {
          client = new pg.Client({ connectionString: url });
          client.on('error', () => {});
          await client.connect();
        }
        const { rows } = await client.query<{ max: number }>('SELECT max(id) AS max FROM accounts');
        const max = Math.max(rows[0]!.max ?? 1, 1);
        await client.query('BEGIN');
        const changes = 1 + Math.floor(random() * 5);
        // A commit whose answer was lost (the server went away) may have used ids: start past them.
        let ids = Math.max(nextId, max + 1);
        for (let i = 0; i < changes; i++) {
          const r = random();
          const id = 1 + Math.floor(random() * max);
          if (r < 0.35) await client.query("INSERT INTO accounts VALUES ($1, 0, 'new')", [ids++]);
          else if (r < 0.9) await client.query('UPDATE accounts SET v = v + 1 WHERE id = $1', [id]);
          else await client.query('DELETE FROM accounts WHERE id = $1', [id]);
        }
        await client.query('COMMIT');
        nextId = ids;
        committed++;
      } catch {
        await client?.end().catch(() => {});
        client = null;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await client?.end().catch(() => {});
  })();
  return {
    get committed() {
      return committed;
    },
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

export async function accountRows(url: string): Promise<Map<string, Record<string, unknown>>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query<{ id: number; v: number; note: string }>(
    'SELECT id, v, note FROM accounts ORDER BY id',
  );
  await client.end();
  return new Map(rows.map((r) => [JSON.stringify({ id: r.id }), { id: r.id, v: r.v, note: r.note }]));
}

/** Every key's records follow the workload's rules, and the topic's table is the database's. */
export function checkAccounts(
  changes: readonly ChangeRecord[],
  rows: Map<string, Record<string, unknown>>,
): void {
  const seen = new Map<string, { v: number | null; deleted: boolean; tombstoned: boolean }>();
  const problems: string[] = [];
  for (const c of changes) {
    const at = seen.get(c.key);
    const where = `${c.key} at ${c.partition}/${c.offset}`;
    if (c.value === null) {
      if (!at?.deleted || at.tombstoned) problems.push(`${where}: a tombstone without a delete`);
      else at.tombstoned = true;
      continue;
    }
    const op = c.value.op as string;
    const v = (c.value.after as { v: number } | null)?.v ?? null;
    if (op === 'r' || op === 'c') {
      if (at) problems.push(`${where}: ${op} of a key seen before (a duplicate)`);
      else if (op === 'c' && v !== 0) problems.push(`${where}: created with v=${v}`);
      seen.set(c.key, { v, deleted: false, tombstoned: false });
    } else if (op === 'u') {
      if (!at || at.deleted) problems.push(`${where}: update of a key not there`);
      else if (v !== at.v! + 1) problems.push(`${where}: v went ${at.v} → ${v} (a change lost or repeated)`);
      else at.v = v;
    } else if (op === 'd') {
      if (!at || at.deleted) problems.push(`${where}: delete of a key not there`);
      else at.deleted = true;
    } else problems.push(`${where}: op ${op}`);
  }
  expect(problems.slice(0, 20)).toEqual([]);
  const topic = tableOf(changes);
  const differ = [...new Set([...topic.keys(), ...rows.keys()])].filter(
    (k) => JSON.stringify(topic.get(k)) !== JSON.stringify(rows.get(k)),
  );
  expect(differ.slice(0, 20).map((k) => [k, topic.get(k), rows.get(k)])).toEqual([]);
}
