import { RegistryErrors } from './errors.ts';

const hasControl = (text: string) =>
  [...text].some((c) => c.charCodeAt(0) < 0x20 || (c.charCodeAt(0) >= 0x7f && c.charCodeAt(0) <= 0x9f));

/**
 * Subjects are free text in Confluent's API (`orders-value`, `com.acme.Order`), but not empty, not
 * control characters, and not the names Confluent reserves for its global settings.
 */
export function checkSubject(subject: string): string {
  if (subject.length === 0) throw RegistryErrors.invalidSubject(subject, 'a subject cannot be empty');
  if (subject.length > 1024)
    throw RegistryErrors.invalidSubject(subject.slice(0, 40), 'longer than 1024 characters');
  if (hasControl(subject)) throw RegistryErrors.invalidSubject(subject, 'control characters are not allowed');
  if (subject === '__GLOBAL' || subject === '__EMPTY')
    throw RegistryErrors.invalidSubject(subject, 'the name is reserved');
  return subject;
}

export const LATEST = -1;

/** `latest`, `-1` or a version number 1..2^31-1, as the API's path segment gives it. */
export function parseVersion(text: string): number {
  if (text.trim().toLowerCase() === 'latest' || text === '-1') return LATEST;
  const n = Number(text);
  if (!/^\d{1,10}$/.test(text) || n < 1 || n > 2 ** 31 - 1) throw RegistryErrors.invalidVersion(text);
  return n;
}
