import { channel } from '../core/index.ts';

/** A schema looked up by id or by subject (and version), found or not. */
export interface LookedUpEvent {
  by: 'id' | 'subject';
  found: boolean;
}

export const lookedUp = channel<LookedUpEvent>('registry', 'lookup');
