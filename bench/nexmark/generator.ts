import { seededRandom } from '../../test/support/random.ts';
import type { Auction, Bid, NexmarkEvent, Person } from './model.ts';

export interface GeneratorOptions {
  seed: number;
  events: number;
  /** Events per second of event time. Default 10,000. */
  rate?: number;
  /** Events are delivered shuffled within groups of this many: the disorder is at most one group's span. Default 1. */
  outOfOrderGroup?: number;
  /** Event time of the first event. Default 2026-01-01. */
  start?: number;
}

const FIRST_PERSON = 1000;
const FIRST_AUCTION = 1000;
const CHANNELS = ['Google', 'Facebook', 'Baidu', 'Apple'];
const STATES = ['AZ', 'CA', 'ID', 'OR', 'WA', 'WY'];
const CITIES = [
  'Phoenix',
  'Los Angeles',
  'San Francisco',
  'Boise',
  'Portland',
  'Bend',
  'Redmond',
  'Seattle',
  'Kent',
  'Cheyenne',
];

/**
 * Nexmark's generator, seeded: of every 50 events 1 is a person, 3 are auctions and 46 are bids (the
 * benchmark's standard proportion), event time advances at `rate`, bids go mostly to recent ("hot")
 * auctions by recent bidders, prices follow Nexmark's log-uniform spread, and delivery is shuffled
 * within groups for bounded out-of-orderness.
 */
export function generateNexmark(options: GeneratorOptions): NexmarkEvent[] {
  const random = seededRandom(options.seed);
  const rate = options.rate ?? 10_000;
  const start = options.start ?? Date.UTC(2026, 0, 1);
  const group = Math.max(1, options.outOfOrderGroup ?? 1);
  let persons = 0;
  let auctions = 0;
  const events: NexmarkEvent[] = [];
  for (let n = 0; n < options.events; n++) {
    const dateTime = start + Math.floor((n * 1000) / rate);
    const slot = n % 50;
    if (slot < 1) {
      const id = FIRST_PERSON + persons++;
      const person: Person = {
        type: 'person',
        id,
        name: `person-${id}`,
        emailAddress: `p${id}@example.com`,
        creditCard: String(1000_0000_0000_0000 + Math.floor(random() * 1e15)),
        city: CITIES[Math.floor(random() * CITIES.length)]!,
        state: STATES[Math.floor(random() * STATES.length)]!,
        dateTime,
      };
      events.push(person);
    } else if (slot < 4) {
      const id = FIRST_AUCTION + auctions++;
      const initialBid = price(random);
      const auction: Auction = {
        type: 'auction',
        id,
        itemName: `item-${id}`,
        initialBid,
        reserve: initialBid + price(random),
        dateTime,
        expires: dateTime + 10_000 + Math.floor(random() * 60_000),
        // Half the sellers are new (among the latest few persons), as Nexmark's generator favours them.
        seller:
          FIRST_PERSON +
          (random() < 0.5
            ? Math.max(0, persons - 1 - Math.floor(random() * 3))
            : Math.floor(random() * Math.max(1, persons))),
        category: 10 + Math.floor(random() * 5),
      };
      events.push(auction);
    } else {
      // Hot auctions and bidders: most bids go to the latest few.
      const hot = random() < 0.7;
      const auction =
        FIRST_AUCTION + Math.max(0, auctions - 1 - Math.floor(random() * (hot ? 3 : Math.max(1, auctions))));
      const bidder =
        FIRST_PERSON + Math.max(0, persons - 1 - Math.floor(random() * (hot ? 2 : Math.max(1, persons))));
      const bid: Bid = {
        type: 'bid',
        auction,
        bidder,
        price: price(random),
        channel: CHANNELS[Math.floor(random() * CHANNELS.length)]!,
        url: `https://www.nexmark.com/${auction}/item.htm?query=1`,
        dateTime,
      };
      events.push(bid);
    }
  }
  if (group > 1)
    for (let i = 0; i < events.length; i += group) {
      const end = Math.min(events.length, i + group);
      for (let j = end - 1; j > i; j--) {
        const k = i + Math.floor(random() * (j - i + 1));
        [events[j], events[k]] = [events[k]!, events[j]!];
      }
    }
  return events;
}

/** The largest disorder the generator makes, in ms of event time, for the watermark bound. */
export function maxDisorder(options: Pick<GeneratorOptions, 'rate' | 'outOfOrderGroup'>): number {
  return Math.ceil(((options.outOfOrderGroup ?? 1) * 1000) / (options.rate ?? 10_000)) + 1;
}

/** Nexmark's prices: log-uniform between 1 and 1,000,000 cents. */
function price(random: () => number): number {
  return Math.round(10 ** (random() * 6) * 100) / 100;
}
