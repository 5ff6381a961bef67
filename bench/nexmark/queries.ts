import {
  aggregator,
  count,
  first,
  hopping,
  type Pipeline,
  pipeline,
  session,
  tumbling,
} from '../../src/stream/index.ts';
import type { Auction, Bid, NexmarkEvent, Person } from './model.ts';
import { bidSerde, nexmarkSerde, q1Serde, q2Serde } from './serde.ts';

/** The records with the largest value of one field, ties included (Nexmark's q5 and q7 keep ties). */
function maxWithTies<T>(of: (r: T) => number) {
  return aggregator<T, { max: number; items: T[] } | null, T[]>({
    init: () => null,
    add: (acc, r) => {
      const v = of(r);
      if (acc === null || v > acc.max) return { max: v, items: [r] };
      if (v === acc.max) acc.items.push(r);
      return acc;
    },
    merge: (a, b) =>
      a === null
        ? b
        : b === null
          ? a
          : a.max === b.max
            ? { max: a.max, items: [...a.items, ...b.items] }
            : a.max > b.max
              ? a
              : b,
    result: (acc) => acc?.items ?? [],
  });
}

const isBid = (e: NexmarkEvent): e is Bid => e.type === 'bid';
const isPerson = (e: NexmarkEvent): e is Person => e.type === 'person';
const isAuction = (e: NexmarkEvent): e is Auction => e.type === 'auction';

/** Nexmark q0, q1, q2, q3, q5, q7, q8, q11 and q12 as Kappa pipelines over a topic of Nexmark events in Avro. */
export function nexmarkQueries(topic: string, maxOutOfOrder: number): Record<string, Pipeline> {
  const source = (name: string) =>
    pipeline(name).source(topic, { serde: nexmarkSerde, eventTime: (e) => e.dateTime, maxOutOfOrder });
  const bids = (name: string) => source(name).filter(isBid);
  /** Persons and auctions, two sources of one pipeline over the same topic (Nexmark's two views of one stream). */
  const personsAndAuctions = (name: string) => {
    const p = pipeline(name);
    const from = (kind: string) =>
      p.source(topic, { serde: nexmarkSerde, eventTime: (e) => e.dateTime, maxOutOfOrder, name: kind });
    return { persons: from('persons').filter(isPerson), auctions: from('auctions').filter(isAuction) };
  };
  const q3 = personsAndAuctions('q3');
  const q8 = personsAndAuctions('q8');
  return {
    // Pass-through: the cost of reading, parsing and writing.
    q0: bids('q0').toTopic('q0', { serde: bidSerde }),
    // Currency conversion: dollars to euros.
    q1: bids('q1')
      .map((b) => ({
        auction: b.auction,
        bidder: b.bidder,
        price: Math.round(b.price * 0.908 * 100) / 100,
        dateTime: b.dateTime,
      }))
      .toTopic('q1', { serde: q1Serde }),
    // Selection: bids on some auctions.
    q2: bids('q2')
      .filter((b) => b.auction % 123 === 0)
      .map((b) => ({ auction: b.auction, price: b.price }))
      .toTopic('q2', { serde: q2Serde }),
    // Local item suggestion: auctions of category 10 by sellers in Oregon, Idaho or California (a
    // regular join: both bounds unbounded, every person and auction kept).
    q3: q3.auctions
      .filter((a) => a.category === 10)
      .keyBy((a) => a.seller)
      .intervalJoin(
        q3.persons.filter((p) => p.state === 'OR' || p.state === 'ID' || p.state === 'CA').keyBy((p) => p.id),
        { lower: 'unbounded', upper: 'unbounded' },
        (a, p) => ({ name: p.name, city: p.city, state: p.state, id: a.id }),
      )
      .toTopic('q3'),
    // Monitor new users: persons who opened an auction in the 10 s window they joined in, once per window.
    q8: q8.persons
      .keyBy((p) => p.id)
      .windowJoin(
        q8.auctions.keyBy((a) => a.seller),
        tumbling('10s'),
        (p, _a, w) => ({ id: p.id, name: p.name, start: w.start }),
      )
      .keyBy((r) => `${r.id}/${r.start}`)
      .window(tumbling('10s'), { name: 'distinct' })
      .aggregate({ row: first((r: { id: number; name: string; start: number }) => r) })
      .map((w) => w.value.row)
      .toTopic('q8'),
    // Hot items: per 10 s window sliding by 2 s, the auctions with the most bids.
    q5: bids('q5')
      .keyBy((b) => b.auction)
      .window(hopping('10s', '2s'))
      .aggregate({ num: count() })
      .keyBy((w) => w.window.start)
      .window(tumbling('2s'), { name: 'hottest' })
      .aggregate({ top: maxWithTies((w) => w.value.num) })
      .flatMap((w) => w.value.top.map((t) => ({ auction: t.key, num: t.value.num, start: t.window.start })))
      .toTopic('q5'),
    // Highest bid per 10 s window.
    q7: bids('q7')
      .keyBy(() => 0)
      .window(tumbling('10s'))
      .aggregate({ top: maxWithTies((b: Bid) => b.price) })
      .flatMap((w) =>
        w.value.top.map((b) => ({
          auction: b.auction,
          price: b.price,
          bidder: b.bidder,
          dateTime: b.dateTime,
        })),
      )
      .toTopic('q7'),
    // User sessions: bids per bidder per session of activity (10 s gap).
    q11: bids('q11')
      .keyBy((b) => b.bidder)
      .window(session('10s'))
      .aggregate({ bids: count() })
      .map((w) => ({ bidder: w.key, bids: w.value.bids, start: w.window.start, end: w.window.end }))
      .toTopic('q11'),
    // Bids per bidder per 10 s of processing time.
    q12: pipeline('q12')
      .source(topic, { serde: nexmarkSerde, eventTime: 'processing' })
      .filter(isBid)
      .keyBy((b) => b.bidder)
      .window(tumbling('10s'))
      .aggregate({ bids: count() })
      .map((w) => ({ bidder: w.key, bids: w.value.bids, start: w.window.start }))
      .toTopic('q12'),
  };
}
