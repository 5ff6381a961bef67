import { avro, type Serde } from '../../src/stream/index.ts';
import type { Auction, Bid, NexmarkEvent, Person } from './model.ts';

// Each record's first field is its kind, an Avro enum: its index is the record's first byte
// (zigzag 0, 2, 4), so a reader knows which of the three schemas to read with.
const KIND = { type: 'enum', name: 'Kind', symbols: ['person', 'auction', 'bid'] };

const PERSON = {
  type: 'record',
  name: 'Person',
  namespace: 'nexmark',
  fields: [
    { name: 'type', type: KIND },
    { name: 'id', type: 'long' },
    { name: 'name', type: 'string' },
    { name: 'emailAddress', type: 'string' },
    { name: 'creditCard', type: 'string' },
    { name: 'city', type: 'string' },
    { name: 'state', type: 'string' },
    { name: 'dateTime', type: 'long' },
  ],
};

const AUCTION = {
  type: 'record',
  name: 'Auction',
  namespace: 'nexmark',
  fields: [
    { name: 'type', type: KIND },
    { name: 'id', type: 'long' },
    { name: 'itemName', type: 'string' },
    { name: 'initialBid', type: 'double' },
    { name: 'reserve', type: 'double' },
    { name: 'dateTime', type: 'long' },
    { name: 'expires', type: 'long' },
    { name: 'seller', type: 'long' },
    { name: 'category', type: 'long' },
  ],
};

const BID = {
  type: 'record',
  name: 'Bid',
  namespace: 'nexmark',
  fields: [
    { name: 'type', type: KIND },
    { name: 'auction', type: 'long' },
    { name: 'bidder', type: 'long' },
    { name: 'price', type: 'double' },
    { name: 'channel', type: 'string' },
    { name: 'url', type: 'string' },
    { name: 'dateTime', type: 'long' },
  ],
};

export const personSerde = avro<Person>(PERSON);
export const auctionSerde = avro<Auction>(AUCTION);
export const bidSerde = avro<Bid>(BID);
const BY_KIND = [personSerde, auctionSerde, bidSerde] as Array<Serde<NexmarkEvent>>;
const INDEX = { person: 0, auction: 1, bid: 2 };

/** Nexmark events as Avro: the serde of the pipelines' source and of the hand-written loops. */
export const nexmarkSerde: Serde<NexmarkEvent> = {
  decode(bytes) {
    const serde = BY_KIND[bytes[0]! >> 1];
    if (!serde) throw new TypeError(`No Nexmark event kind has index ${bytes[0]! >> 1}`);
    return serde.decode(bytes);
  },
  encode: (event) => BY_KIND[INDEX[event.type]]!.encode(event),
};

/** q1's output: a bid's price converted to euros. */
export const q1Serde = avro<{ auction: number; bidder: number; price: number; dateTime: number }>({
  type: 'record',
  name: 'Q1',
  namespace: 'nexmark',
  fields: [
    { name: 'auction', type: 'long' },
    { name: 'bidder', type: 'long' },
    { name: 'price', type: 'double' },
    { name: 'dateTime', type: 'long' },
  ],
});

/** q2's output: auction and price. */
export const q2Serde = avro<{ auction: number; price: number }>({
  type: 'record',
  name: 'Q2',
  namespace: 'nexmark',
  fields: [
    { name: 'auction', type: 'long' },
    { name: 'price', type: 'double' },
  ],
});
