import type { Command } from 'commander';
import type { KappaClient } from './client.ts';

interface FetchedRecord {
  key: string | null;
  value: string | null;
  partition: number;
  offset: number;
  timestamp: number;
  headers?: Record<string, string>;
}

interface Letter {
  offset: number;
  reason: string;
  pipeline: string;
  step: string;
  error: string;
  source: string;
  /** `result`: a window's result, not a record of a source topic; it cannot be replayed. */
  kind: 'record' | 'result';
  key: string | null;
  value: string | null;
  /** The source record's own headers (base64 values). */
  headers: Array<{ name: string; value: string }>;
}

/** Records per produce request when replaying: a large dead-letter topic goes back in bounded requests. */
const REPLAY_BATCH = 500;

const PREFIX = 'kappa.dlq.';

/** `kappa dlq`: look at dead letters and send them back to their source topics once the cause is fixed. */
export function dlqCommand(program: Command, client: () => KappaClient): void {
  const dlq = program.command('dlq').description('list, show and replay dead letters');
  const topicOption = ['--topic <topic>', 'the dead-letter topic', 'dead-letters'] as const;

  dlq
    .command('list')
    .description('one line per dead letter: offset, reason, pipeline/step, error, source')
    .option(...topicOption)
    .option('--pipeline <name>', 'only this pipeline')
    .option('--reason <reason>', 'only this reason: decode, error or late')
    .action(async (options: { topic: string; pipeline?: string; reason?: string }) => {
      for (const l of filter(await letters(client(), options.topic), options))
        process.stdout.write(`${l.offset}\t${l.reason}\t${l.pipeline}/${l.step}\t${l.error}\t${l.source}\n`);
    });

  dlq
    .command('show <offset>')
    .description('one dead letter in full, as JSON')
    .option(...topicOption)
    .action(async (offset: string, options: { topic: string }) => {
      const letter = (await letters(client(), options.topic)).find((l) => String(l.offset) === offset);
      if (!letter) throw new Error(`No dead letter at offset ${offset} of ${options.topic}`);
      process.stdout.write(`${JSON.stringify({ ...letter, value: text(letter.value) }, null, 2)}\n`);
    });

  dlq
    .command('replay')
    .description('send dead letters back to their source topics (all, or those matching the filters)')
    .option(...topicOption)
    .option('--pipeline <name>', 'only this pipeline')
    .option('--reason <reason>', 'only this reason: decode, error or late')
    .option('--from <offset>', 'only dead letters at or after this offset')
    .action(async (options: { topic: string; pipeline?: string; reason?: string; from?: string }) => {
      const chosen = filter(await letters(client(), options.topic), options).filter(
        (l) => options.from === undefined || l.offset >= Number(options.from),
      );
      const results = chosen.filter((l) => l.kind === 'result');
      const records = chosen.filter((l) => l.kind === 'record');
      if (results.length > 0)
        process.stderr.write(
          `Refused ${results.length} dead letter${results.length === 1 ? '' : 's'} (offset${results.length === 1 ? '' : 's'} ${results
            .slice(0, 10)
            .map((l) => l.offset)
            .join(
              ', ',
            )}${results.length > 10 ? ', …' : ''}): window results, not records of a source topic; replaying them would write results into the pipeline's input. Fix the pipeline and replay its input instead.\n`,
        );
      if (records.length === 0 && results.length > 0)
        throw new Error('Nothing to replay: every dead letter chosen is a window result');
      const bySource = new Map<string, Letter[]>();
      for (const l of records) {
        const topic = l.source.split('/')[0]!;
        bySource.set(topic, [...(bySource.get(topic) ?? []), l]);
      }
      let sent = 0;
      for (const [topic, list] of bySource)
        for (let i = 0; i < list.length; i += REPLAY_BATCH) {
          const batch = list.slice(i, i + REPLAY_BATCH);
          await client().request(
            'POST',
            `/topics/${encodeURIComponent(topic)}`,
            {
              records: batch.map((l) => ({
                key: l.key,
                value: l.value,
                ...(l.headers.length > 0 ? { headers: l.headers } : {}),
              })),
            },
            'application/vnd.kafka.binary.v2+json',
          );
          sent += batch.length;
          if (list.length > REPLAY_BATCH) process.stderr.write(`\r${sent} of ${records.length} replayed`);
        }
      if (records.length > REPLAY_BATCH) process.stderr.write('\n');
      process.stderr.write(`Replayed ${records.length} dead letter${records.length === 1 ? '' : 's'}\n`);
    });
}

async function letters(client: KappaClient, topic: string): Promise<Letter[]> {
  const out: Letter[] = [];
  for (let offset = 0; ; ) {
    const page = await client.request<{ records: FetchedRecord[] }>(
      'GET',
      `/v1/topics/${encodeURIComponent(topic)}/records?partition=0&offset=${offset}&limit=1000&format=binary&timeout_ms=500`,
    );
    if (page.records.length === 0) return out;
    for (const r of page.records) {
      const h = (name: string) =>
        r.headers?.[PREFIX + name] ? Buffer.from(r.headers[PREFIX + name]!, 'base64').toString() : '';
      out.push({
        offset: r.offset,
        reason: h('reason'),
        pipeline: h('pipeline'),
        step: h('step'),
        error: `${h('error.class')}: ${h('error.message')}`,
        source: `${h('source.topic')}/${h('source.partition')}@${h('source.offset')}`,
        // Letters from before the kind header: a result has no source partition.
        kind:
          (h('kind') || (Number(h('source.partition')) < 0 ? 'result' : 'record')) === 'result'
            ? 'result'
            : 'record',
        key: r.key,
        value: r.value,
        headers: Object.entries(r.headers ?? {})
          .filter(([name]) => !name.startsWith(PREFIX))
          .map(([name, value]) => ({ name, value })),
      });
    }
    offset = page.records.at(-1)!.offset + 1;
  }
}

function filter(list: Letter[], options: { pipeline?: string; reason?: string }): Letter[] {
  return list.filter(
    (l) =>
      (!options.pipeline || l.pipeline === options.pipeline) &&
      (!options.reason || l.reason === options.reason),
  );
}

/** A value for people: the text if it is text, else base64. */
function text(base64: string | null): string | null {
  if (base64 === null) return null;
  const decoded = Buffer.from(base64, 'base64').toString('utf8');
  return decoded.includes('\uFFFD') ? base64 : decoded;
}
