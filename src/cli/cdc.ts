import type { Command } from 'commander';
import { loadConfig, openBus } from '../config/index.ts';
import { ConfigError } from '../core/index.ts';
import {
  CDC_STATE_TOPIC,
  connectSource,
  dropCapture,
  formatBytes,
  type SourceStatus,
} from '../ingest/index.ts';
import { ensureTopic } from '../log/index.ts';
import type { KappaClient } from './client.ts';
import { renderTable } from './views.ts';

export function cdcCommand(program: Command, client: () => KappaClient): void {
  const cdc = program.command('cdc').description('change data capture from PostgreSQL (docs/ingest.md)');

  cdc
    .command('status')
    .description('each source: phase, position, snapshot progress, the WAL its slot holds')
    .action(async () => {
      const { sources } = await client().request<{ sources: SourceStatus[] }>('GET', '/v1/cdc');
      process.stdout.write(
        `${renderTable(
          ['source', 'phase', 'on the bus', 'confirmed', 'slot holds', 'snapshot', 'error'],
          sources.map((s) => [
            s.name,
            s.phase,
            s.lsn,
            s.confirmedLsn,
            s.retainedWalBytes === null ? null : formatBytes(s.retainedWalBytes),
            s.snapshot &&
              `${s.snapshot.table}: ${s.snapshot.rows}${s.snapshot.estimate > 0 ? ` of ~${s.snapshot.estimate}` : ''}`,
            s.lastError,
          ]),
        )}\n`,
      );
    });

  cdc
    .command('drop <source>')
    .description(
      "drop a source's replication slot and publication and forget its position (the next start snapshots again); Kappa must not be capturing it",
    )
    .option('--config <file>', 'config file (default: kappa.config.{ts,js,mjs,yaml,yml,json} if present)')
    .option('--data-dir <dir>', 'data folder of the embedded log')
    .option('--bus <url>', "the bus: 'embedded' or kafka://host:port (or KAPPA_BUS)", process.env.KAPPA_BUS)
    .option('--db <url>', 'the database, for a source no longer in the config')
    .option('--slot <name>', 'the slot, for a source no longer in the config (default kappa_<source>)')
    .option('--publication <name>', 'the publication (default kappa_<source>)')
    .action(async (name: string, options) => {
      const { config } = await loadConfig({
        ...(options.config ? { file: options.config } : {}),
        ...(options.bus ? { bus: options.bus } : {}),
        overrides: { dataDir: options.dataDir },
      });
      const configured = config.cdc.sources.find((s) => s.name === name);
      const url = options.db ?? configured?.url;
      if (!url) throw new ConfigError(`No CDC source '${name}' in the config: give its database with --db`);
      const slot = options.slot ?? configured?.slot ?? `kappa_${name}`;
      const publication = options.publication ?? configured?.publication ?? `kappa_${name}`;
      const db = await connectSource(url);
      try {
        await dropCapture(db, slot, publication);
      } finally {
        await db.end();
      }
      const bus = await openBus(config);
      try {
        await ensureTopic(bus, CDC_STATE_TOPIC, { partitions: 1, compacted: true });
        await bus.producer().send([{ topic: CDC_STATE_TOPIC, key: Buffer.from(name), value: null }]);
      } finally {
        await bus.close();
      }
      process.stdout.write(
        `Dropped slot ${slot} and publication ${publication}, and forgot where source ${name} was${configured ? ': remove it from the config, or the next start snapshots its tables again' : ''}\n`,
      );
    });
}
