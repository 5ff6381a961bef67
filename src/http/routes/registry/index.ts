import type { FastifyInstance } from 'fastify';
import type { Logger } from '../../../core/index.ts';
import type { SchemaRegistry } from '../../../registry/index.ts';
import { replyError } from '../../errors.ts';
import { registerJsonParser } from '../../json-body.ts';
import { schemaRoutes } from './schemas-routes.ts';
import { settingsRoutes } from './settings-routes.ts';

export const SCHEMA_REGISTRY_V1 = 'application/vnd.schemaregistry.v1+json';

/**
 * Confluent's Schema Registry API, in its own Fastify context: it takes the content types Confluent's
 * registry takes and answers every response, errors included, as `application/vnd.schemaregistry.v1+json`.
 */
export function registryRoutes(registry: SchemaRegistry, logger: Logger, maxJsonDepth: number) {
  return async (app: FastifyInstance) => {
    // Confluent's registry answers other content types with 415; Fastify would parse text/plain.
    app.removeContentTypeParser('text/plain');
    registerJsonParser(
      app,
      [
        'application/vnd.schemaregistry.v1+json',
        'application/vnd.schemaregistry+json',
        'application/octet-stream',
      ],
      maxJsonDepth,
    );
    app.addHook('onSend', async (_request, reply, payload) => {
      if (!String(reply.getHeader('content-type') ?? '').includes('schemaregistry'))
        reply.header('content-type', SCHEMA_REGISTRY_V1);
      return payload;
    });
    app.setErrorHandler((error, request, reply) => replyError(reply, request, error, logger));
    schemaRoutes(app, registry);
    settingsRoutes(app, registry);
  };
}
