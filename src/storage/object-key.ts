import { InvalidArgumentError } from '../core/index.ts';

const SEGMENT = /^[A-Za-z0-9._=-]+$/;

/** Checks a key (`topic/dt=2026-01-02/hour=03/0-0-99.parquet`): the same rules on every store. */
export function checkKey(key: string, what = 'key'): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > 1024)
    throw new InvalidArgumentError(
      `An object ${what} is 1-1024 characters, got ${JSON.stringify(key)?.slice(0, 80)}`,
    );
  for (const segment of key.split('/'))
    if (!SEGMENT.test(segment) || segment === '.' || segment === '..')
      throw new InvalidArgumentError(
        `Object ${what} ${JSON.stringify(key).slice(0, 80)}: each part between "/" is letters, digits, ".", "_", "=" or "-", and not "." or ".."`,
      );
}

/** A prefix is a key, or a key and a trailing `/`, or empty (everything). */
export function checkPrefix(prefix: string): void {
  if (prefix === '') return;
  checkKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix, 'prefix');
}
