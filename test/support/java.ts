import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { serviceAvailable } from './services.ts';

const run = promisify(execFile);
const ROOT = path.join(import.meta.dirname, '..', '..');

/**
 * Java programs the tests run beside Kappa (the Kafka broker, a JDBC client): each has a pom under
 * test/support/<name>/ whose dependencies Maven copies into .cache/<name>/libs, outside git.
 */
export function javaLibs(name: string): string {
  return path.join(ROOT, '.cache', name, 'libs');
}

/** Java and Maven are there (with `javac` too when a harness runs from source). */
export function javaAvailable(name: string, compiler = false): boolean {
  return serviceAvailable(name, [
    ['java', '-version'],
    ['mvn', '-v'],
    ...(compiler ? [['javac', '-version']] : []),
  ]).available;
}

/** Copies test/support/<name>/pom.xml's jars into .cache/<name>/libs unless `marker` is there already. */
export async function ensureJars(name: string, marker: string): Promise<string> {
  const libs = javaLibs(name);
  if (existsSync(libs) && (await readdir(libs)).some((f) => f.startsWith(marker))) return libs;
  const pom = path.join(import.meta.dirname, name, 'pom.xml');
  await run('mvn', ['-q', '-B', '-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${libs}`], {
    timeout: 600_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return libs;
}

/** Runs a single-file Java program (test/support/<name>/<file>) on its jars; resolves with its output. */
export async function runJavaSource(
  name: string,
  file: string,
  args: string[],
  options: { timeoutMs?: number; jvm?: string[] } = {},
): Promise<string> {
  const source = path.join(import.meta.dirname, name, file);
  const { stdout } = await run(
    'java',
    [...(options.jvm ?? []), '-cp', `${javaLibs(name)}/*`, source, ...args],
    {
      timeout: options.timeoutMs ?? 120_000,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  return stdout;
}
