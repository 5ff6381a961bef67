import type { FastifyInstance } from 'fastify';
import type { Logger } from '../../../core/index.ts';
import type { SchemaRegistry } from '../../../registry/index.ts';
import { toRestError } from '../../errors.ts';
import { schemaRoutes } from './schemas-routes.ts';
import { settingsRoutes } from './settings-routes.ts';

export const SCHEMA_REGISTRY_V1 = 'application/vnd.schemaregistry.v1+json';

/**
 * Confluent's Schema Registry API, in its own Fastify context: it takes the content types Confluent's
 * registry takes and answers every response, errors included, as `application/vnd.schemaregistry.v1+json`.
 */
export function registryRoutes(registry: SchemaRegistry, logger: Logger) {
  return async (app: FastifyInstance) => {
    // Confluent's registry answers other content types with 415; Fastify would parse text/plain.
    app.removeContentTypeParser('text/plain');
    app.addContentTypeParser(
      [
        'application/vnd.schemaregistry.v1+json',
        'application/vnd.schemaregistry+json',
        'application/octet-stream',
      ],
      { parseAs: 'string' },
      app.getDefaultJsonParser('error', 'error'),
    );
    app.addHook('onSend', async (_request, reply, payload) => {
      if (!String(reply.getHeader('content-type') ?? '').includes('schemaregistry'))
        reply.header('content-type', SCHEMA_REGISTRY_V1);
      return payload;
    });
    app.setErrorHandler((error, request, reply) => {
      const { status, body } = toRestError(error);
      if (status >= 500)
        logger.error({ err: error, method: request.method, url: request.url }, 'request failed');
      return reply.code(status).send(body);
    });
    schemaRoutes(app, registry);
    settingsRoutes(app, registry);
  };
}
