import type { FastifyInstance } from 'fastify';
import { parseVersion, RegistryError, type SchemaRegistry } from '../../../registry/index.ts';
import { parseSchemaRequest } from './request-body.ts';

interface Flags {
  verbose?: string;
  normalize?: string;
  defaultToGlobal?: string;
  force?: string;
}

type SubjectRoute = { Params: { subject: string }; Querystring: Flags };
const on = (flag: string | undefined) => flag === 'true';

/** `/compatibility`, `/config` and `/mode` of Confluent's Schema Registry API. */
export function settingsRoutes(app: FastifyInstance, registry: SchemaRegistry): void {
  const test = (subject: string, version: string | undefined, body: unknown, flags: Flags) => {
    const parsedVersion = version === undefined ? undefined : parseVersion(version);
    let messages: string[];
    try {
      const { definition } = parseSchemaRequest(body);
      messages = registry.testCompatibility(subject, parsedVersion, definition, {
        normalize: on(flags.normalize),
      });
    } catch (error) {
      // Verbose answers an invalid schema with why, as a failed check; otherwise it is a 422.
      if (!on(flags.verbose) || !(error instanceof RegistryError) || error.errorCode !== 42201) throw error;
      messages = [error.message];
    }
    return { is_compatible: messages.length === 0, ...(on(flags.verbose) ? { messages } : {}) };
  };
  app.post<SubjectRoute>('/compatibility/subjects/:subject/versions', async (request) =>
    test(request.params.subject, undefined, request.body, request.query),
  );
  app.post<{ Params: { subject: string; version: string }; Querystring: Flags }>(
    '/compatibility/subjects/:subject/versions/:version',
    async (request) => test(request.params.subject, request.params.version, request.body, request.query),
  );

  const level = (body: unknown) => (body as { compatibility?: unknown } | null)?.compatibility;
  app.get('/config', async () => ({ compatibilityLevel: registry.compatibility(null) }));
  app.put('/config', async (request) => ({
    compatibility: await registry.setCompatibility(null, level(request.body)),
  }));
  app.delete('/config', async () => ({ compatibilityLevel: await registry.deleteCompatibility(null) }));
  app.get<SubjectRoute>('/config/:subject', async (request) => ({
    compatibilityLevel: registry.compatibility(request.params.subject, on(request.query.defaultToGlobal)),
  }));
  app.put<SubjectRoute>('/config/:subject', async (request) => ({
    compatibility: await registry.setCompatibility(request.params.subject, level(request.body)),
  }));
  app.delete<SubjectRoute>('/config/:subject', async (request) => ({
    compatibilityLevel: await registry.deleteCompatibility(request.params.subject),
  }));

  const mode = (body: unknown) => (body as { mode?: unknown } | null)?.mode;
  app.get('/mode', async () => ({ mode: registry.mode(null) }));
  app.put<{ Querystring: Flags }>('/mode', async (request) => ({
    mode: await registry.setMode(null, mode(request.body), on(request.query.force)),
  }));
  app.delete('/mode', async () => ({ mode: await registry.deleteMode(null) }));
  app.get<SubjectRoute>('/mode/:subject', async (request) => ({
    mode: registry.mode(request.params.subject, on(request.query.defaultToGlobal)),
  }));
  app.put<SubjectRoute>('/mode/:subject', async (request) => ({
    mode: await registry.setMode(request.params.subject, mode(request.body), on(request.query.force)),
  }));
  app.delete<SubjectRoute>('/mode/:subject', async (request) => ({
    mode: await registry.deleteMode(request.params.subject),
  }));
}
