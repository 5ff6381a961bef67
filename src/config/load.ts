import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../core/index.ts';
import { parseBusUrl } from './bus-url.ts';
import { configSchema, type KappaConfig, type KappaConfigInput } from './schema.ts';

export const CONFIG_FILES = [
  'kappa.config.ts',
  'kappa.config.js',
  'kappa.config.mjs',
  'kappa.config.yaml',
  'kappa.config.yml',
  'kappa.config.json',
];

/** Typed helper for kappa.config.ts: `export default defineConfig({ ... })`. */
export function defineConfig(config: KappaConfigInput): KappaConfigInput {
  return config;
}

/**
 * Loads the config: the given file, else the first of CONFIG_FILES in `cwd`, else the defaults; then
 * `overrides` (command-line flags) on top. Errors name the file and the field.
 */
export async function loadConfig(
  options: {
    file?: string;
    cwd?: string;
    overrides?: DeepPartial<KappaConfigInput>;
    /** `--bus` or KAPPA_BUS (see bus-url.ts): replaces the file's whole `bus` section. */
    bus?: string;
  } = {},
): Promise<{ config: KappaConfig; file: string | null }> {
  const cwd = options.cwd ?? process.cwd();
  const file = options.file ? path.resolve(cwd, options.file) : await findConfigFile(cwd);
  const raw = file ? await readConfigFile(file) : {};
  if (options.bus !== undefined && isPlainObject(raw)) raw.bus = parseBusUrl(options.bus);
  const merged = merge(raw, options.overrides ?? {});
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const problems = result.error.issues
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    throw new ConfigError(`Invalid config${file ? ` in ${file}` : ''}: ${problems}`);
  }
  const config = result.data;
  const base = file ? path.dirname(file) : cwd;
  config.dataDir = path.resolve(base, config.dataDir);
  config.auth.keysFile = path.resolve(base, config.auth.keysFile);
  config.pipelines.dir = path.resolve(base, config.pipelines.dir);
  if (config.http.tls) {
    config.http.tls.certFile = path.resolve(base, config.http.tls.certFile);
    config.http.tls.keyFile = path.resolve(base, config.http.tls.keyFile);
  }
  if (config.bus.kind === 'kafka' && typeof config.bus.tls === 'object') {
    const tls = config.bus.tls;
    for (const key of ['caFile', 'certFile', 'keyFile'] as const)
      if (tls[key]) tls[key] = path.resolve(base, tls[key]);
  }
  return { config, file };
}

async function findConfigFile(cwd: string): Promise<string | null> {
  for (const name of CONFIG_FILES) {
    const candidate = path.join(cwd, name);
    if (
      await stat(candidate).then(
        (s) => s.isFile(),
        () => false,
      )
    )
      return candidate;
  }
  return null;
}

async function readConfigFile(file: string): Promise<unknown> {
  try {
    if (/\.(ya?ml)$/.test(file)) return parseYaml(await readFile(file, 'utf8')) ?? {};
    if (file.endsWith('.json')) return JSON.parse(await readFile(file, 'utf8'));
    const module = (await import(pathToFileURL(file).href)) as { default?: unknown };
    return module.default ?? {};
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new ConfigError(`Config file ${file} does not exist`);
    throw new ConfigError(`Could not read config file ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

function merge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over))
    if (value !== undefined) out[key] = merge(base[key], value);
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
