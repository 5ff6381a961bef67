import type { Command } from 'commander';
import { ParquetFiles, readHistory, readManifest } from '../archive/index.ts';
import { openArchiveStore } from '../config/index.ts';
import { type ConsumedRecord, InvalidArgumentError } from '../core/index.ts';
import { ensureTopic } from '../log/index.ts';
import { localBusOptions, openLocalBus } from './local-bus.ts';
import { Progress } from './progress.ts';

/** `--from` / `--to`: an offset of each partition (digits) or a time (ISO 8601). */
type Bound = { offset: number } | { time: number };

export function parseBound(text: string, flag: string): Bound {
  if (/^\d+$/.test(text)) return { offset: Number(text) };
  const time = Date.parse(text);
  if (Number.isNaN(time))
    throw new InvalidArgumentError(
      `${flag} takes an offset (digits) or a time (2026-01-31T12:00:00Z), got '${text}'`,
    );
  return { time };
}

export function replayCommand(program: Command): void {
  const command = program
    .command('replay <topic>')
    .description(
      'stream a topic’s history, from the archive and then the log, seamlessly (docs/history.md); on the embedded log, while kappa up is stopped',
    )
    .option('--from <offset|time>', 'first offset of each partition, or first timestamp (inclusive)')
    .option('--to <offset|time>', 'offset or timestamp to stop before (default: the log’s end now)')
    .option(
      '--into <topic>',
      'write the records into this topic (same partitions, keys, headers, timestamps) instead of stdout',
    )
    .option(
      '--skip-corrupt',
      'go on past unreadable archive files (each is reported; their records are missing)',
    );
  localBusOptions(command).action(async (topic: string, options) => {
    const from = options.from === undefined ? undefined : parseBound(options.from, '--from');
    const to = options.to === undefined ? undefined : parseBound(options.to, '--to');
    const { config, bus } = await openLocalBus(options);
    const store = await openArchiveStore(config);
    const files = new ParquetFiles();
    try {
      const ranges = await bus.partitionOffsets(topic);
      if (options.into) await ensureTopic(bus, options.into, { partitions: ranges.length });
      const producer = options.into ? bus.producer() : null;
      let total = 0;
      for (const r of ranges) {
        const manifest = await readManifest(store, topic, r.partition);
        total +=
          (manifest?.files.reduce((n, f) => n + f.records, 0) ?? 0) +
          (r.end - Math.max(r.start, manifest?.next ?? 0));
      }
      const progress = new Progress(`replay ${topic}`, total);
      const wanted = (rec: ConsumedRecord) =>
        (!from || ('offset' in from ? rec.offset >= from.offset : rec.timestamp >= from.time)) &&
        (!to || ('offset' in to ? rec.offset < to.offset : rec.timestamp < to.time));
      const gaps: string[] = [];
      const skipped: string[] = [];
      for (const r of ranges) {
        for await (const batch of readHistory({
          bus,
          store,
          files,
          topic,
          partition: r.partition,
          ...(from && 'offset' in from ? { from: from.offset } : {}),
          ...(to && 'offset' in to ? { to: to.offset } : {}),
          skipCorrupt: options.skipCorrupt === true,
          onSkipped: (f) => skipped.push(`${f.key} (offsets ${f.first}..${f.last})`),
          onGap: (g) => gaps.push(`partition ${r.partition} offsets ${g.from}..${g.to - 1}`),
        })) {
          const records = batch.filter(wanted);
          if (producer)
            await producer.send(
              records.map((rec) => ({
                topic: options.into,
                partition: rec.partition,
                key: rec.key,
                value: rec.value,
                headers: rec.headers,
                timestamp: rec.timestamp,
              })),
            );
          else
            process.stdout.write(
              records
                .map((rec) =>
                  JSON.stringify({
                    partition: rec.partition,
                    offset: rec.offset,
                    timestamp: rec.timestamp,
                    key: rec.key?.toString('utf8') ?? null,
                    value: rec.value?.toString('utf8') ?? null,
                  }),
                )
                .join('\n') + (records.length > 0 ? '\n' : ''),
            );
          progress.add(
            batch.length,
            batch.reduce((n, rec) => n + (rec.key?.length ?? 0) + (rec.value?.length ?? 0), 0),
          );
        }
      }
      await producer?.close();
      progress.done();
      for (const g of gaps)
        process.stderr.write(`History lost (deleted from the log before it was archived): ${g}\n`);
      for (const s of skipped) process.stderr.write(`Skipped unreadable archive file ${s}\n`);
    } finally {
      await files.close();
      await store.close();
      await bus.close();
    }
  });
}
