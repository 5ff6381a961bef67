import type { ParsedSchema } from './schema.ts';

export const COMPATIBILITY_LEVELS = [
  'NONE',
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
] as const;
export type CompatibilityLevel = (typeof COMPATIBILITY_LEVELS)[number];

/** An earlier, not deleted version of the subject, newest last. */
export interface PreviousVersion {
  version: number;
  schema: ParsedSchema;
}

/** Confluent cuts the old schema it quotes in messages at this length. */
const MAX_QUOTED_SCHEMA = 10 * 1024;

/**
 * Checks a new schema against a subject's versions as Confluent's CompatibilityChecker does:
 * BACKWARD — the new schema (reader) reads data of the latest (writer); FORWARD — the latest (reader)
 * reads data of the new one; FULL — both. The _TRANSITIVE levels compare with every version, newest
 * first, the others with the latest only. Returns the messages of the first version it fails
 * against, in Confluent's order and words, empty when compatible.
 */
export function checkCompatibility(
  level: CompatibilityLevel,
  candidate: ParsedSchema,
  previous: readonly PreviousVersion[],
): string[] {
  if (level === 'NONE' || previous.length === 0) return [];
  const against = level.endsWith('_TRANSITIVE') ? [...previous].reverse() : [previous.at(-1)!];
  const backward = level.startsWith('BACKWARD') || level.startsWith('FULL');
  const forward = level.startsWith('FORWARD') || level.startsWith('FULL');
  for (const old of against) {
    const messages: string[] = [];
    // FULL lists what the old schema cannot read first, and quotes the old schema only once, last.
    if (forward) {
      messages.push(...label(old.schema.isBackwardCompatible(candidate), 'old', 'new'));
      if (!backward) quote(messages, old);
    }
    if (backward) {
      const found = label(candidate.isBackwardCompatible(old.schema), 'new', 'old');
      messages.push(...found);
      if (found.length > 0) quote(messages, old);
    }
    if (messages.length > 0) {
      messages.push(`{validateFields: 'false', compatibility: '${level}'}`);
      return messages;
    }
  }
  return [];
}

function label(messages: string[], reader: string, writer: string): string[] {
  return messages.map((m) => m.replace('%s', reader).replace('%s', writer));
}

function quote(messages: string[], old: PreviousVersion): void {
  if (messages.length === 0) return;
  const text = old.schema.canonical;
  messages.push(`{oldSchemaVersion: ${old.version}}`);
  messages.push(
    text.length <= MAX_QUOTED_SCHEMA
      ? `{oldSchema: '${text}'}`
      : `{oldSchema: <truncated> '${text.slice(0, MAX_QUOTED_SCHEMA)}...'}`,
  );
}
