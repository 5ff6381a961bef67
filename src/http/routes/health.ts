import type { FastifyInstance } from 'fastify';
import type { Bus } from '../../log/index.ts';

/**
 * `/healthz`: the process serves requests. `/readyz`: and its bus answers, the registry's topic is
 * there (without it every registry write would fail), and nothing else says it is not ready (a
 * pipeline task restoring its state).
 */
export function healthRoutes(
  app: FastifyInstance,
  options: { bus: Bus; registryTopic?: string; notReady?: () => string[] },
): void {
  const { bus, registryTopic, notReady } = options;
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await bus.listTopics();
      if (registryTopic !== undefined) await bus.describeTopic(registryTopic);
    } catch (error) {
      return reply.code(503).send({ status: 'not ready', reason: (error as Error).message });
    }
    const reasons = notReady?.() ?? [];
    if (reasons.length > 0) return reply.code(503).send({ status: 'not ready', reason: reasons.join('; ') });
    return { status: 'ready', bus: bus.kind };
  });
}
