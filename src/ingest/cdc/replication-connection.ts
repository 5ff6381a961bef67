import pg from 'pg';
import { CdcReplicationError, CdcSetupError } from './cdc-errors.ts';
import { SESSION_SETTINGS } from './column-types.ts';
import { formatLsn, parseLsn } from './pgoutput.ts';
import { quoteIdent, quoteLiteral } from './sql-names.ts';

/** Microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01. */
const PG_EPOCH_MS = 946_684_800_000;

export interface CreatedSlot {
  /** Where streaming from the slot starts: every transaction committed after it is decoded. */
  consistentPoint: bigint;
  /** The snapshot that sees exactly what committed before the consistent point, while this connection waits. */
  snapshotName: string;
}

export interface StreamHandlers {
  /** One pgoutput message and the WAL position it starts at. Awaited: no other is handed on meanwhile. */
  onMessage(message: Buffer, walStart: bigint): Promise<void>;
  /**
   * The server has decoded the WAL up to `walEnd` and sent everything of it that concerns the
   * publication: called in order with the messages, so a source with nothing in hand may confirm it.
   */
  onKeepalive(walEnd: bigint): Promise<void>;
  onError(error: Error): void;
}

/** Messages received but not handed on yet, past which the socket is paused (and resumed below half). */
const MAX_QUEUED_MESSAGES = 10_000;

/**
 * A replication connection (`replication=database`) over node-postgres: slot commands and the
 * COPY BOTH stream of START_REPLICATION. The flushed position told to the server is only ever the
 * one `confirm` was given, never what was merely received (pg-logical-replication's keepalive
 * answers with the received position, upstream issue #174, so the server may drop WAL Kappa has not
 * written to the bus yet).
 */
export class ReplicationConnection {
  readonly #client: pg.Client;
  #confirmed = 0n;
  #streaming = false;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  /** Messages handed on one at a time, in order. */
  #chain: Promise<void> = Promise.resolve();
  #queued = 0;
  #paused = false;

  private constructor(client: pg.Client) {
    this.#client = client;
  }

