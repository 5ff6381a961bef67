import pg from 'pg';
import { CdcReplicationError, CdcSetupError } from './cdc-errors.ts';
import { SESSION_SETTINGS } from './column-types.ts';
import { quoteIdent } from './sql-names.ts';
import { type CapturedTable, qualified } from './table-schema.ts';

/** Every value as PostgreSQL's text form: the CDC converters parse text, as pgoutput sends it. */
const RAW_TEXT = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig;

/** A plain connection to the source database, with the session settings the converters expect. */
export async function connectSource(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, options: SESSION_SETTINGS, types: RAW_TEXT });
  client.on('error', () => {}); // surfaces on the next query
  try {
    await client.connect();
  } catch (error) {
    throw new CdcReplicationError(`Cannot connect to the source database: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return client;
}

/** What logical replication needs of the server and the user, checked before anything is made. */
export async function checkServer(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ wal_level: string; replication: string; superuser: string }>(
    `SELECT current_setting('wal_level') AS wal_level, r.rolreplication::text AS replication,
            r.rolsuper::text AS superuser FROM pg_roles r WHERE r.rolname = current_user`,
  );
  const row = rows[0]!;
  if (row.wal_level !== 'logical')
    throw new CdcSetupError(
      `The source database has wal_level=${row.wal_level}: CDC needs wal_level=logical (set it in postgresql.conf, or ALTER SYSTEM SET wal_level = logical, and restart PostgreSQL)`,
    );
  if (row.replication !== 'true' && row.superuser !== 'true')
    throw new CdcSetupError(
      'The source database user may not replicate: ALTER ROLE … WITH REPLICATION (and give it SELECT on the captured tables)',
    );
}

/** Makes the publication, or adds and removes tables so that it publishes exactly these. */
export async function ensurePublication(
  client: pg.Client,
  publication: string,
  tables: readonly CapturedTable[],
): Promise<void> {
  const names = tables.map(qualified).join(', ');
  const { rows } = await client.query<{ schemaname: string; tablename: string }>(
    `SELECT p.pubname, t.schemaname, t.tablename FROM pg_publication p
       LEFT JOIN pg_publication_tables t ON t.pubname = p.pubname WHERE p.pubname = $1`,
    [publication],
  );
  try {
    if (rows.length === 0)
      await client.query(`CREATE PUBLICATION ${quoteIdent(publication)} FOR TABLE ${names}`);
    else {
      const has = new Set(
        rows.filter((r) => r.tablename !== null).map((r) => `${r.schemaname}.${r.tablename}`),
      );
      const wanted = new Set(tables.map((t) => t.id));
      if (has.size !== wanted.size || [...wanted].some((t) => !has.has(t)))
        await client.query(`ALTER PUBLICATION ${quoteIdent(publication)} SET TABLE ${names}`);
    }
  } catch (error) {
    throw new CdcSetupError(`Cannot set up publication ${publication}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

export interface SlotInfo {
  active: boolean;
  activePid: number | null;
  /** WAL the slot keeps from being recycled, in bytes. */
  retainedBytes: number;
  confirmedLsn: string | null;
  /** reserved, extended, unreserved, or lost (max_slot_wal_keep_size took its WAL). */
  walStatus: string | null;
}

export async function slotInfo(client: pg.Client, slot: string): Promise<SlotInfo | null> {
  const { rows } = await client.query<{
    active: string;
    active_pid: string | null;
    retained: string | null;
    confirmed_flush_lsn: string | null;
    wal_status: string | null;
  }>(
    `SELECT active::text, active_pid::text,
            pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint::text AS retained,
            confirmed_flush_lsn::text, wal_status
       FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  const row = rows[0];
  if (!row) return null;
  return {
    active: row.active === 'true',
    activePid: row.active_pid === null ? null : Number(row.active_pid),
    retainedBytes: Number(row.retained ?? 0),
    confirmedLsn: row.confirmed_flush_lsn,
    walStatus: row.wal_status,
  };
}

/** Drops a slot (waiting for nothing: an active slot is refused) and the publication, if there. */
export async function dropCapture(client: pg.Client, slot: string, publication: string): Promise<void> {
  const info = await slotInfo(client, slot);
  if (info?.active)
    throw new CdcSetupError(
      `Replication slot ${slot} is in use (PID ${info.activePid}): stop the Kappa that captures from it first`,
    );
  if (info) await client.query('SELECT pg_drop_replication_slot($1)', [slot]);
  await client.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(publication)}`);
}

/** `1.5 GiB`, for warnings. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let n = bytes;
  let unit = 0;
  while (n >= 1024 && unit < units.length - 1) {
    n /= 1024;
    unit++;
  }
  return `${n.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
