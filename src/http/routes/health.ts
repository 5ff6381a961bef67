import type { FastifyInstance } from 'fastify';
import type { Bus } from '../../log/index.ts';

/**
 * `/healthz`: the process serves requests. `/readyz`: and its bus answers, the registry's topic is
 * there (without it every registry write would fail), and nothing else says it is not ready (a
 * pipeline task restoring its state).
 */
export function healthRoutes(
  app: FastifyInstance,
  options: { bus: Bus; registryTopic?: string; readiness?: () => { notReady: string[]; notes: string[] } },
): void {
  const { bus, registryTopic, readiness } = options;
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await bus.listTopics();
      if (registryTopic !== undefined) await bus.describeTopic(registryTopic);
    } catch (error) {
      return reply.code(503).send({ status: 'not ready', reason: (error as Error).message });
    }
    const { notReady, notes } = readiness?.() ?? { notReady: [], notes: [] };
    const extra = notes.length > 0 ? { notes } : {};
    if (notReady.length > 0)
      return reply.code(503).send({ status: 'not ready', reason: notReady.join('; '), ...extra });
    return { status: 'ready', bus: bus.kind, ...extra };
  });
}
