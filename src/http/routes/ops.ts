import type { FastifyInstance } from 'fastify';
import { RequestError } from '../errors.ts';
import { eventStream } from '../event-stream.ts';

/** What the ops routes serve from ops/'s Metrics, kept out of this layer's imports. */
export interface MetricsText {
  /** Prometheus's text format. */
  text(): Promise<string>;
  readonly contentType: string;
  /** Kappa's metrics as JSON (prom-client's form), for the dashboard. */
  values(): Promise<unknown[]>;
}

/** Dashboards following `/v1/status/live` at once, at most: each costs a read of the status a second. */
const MAX_FOLLOWERS = 100;
const LIVE_INTERVAL_MS = 1000;

/**
 * `GET /metrics` in Prometheus's text format, `GET /v1/status`, and `GET /v1/status/live`: the
 * status and the metrics every second as Server-Sent Events (the dashboard's feed). One reading a
 * second serves every follower.
 */
export function opsRoutes(
  app: FastifyInstance,
  options: { metrics?: MetricsText; status?: () => Promise<object> },
): void {
  const { metrics, status } = options;
  if (metrics)
    app.get('/metrics', async (_request, reply) =>
      reply.type(metrics.contentType).send(await metrics.text()),
    );
  if (!status) return;
  app.get('/v1/status', async () => status());

  const followers = new Set<(event: string, data: unknown) => void>();
  let timer: NodeJS.Timeout | null = null;
  const snapshot = async () => ({ status: await status(), metrics: metrics ? await metrics.values() : [] });
  const tick = async () => {
    try {
      const data = await snapshot();
      for (const send of followers) send('snapshot', data);
    } catch (error) {
      for (const send of followers) send('error', { message: (error as Error).message });
    }
    if (followers.size > 0) timer = setTimeout(tick, LIVE_INTERVAL_MS);
    else timer = null;
  };
  app.get('/v1/status/live', async (_request, reply) => {
    if (followers.size >= MAX_FOLLOWERS) {
      reply.header('retry-after', '5');
      throw new RequestError(
        429,
        42902,
        `${MAX_FOLLOWERS} live status streams are open, the most this server takes`,
      );
    }
    // The first reading at once, so a dashboard draws without waiting a second.
    const first = await snapshot();
    return eventStream(reply, 'kappa live status', (send) => {
      send('snapshot', first);
      followers.add(send);
      timer ??= setTimeout(tick, LIVE_INTERVAL_MS);
      return () => followers.delete(send);
    });
  });
  app.addHook('onClose', async () => {
    if (timer) clearTimeout(timer);
  });
}
