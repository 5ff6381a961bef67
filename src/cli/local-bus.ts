import type { Command } from 'commander';
import { type KappaConfig, loadConfig, openBus } from '../config/index.ts';
import type { Bus } from '../log/index.ts';

export interface LocalBusOptions {
  config?: string;
  dataDir?: string;
  bus?: string;
}

/** The options of a command that opens the bus itself rather than asking a running kappa up. */
export function localBusOptions(command: Command): Command {
  return command
    .option('--config <file>', 'config file (default: kappa.config.{ts,js,mjs,yaml,yml,json} if present)')
    .option('--data-dir <dir>', 'data folder of the embedded log')
    .option('--bus <url>', "the bus: 'embedded' or kafka://host:port (or KAPPA_BUS)", process.env.KAPPA_BUS);
}

/**
 * The config and the bus it names, opened here. On the embedded log that needs `kappa up` stopped:
 * a running one holds the data folder's lock (KAPPA_DATA_DIR_LOCKED says so).
 */
export async function openLocalBus(options: LocalBusOptions): Promise<{ config: KappaConfig; bus: Bus }> {
  const { config } = await loadConfig({
    ...(options.config ? { file: options.config } : {}),
    ...(options.bus ? { bus: options.bus } : {}),
    overrides: { dataDir: options.dataDir },
  });
  return { config, bus: await openBus(config) };
}
