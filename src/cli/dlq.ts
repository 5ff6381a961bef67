import type { Command } from 'commander';
import type {
  DeadLetterJson as Letter,
  DeadLetterPageJson as Page,
  ReplayAnswerJson,
} from '../http/index.ts';
import type { KappaClient } from './client.ts';

interface Filters {
  pipeline?: string;
  reason?: string;
  from?: string;
}

/** Offsets per replay request: a large dead-letter topic goes back in bounded requests. */
const REPLAY_BATCH = 500;

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
    .action(async (options: Filters & { topic: string }) => {
      for await (const page of pages(client(), options.topic, options))
        for (const l of page.letters)
          process.stdout.write(
            `${page.partitions > 1 ? `${l.partition}/` : ''}${l.offset}\t${l.reason}\t${l.pipeline}/${l.step}\t${l.errorClass}: ${l.message}\t${l.source.topic}/${l.source.partition}@${l.source.offset}\n`,
          );
    });

  dlq
    .command('show <offset>')
    .description('one dead letter in full, as JSON')
    .option(...topicOption)
    .option('--partition <partition>', 'of the dead-letter topic', '0')
    .action(async (offset: string, options: { topic: string; partition: string }) => {
      const page = await client().request<Page>(
        'GET',
        `/v1/topics/${encodeURIComponent(options.topic)}/dead-letters?partition=${encodeURIComponent(options.partition)}&from=${encodeURIComponent(offset)}&limit=1`,
      );
      const letter = page.letters.find((l) => String(l.offset) === offset);
      if (!letter) throw new Error(`No dead letter at offset ${offset} of ${options.topic}`);
      process.stdout.write(
        `${JSON.stringify({ ...letter, key: text(letter.key), value: text(letter.value) }, null, 2)}\n`,
      );
    });

  dlq
    .command('replay')
    .description('send dead letters back to their source topics (all, or those matching the filters)')
    .option(...topicOption)
    .option('--pipeline <name>', 'only this pipeline')
    .option('--reason <reason>', 'only this reason: decode, error or late')
    .option('--from <offset>', 'only dead letters at or after this offset')
    .action(async (options: Filters & { topic: string }) => {
      const chosen: Letter[] = [];
      for await (const page of pages(client(), options.topic, options)) chosen.push(...page.letters);
      const results = chosen.filter((l) => l.kind === 'result');
      const records = chosen.filter((l) => l.kind === 'record');
      if (results.length > 0)
        process.stderr.write(
          `Refused ${plural(results.length, 'dead letter')} (offset${results.length === 1 ? '' : 's'} ${results
            .slice(0, 10)
            .map((l) => l.offset)
            .join(
              ', ',
            )}${results.length > 10 ? ', …' : ''}): window results, not records of a source topic; replaying them would write results into the pipeline's input. Fix the pipeline and replay its input instead.\n`,
        );
      if (records.length === 0 && results.length > 0)
        throw new Error('Nothing to replay: every dead letter chosen is a window result');
      let replayed = 0;
      let done = 0;
      // A request names one partition of the dead-letter topic.
      for (const [partition, list] of Map.groupBy(records, (l) => l.partition))
        for (let i = 0; i < list.length; i += REPLAY_BATCH) {
          const batch = list.slice(i, i + REPLAY_BATCH);
          const answer = await client().request<ReplayAnswerJson>(
            'POST',
            `/v1/topics/${encodeURIComponent(options.topic)}/dead-letters/replay`,
            {
              partition,
              offsets: batch.map((l) => l.offset),
            },
          );
          replayed += answer.replayed.length;
          for (const r of answer.refused) process.stderr.write(`\rRefused offset ${r.offset}: ${r.why}\n`);
          done += batch.length;
          if (records.length > REPLAY_BATCH) process.stderr.write(`\r${done} of ${records.length} replayed`);
        }
      if (records.length > REPLAY_BATCH) process.stderr.write('\n');
      process.stderr.write(`Replayed ${plural(replayed, 'dead letter')}\n`);
    });
}

/** The dead letters of every partition matching the filters, a page at a time. */
async function* pages(client: KappaClient, topic: string, f: Filters): AsyncGenerator<Page> {
  const start = f.from === undefined ? 0 : Number(f.from);
  if (!Number.isSafeInteger(start) || start < 0)
    throw new Error(`--from must be an offset (an integer of at least 0), got '${f.from}'`);
  let count = 1;
  for (let partition = 0; partition < count; partition++)
    for (let from = start; ; ) {
      const query = new URLSearchParams({ partition: String(partition), from: String(from), limit: '1000' });
      if (f.pipeline) query.set('pipeline', f.pipeline);
      if (f.reason) query.set('reason', f.reason);
      const p = await client.request<Page>(
        'GET',
        `/v1/topics/${encodeURIComponent(topic)}/dead-letters?${query}`,
      );
      count = p.partitions;
      yield p;
      if (p.next >= p.end) break;
      from = p.next;
    }
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

/** A value for people: the text if it is text, else base64. */
function text(base64: string | null): string | null {
  if (base64 === null) return null;
  const decoded = Buffer.from(base64, 'base64').toString('utf8');
  return decoded.includes('\uFFFD') ? base64 : decoded;
}