  static async open(url: string): Promise<ReplicationConnection> {
    const client = new pg.Client({
      connectionString: url,
      replication: 'database',
      options: SESSION_SETTINGS,
    } as pg.ClientConfig);
    client.on('error', () => {}); // reported through the stream's onError or the next command
    try {
      await client.connect();
    } catch (error) {
      throw new CdcReplicationError(`Cannot open a replication connection: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return new ReplicationConnection(client);
  }

  /**
   * CREATE_REPLICATION_SLOT … LOGICAL pgoutput, exporting its snapshot (valid while this connection
   * stays open and runs no other command). A temporary slot goes when the connection closes: it is
   * made only for its snapshot and consistent point.
   */
  async createSlot(slot: string, options: { temporary?: boolean } = {}): Promise<CreatedSlot> {
    const result = await this.#command(
      `CREATE_REPLICATION_SLOT ${quoteIdent(slot)}${options.temporary ? ' TEMPORARY' : ''} LOGICAL pgoutput (SNAPSHOT 'export')`,
    );
    const row = result.rows[0] as { consistent_point: string; snapshot_name: string };
    return { consistentPoint: parseLsn(row.consistent_point), snapshotName: row.snapshot_name };
  }

  /**
   * START_REPLICATION from `from` (the server starts at the slot's confirmed position when that is
   * later). Resolves once the stream has started; messages then go to `handlers` in order.
   */
  async start(slot: string, publication: string, from: bigint, handlers: StreamHandlers): Promise<void> {
    this.#confirmed = from;
    const connection = (this.#client as unknown as { connection: PgConnection }).connection;
    let failed = false;
    const handOn = (work: () => Promise<void>) => {
      this.#queued++;
      if (this.#queued > MAX_QUEUED_MESSAGES && !this.#paused) {
        this.#paused = true;
        connection.stream.pause();
      }
      this.#chain = this.#chain.then(async () => {
        this.#queued--;
        if (this.#paused && this.#queued < MAX_QUEUED_MESSAGES / 2) {
          this.#paused = false;
          connection.stream.resume();
        }
        if (failed || this.#closed) return;
        try {
          await work();
        } catch (error) {
          // Nothing after a failed message may be handed on: the source starts again from the bus.
          failed = true;
          handlers.onError(error as Error);
        }
      });
    };
    connection.on('copyData', ({ chunk }: { chunk: Buffer }) => {
      if (chunk[0] === 0x77) {
        // XLogData: start LSN, end of WAL, server clock, then one pgoutput message.
        const walStart = chunk.readBigUInt64BE(1);
        // A copy: pg's parser reuses its buffer for the messages after, and this one may wait in the queue.
        const message = Buffer.from(chunk.subarray(25));
        handOn(() => handlers.onMessage(message, walStart));
      } else if (chunk[0] === 0x6b) {
        // Keepalive: end of WAL, server clock, whether it wants an answer now (or it drops us).
        const walEnd = chunk.readBigUInt64BE(1);
        if (chunk[17] === 1) this.#status();
        handOn(() => handlers.onKeepalive(walEnd));
      }
    });
    const options = `proto_version '1', publication_names ${quoteLiteral(quoteIdent(publication))}`;
    await new Promise<void>((resolve, reject) => {
      connection.once('replicationStart', resolve);
      this.#client
        .query(`START_REPLICATION SLOT ${quoteIdent(slot)} LOGICAL ${formatLsn(from)} (${options})`)
        .catch((error: Error & { code?: string }) => {
          if (!this.#streaming) reject(replicationError(error, slot));
          else if (!this.#closed)
            handlers.onError(
              new CdcReplicationError(`Replication stopped: ${error.message}`, { cause: error }),
            );
        });
    });
    this.#streaming = true;
    // The server also expects a status now and then (wal_sender_timeout, 60 s by default).
    this.#timer = setInterval(() => this.#status(), 10_000);
    this.#timer.unref();
  }

  /**
   * Tells the server that everything up to `lsn` is durable on Kappa's side: the slot may release the
   * WAL before it. Only ever moves forward.
   */
  confirm(lsn: bigint): void {
    if (lsn <= this.#confirmed) return;
    this.#confirmed = lsn;
    this.#status();
  }

  get confirmed(): bigint {
    return this.#confirmed;
  }

  /** Messages received and not handed on yet. */
  get queued(): number {
    return this.#queued;
  }

  /** Resolves once every message received so far has been handed on. */
  async drained(): Promise<void> {
    let chain: Promise<void>;
    do {
      chain = this.#chain;
      await chain;
    } while (chain !== this.#chain);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#client.end().catch(() => {});
  }

  /** A Standby Status Update: written, flushed and applied all at the confirmed position. */
  #status(): void {
    if (!this.#streaming || this.#closed) return;
    const b = Buffer.alloc(34);
    b.write('r', 0, 'latin1');
    b.writeBigUInt64BE(this.#confirmed, 1);
    b.writeBigUInt64BE(this.#confirmed, 9);
    b.writeBigUInt64BE(this.#confirmed, 17);
    b.writeBigInt64BE(BigInt(Date.now() - PG_EPOCH_MS) * 1000n, 25);
    b[33] = 0;
    (this.#client as unknown as { connection: PgConnection }).connection.sendCopyFromChunk(b);
  }

  async #command(sql: string): Promise<pg.QueryResult> {
    try {
      return await this.#client.query(sql);
    } catch (error) {
      throw new CdcReplicationError(`${sql.split(' ')[0]} failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
}

/** START_REPLICATION refused: a slot another client streams from is a setup error worth retrying. */
function replicationError(error: Error & { code?: string }, slot: string): Error {
  if (error.code === '55006')
    return new CdcSetupError(
      `Replication slot ${slot} is in use by another client (${error.message}): is another Kappa capturing this source?`,
      { cause: error, retriable: true },
    );
  return new CdcReplicationError(`START_REPLICATION failed: ${error.message}`, { cause: error });
}

interface PgConnection {
  stream: { pause(): void; resume(): void };
  on(event: 'copyData', listener: (message: { chunk: Buffer }) => void): void;
  once(event: 'replicationStart', listener: () => void): void;
  sendCopyFromChunk(chunk: Buffer): void;
}
