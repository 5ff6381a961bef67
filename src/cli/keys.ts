import path from 'node:path';
import type { Command } from 'commander';
import { createKey, listKeys, loadConfig, revokeKey } from '../config/index.ts';

/**
 * `kappa keys create|list|revoke`: API keys in the keys file (`auth.keysFile`, default
 * ./kappa.keys.json). Local file work, not a request: whoever may edit the config may make keys. A
 * running Kappa rereads the file within a second or so.
 */
export function keysCommand(program: Command): void {
  const keys = program
    .command('keys')
    .description('create, list and revoke API keys (stored hashed in the keys file)')
    .option('--keys-file <file>', 'the keys file (default: auth.keysFile of the config, ./kappa.keys.json)')
    .option('--config <file>', 'config file whose auth.keysFile to use');
  const fileOf = async () => {
    const options = keys.opts<{ keysFile?: string; config?: string }>();
    if (options.keysFile) return path.resolve(options.keysFile);
    const { config } = await loadConfig(options.config ? { file: options.config } : {});
    return config.auth.keysFile;
  };

  keys
    .command('create <name>')
    .description('make a key with the given scopes and print it, once; only its hash is kept')
    .requiredOption(
      '-s, --scope <scope...>',
      'produce:<topic pattern>, consume:<topic pattern>, registry:read, registry:write, monitor or admin',
    )
    .action(async (name: string, options: { scope: string[] }) => {
      const file = await fileOf();
      const key = await createKey(file, name, options.scope);
      process.stdout.write(`${key}\n`);
      process.stderr.write(
        `Created key '${name}' (${options.scope.join(', ')}) in ${file}. This is the only time it is shown: keep it now.\n` +
          'Use it with --api-key, KAPPA_API_KEY, or "Authorization: Bearer <key>".\n',
      );
    });

  keys
    .command('list')
    .description('the keys’ names, scopes and creation times (never the keys)')
    .action(async () => {
      for (const k of await listKeys(await fileOf()))
        process.stdout.write(`${k.name}\t${k.scopes.join(',')}\t${k.created ?? ''}\n`);
    });

  keys
    .command('revoke <name>')
    .description('remove a key; a running Kappa refuses it from its next reread of the file')
    .action(async (name: string) => {
      const file = await fileOf();
      await revokeKey(file, name);
      process.stderr.write(`Revoked key '${name}' in ${file}\n`);
    });
}
