import { InvalidArgumentError } from '../core/index.ts';
import type { GroupMetadata } from './bus.ts';

/** The group a transaction's offsets are for: `sendOffsets` takes its name or a member's metadata. */
export function groupOf(member: string | GroupMetadata): string {
  const group = typeof member === 'string' ? member : member?.group;
  if (typeof group !== 'string' || group.length === 0)
    throw new InvalidArgumentError("sendOffsets needs a group name or a member's groupMetadata()");
  return group;
}
