/** Nexmark's three event kinds (as in Apache Beam's and Flink's Nexmark suites), tagged. */
export interface Person {
  type: 'person';
  id: number;
  name: string;
  emailAddress: string;
  creditCard: string;
  city: string;
  state: string;
  dateTime: number;
}

export interface Auction {
  type: 'auction';
  id: number;
  itemName: string;
  initialBid: number;
  reserve: number;
  dateTime: number;
  expires: number;
  seller: number;
  category: number;
}

export interface Bid {
  type: 'bid';
  auction: number;
  bidder: number;
  price: number;
  channel: string;
  url: string;
  dateTime: number;
}

export type NexmarkEvent = Person | Auction | Bid;
