import { readFile, unwatchFile, watchFile } from 'node:fs';
import { readFile as readFileAsync } from 'node:fs/promises';
import { z } from 'zod';
import {
  ConfigError,
  generateApiKey,
  hashApiKey,
  type Logger,
  parseScope,
  type StoredApiKey,
} from '../core/index.ts';
import { writeFileAtomic } from '../log/index.ts';
import { apiKeySchema } from './schema.ts';

const fileSchema = z
  .object({ keys: z.array(apiKeySchema.extend({ created: z.string().optional() })) })
  .strict();

type KeysFile = z.output<typeof fileSchema>;

/** The keys of a keys file; a missing file holds none. Errors name the file and the field. */
export async function readKeysFile(file: string): Promise<StoredApiKey[]> {
  return (await load(file)).keys;
}

async function load(file: string): Promise<KeysFile> {
  let text: string;
  try {
    text = await readFileAsync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { keys: [] };
    throw new ConfigError(`Cannot read the keys file ${file}: ${(error as Error).message}`);
  }
  return parse(file, text);
}

function parse(file: string, text: string): KeysFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`The keys file ${file} is not JSON: ${(error as Error).message}`);
  }
  const result = fileSchema.safeParse(raw);
  if (!result.success)
    throw new ConfigError(
      `The keys file ${file} is invalid: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  return result.data;
}

/**
 * Makes a key, stores its hash (and never the key) in the file, readable by its owner only, and returns
 * the key: the one time anyone sees it.
 */
export async function createKey(file: string, name: string, scopes: string[]): Promise<string> {
  if (scopes.length === 0) throw new ConfigError('A key needs at least one --scope');
  for (const s of scopes) parseScope(s); // names the bad scope and the good ones
  const named = apiKeySchema.shape.name.safeParse(name);
  if (!named.success) throw new ConfigError(`Invalid key name '${name}': ${named.error.issues[0]!.message}`);
  const current = await load(file);
  if (current.keys.some((k) => k.name === name))
    throw new ConfigError(`A key named '${name}' exists in ${file}: revoke it first, or pick another name`);
  const key = generateApiKey();
  current.keys.push({ name, hash: hashApiKey(key), scopes, created: new Date().toISOString() });
  await save(file, current);
  return key;
}

export async function revokeKey(file: string, name: string): Promise<void> {
  const current = await load(file);
  const kept = current.keys.filter((k) => k.name !== name);
  if (kept.length === current.keys.length) throw new ConfigError(`No key named '${name}' in ${file}`);
  await save(file, { keys: kept });
}

export async function listKeys(file: string): Promise<Array<Omit<KeysFile['keys'][number], 'hash'>>> {
  return (await load(file)).keys.map(({ hash: _hash, ...rest }) => rest);
}

async function save(file: string, content: KeysFile): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(content, null, 2)}\n`, true, 0o600);
}

/**
 * Calls `onChange` with the file's keys whenever it changes (polled: the file is replaced by rename,
 * which fs.watch loses track of). A file that stops parsing keeps the keys that were in force, and
 * says so.
 */
export function watchKeysFile(
  file: string,
  onChange: (keys: StoredApiKey[]) => void,
  logger: Logger,
  intervalMs = 1000,
): () => void {
  const listener = () =>
    readFile(file, 'utf8', (error, text) => {
      try {
        if (error && error.code !== 'ENOENT') throw error;
        onChange(error ? [] : parse(file, text).keys);
        logger.info({ file }, 'API keys reloaded');
      } catch (failure) {
        logger.error({ err: failure, file }, 'keys file not reloaded: the keys in force stay');
      }
    });
  watchFile(file, { interval: intervalMs, persistent: false }, listener);
  return () => unwatchFile(file, listener);
}
