import { createInterface } from 'node:readline';
import type { KappaClient } from './client.ts';

const BATCH = 500;

/**
 * `kappa produce TOPIC`: JSON lines `{"key":…,"value":…}` (or `{"value":…}`, `"partition"` optional)
 * from stdin, sent in batches. A bad line stops with its line number before that batch is sent.
 */
export async function produce(client: KappaClient, topic: string): Promise<void> {
  const input = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  let batch: unknown[] = [];
  let lineNo = 0;
  let sent = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    await client.request(
      'POST',
      `/topics/${encodeURIComponent(topic)}`,
      { records: batch },
      'application/vnd.kafka.json.v2+json',
    );
    sent += batch.length;
    batch = [];
  };
  for await (const line of input) {
    lineNo++;
    if (line.trim() === '') continue;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch (error) {
      throw new Error(
        `line ${lineNo} is not JSON (${(error as Error).message}); expected {"key":…,"value":…}`,
      );
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record) || !('value' in record)) {
      throw new Error(
        `line ${lineNo}: expected an object with a "value" (and optionally "key", "partition")`,
      );
    }
    batch.push(record);
    if (batch.length >= BATCH) await flush();
  }
  await flush();
  process.stderr.write(`Produced ${sent} record${sent === 1 ? '' : 's'} to ${topic}\n`);
}
