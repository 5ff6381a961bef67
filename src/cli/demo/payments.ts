import type { Bus, Producer } from '../../log/index.ts';

/** A payment as the demo generator makes it. */
export interface Payment {
  id: string;
  merchant: string;
  card: string;
  user: string;
  amount: number;
  status: 'approved' | 'declined';
  /** Event time, ms since the epoch. */
  ts: number;
}

export const PAYMENTS_TOPIC = 'payments';
export const PAYMENTS_PARTITIONS = 4;

/** Mulberry32: a small seeded generator, so a demo run can be told apart from the next only by time. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Payments at `perSecond`, stamped with the clock (a few arrive up to 3 s late, as from a phone that
 * was offline), for 20 merchants, 200 users and 500 cards; about 7% are declined, and a handful of
 * cards are declined again and again (what the fraud view counts).
 */
export function startPaymentGenerator(
  bus: Bus,
  options: { perSecond?: number; seed?: number } = {},
): { stop(): Promise<void>; readonly sent: number } {
  const perSecond = options.perSecond ?? 200;
  const next = random(options.seed ?? Date.now());
  const producer: Producer = bus.producer();
  let sent = 0;
  let id = 0;
  const pick = (prefix: string, n: number, width: number) =>
    `${prefix}${String(1 + Math.floor(next() * n)).padStart(width, '0')}`;
  const tick = async () => {
    const now = Date.now();
    const batch = [];
    for (let i = 0; i < perSecond / 10; i++) {
      const suspicious = next() < 0.02;
      const card = suspicious ? pick('c', 5, 4) : pick('c', 500, 4);
      const payment: Payment = {
        id: `p${++id}`,
        merchant: pick('m', 20, 2),
        card,
        user: pick('u', 200, 3),
        amount: Math.round((1 + next() * 499) * 100) / 100,
        status: suspicious || next() < 0.05 ? 'declined' : 'approved',
        ts: next() < 0.03 ? now - Math.floor(next() * 3000) : now,
      };
      batch.push({
        topic: PAYMENTS_TOPIC,
        key: Buffer.from(payment.card),
        value: Buffer.from(JSON.stringify(payment)),
      });
    }
    await producer.send(batch);
    sent += batch.length;
  };
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(tick).catch(() => {});
  }, 100);
  return {
    get sent() {
      return sent;
    },
    async stop() {
      clearInterval(timer);
      await running;
      await producer.close();
    },
  };
}
