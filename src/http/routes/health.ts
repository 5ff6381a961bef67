import type { FastifyInstance } from 'fastify';
import type { Bus } from '../../log/index.ts';

/**
 * `/healthz`: the process serves requests. `/readyz`: and its bus answers, and the registry's topic is
 * there (without it every registry write would fail).
 */
export function healthRoutes(app: FastifyInstance, bus: Bus, registryTopic?: string): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await bus.listTopics();
      if (registryTopic !== undefined) await bus.describeTopic(registryTopic);
      return { status: 'ready', bus: bus.kind };
    } catch (error) {
      return reply.code(503).send({ status: 'not ready', reason: (error as Error).message });
    }
  });
}
