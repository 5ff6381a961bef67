import type { FastifyInstance } from 'fastify';
import { parseVersion, RegistryErrors, type SchemaRegistry } from '../../../registry/index.ts';
import { parseSchemaRequest } from './request-body.ts';
import { schemaFields } from './schema-response.ts';

interface Flags {
  deleted?: string;
  permanent?: string;
  normalize?: string;
  subject?: string;
  subjectPrefix?: string;
  fetchMaxId?: string;
  format?: string;
}

const on = (flag: string | undefined) => flag === 'true';

/** `/schemas/…` and `/subjects/…` of Confluent's Schema Registry API. */
export function schemaRoutes(app: FastifyInstance, registry: SchemaRegistry): void {
  app.get('/schemas/types', async () => registry.types());

  app.get<{ Params: { id: string }; Querystring: Flags }>('/schemas/ids/:id', async (request) => {
    const stored = await registry.loadSchemaById(schemaId(request.params.id), request.query.subject);
    return {
      ...schemaFields({ ...stored, schema: registry.formatted(stored, request.query.format) }),
      ...(on(request.query.fetchMaxId) ? { maxId: registry.maxId() } : {}),
    };
  });
  app.get<{ Params: { id: string }; Querystring: Flags }>('/schemas/ids/:id/schema', async (request, reply) =>
    raw(reply, (await registry.loadSchemaById(schemaId(request.params.id), request.query.subject)).schema),
  );
  const holders = async (text: string, deleted: string | undefined) => {
    const id = schemaId(text);
    await registry.loadSchemaById(id);
    return registry.versionsOfId(id, on(deleted));
  };
  app.get<{ Params: { id: string }; Querystring: Flags }>('/schemas/ids/:id/subjects', async (request) => [
    ...new Set((await holders(request.params.id, request.query.deleted)).map((v) => v.subject)),
  ]);
  app.get<{ Params: { id: string }; Querystring: Flags }>('/schemas/ids/:id/versions', async (request) =>
    holders(request.params.id, request.query.deleted),
  );

  app.get<{ Querystring: Flags }>('/subjects', async (request) =>
    registry.subjects({
      deleted: on(request.query.deleted),
      ...(request.query.subjectPrefix ? { prefix: request.query.subjectPrefix } : {}),
    }),
  );
  app.post<{ Params: { subject: string }; Querystring: Flags }>('/subjects/:subject', async (request) => {
    const { definition } = parseSchemaRequest(request.body);
    const found = registry.lookup(request.params.subject, definition, {
      normalize: on(request.query.normalize),
      deleted: on(request.query.deleted),
    });
    return { subject: found.subject, version: found.version, id: found.id, ...schemaFields(found) };
  });
  app.delete<{ Params: { subject: string }; Querystring: Flags }>('/subjects/:subject', async (request) =>
    registry.deleteSubject(request.params.subject, on(request.query.permanent)),
  );

  app.get<{ Params: { subject: string }; Querystring: Flags }>(
    '/subjects/:subject/versions',
    async (request) => registry.versions(request.params.subject, on(request.query.deleted)),
  );
  app.post<{ Params: { subject: string }; Querystring: Flags }>(
    '/subjects/:subject/versions',
    async (request) => {
      const { definition, id, version } = parseSchemaRequest(request.body);
      return {
        id: await registry.register(request.params.subject, definition, {
          normalize: on(request.query.normalize),
          ...(id === undefined ? {} : { id }),
          ...(version === undefined ? {} : { version }),
        }),
      };
    },
  );

  type VersionRoute = { Params: { subject: string; version: string }; Querystring: Flags };
  app.get<VersionRoute>('/subjects/:subject/versions/:version', async (request) => {
    const v = registry.version(
      request.params.subject,
      parseVersion(request.params.version),
      on(request.query.deleted),
    );
    const schema = registry.formatted(v, request.query.format);
    return { subject: v.subject, version: v.version, id: v.id, ...schemaFields({ ...v, schema }) };
  });
  app.get<VersionRoute>('/subjects/:subject/versions/:version/schema', async (request, reply) =>
    raw(
      reply,
      registry.version(
        request.params.subject,
        parseVersion(request.params.version),
        on(request.query.deleted),
      ).schema,
    ),
  );
  app.get<VersionRoute>('/subjects/:subject/versions/:version/referencedby', async (request) =>
    registry.referencedBy(request.params.subject, parseVersion(request.params.version)),
  );
  app.delete<VersionRoute>('/subjects/:subject/versions/:version', async (request) =>
    registry.deleteVersion(
      request.params.subject,
      parseVersion(request.params.version),
      on(request.query.permanent),
    ),
  );
}

function schemaId(text: string): number {
  const id = Number(text);
  if (!/^\d{1,10}$/.test(text) || id < 1 || id > 2 ** 31 - 1) throw RegistryErrors.schemaNotFound(text);
  return id;
}

/** The schema text itself as the body: JSON for Avro and JSON Schema, .proto text for Protobuf. */
function raw(reply: { send(body: string): unknown }, schema: string) {
  return reply.send(schema);
}
