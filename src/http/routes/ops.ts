import type { FastifyInstance } from 'fastify';

/** What `GET /metrics` serves: ops/'s Metrics, kept out of this layer's imports. */
export interface MetricsText {
  text(): Promise<string>;
  readonly contentType: string;
}

/** `GET /metrics` in Prometheus's text format, and `GET /v1/status`: what an operator watches. */
export function opsRoutes(
  app: FastifyInstance,
  options: { metrics?: MetricsText; status?: () => Promise<object> },
): void {
  const { metrics, status } = options;
  if (metrics)
    app.get('/metrics', async (_request, reply) =>
      reply.type(metrics.contentType).send(await metrics.text()),
    );
  if (status) app.get('/v1/status', async () => status());
}
