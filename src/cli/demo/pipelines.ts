import { avg, count, pipeline, session, sum, tumbling } from '../../stream/index.ts';
import { PAYMENTS_TOPIC, type Payment } from './payments.ts';

/**
 * The demo's three pipelines, each ending in a view, with results every second or two while their
 * windows are open, so the numbers move as soon as payments flow.
 */
export function demoPipelines() {
  // Event time from the payment; a payment may arrive 5 s after a later one.
  const payments = (name: string) =>
    pipeline(name).source<Payment>(PAYMENTS_TOPIC, { eventTime: (p) => p.ts, maxOutOfOrder: '5s' });
  return [
    // Revenue per merchant in 5-minute windows; payments up to 2 minutes late still count.
    payments('revenue_per_merchant')
      .filter((p) => p.status === 'approved')
      .keyBy((p) => p.merchant)
      .window(tumbling('5m'), { allowedLateness: '2m', emit: { updates: '2s' } })
      .aggregate({
        payments: count(),
        revenue: sum((p: Payment) => p.amount),
        average: avg((p: Payment) => p.amount),
      })
      .toView('revenue_per_merchant', { retention: '1d' }),
    // User journeys: a user's payments with no gap of 30 s or more.
    payments('user_journeys')
      .keyBy((p) => p.user)
      .window(session('30s'), { emit: { updates: '2s' } })
      .aggregate({ payments: count(), spent: sum((p: Payment) => p.amount) })
      .toView('user_journeys', { retention: '1d' }),
    // A fraud rule: declined payments per card per minute.
    payments('declined_per_card')
      .filter((p) => p.status === 'declined')
      .keyBy((p) => p.card)
      .window(tumbling('1m'), { emit: { updates: '1s' } })
      .aggregate({ declines: count() })
      .toView('declined_per_card', { retention: '1h' }),
  ];
}
