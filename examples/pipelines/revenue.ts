// Revenue per merchant per minute, from the `payments` topic to the `revenue` topic.
import { count, pipeline, sum, tumbling } from 'kappa';

interface Payment {
  merchant: string;
  amount: number;
  ts: number;
}

export default pipeline('revenue')
  // Event time is the payment's own `ts`; a partition quiet for 2 s stops holding windows back.
  .source<Payment>('payments', { eventTime: (p) => p.ts, maxOutOfOrder: '5s', idleAfter: '2s' })
  .keyBy((p) => p.merchant)
  .window(tumbling('1m'))
  .aggregate({ payments: count(), total: sum((p) => p.amount) })
  .map((w) => ({ merchant: w.key, start: w.window.start, ...w.value }))
  .toTopic('revenue');
