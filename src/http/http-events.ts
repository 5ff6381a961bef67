import { channel } from '../core/index.ts';

/** A request answered: its route as registered (not the URL, so labels stay few), method and status. */
export interface RequestedEvent {
  method: string;
  /** The route's pattern (`/topics/:topic`), or `unmatched` for a 404 of no route. */
  route: string;
  status: number;
  seconds: number;
}

export const requested = channel<RequestedEvent>('http', 'request');
