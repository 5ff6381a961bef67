import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { ensureJars, javaAvailable, javaLibs } from './java.ts';

export const debeziumAvailable = (): boolean => javaAvailable('Debezium', true);

export interface DebeziumEvent {
  topic: string;
  key: Record<string, unknown> | null;
  /** The envelope as Kafka Connect's JsonConverter writes it (schemas off), or null for a tombstone. */
  value: Record<string, unknown> | null;
}

export interface Debezium {
  /** Every event so far, in the order the engine handed them on. */
  readonly events: DebeziumEvent[];
  stop(): Promise<void>;
}

export interface DebeziumOptions {
  /** postgres://user@host:port/database */
  url: string;
  /** `public.orders,public.items`, as table.include.list takes them. */
  tables: string;
  slot: string;
  publication: string;
  /** `no_data` (stream only) or `initial`. Default no_data. */
  snapshotMode?: string;
  /** Forwards the engine's standard error (its log) to ours. */
  verbose?: boolean;
}

/** Debezium's embedded engine (test/support/debezium/DebeziumCapture.java), started and running. */
export async function startDebezium(options: DebeziumOptions): Promise<Debezium> {
  await ensureJars('debezium', 'debezium-embedded-');
  const url = new URL(options.url);
  const child: ChildProcess = spawn(
    'java',
    [
      '-cp',
      `${javaLibs('debezium')}/*`,
      path.join(import.meta.dirname, 'debezium', 'DebeziumCapture.java'),
      url.hostname,
      url.port,
      url.pathname.slice(1),
      decodeURIComponent(url.username),
      options.tables,
      options.slot,
      options.publication,
      options.snapshotMode ?? 'no_data',
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-50_000);
    if (options.verbose) process.stderr.write(d);
  });
  const events: DebeziumEvent[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const parsed = JSON.parse(line) as DebeziumEvent & { started?: boolean };
      if (parsed.started) resolve();
      else events.push(parsed);
    });
    void exited.then(() => reject(new Error(`Debezium exited before it started:\n${log}`)));
  });
  return {
    events,
    stop: async () => {
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
