import { createServer, type KappaServer, type ServerOptions } from '../../src/http/index.ts';
import { type Bus, openEmbeddedBus } from '../../src/log/index.ts';
import { type RegistryOptions, SchemaRegistry } from '../../src/registry/index.ts';
import { tempDir } from '../support/temp-dir.ts';

export interface RegistryServer {
  bus: Bus;
  registry: SchemaRegistry;
  server: KappaServer;
  url: string;
  /** A request to the API with the registry's content type; the body is sent as JSON unless a string. */
  call(
    method: string,
    path: string,
    body?: unknown,
    contentType?: string,
  ): Promise<{ status: number; body: Json; type: string }>;
  close(): Promise<void>;
}

/** Response bodies are whatever JSON the API sent; tests index into them freely. */
// biome-ignore lint/suspicious/noExplicitAny: test responses are arbitrary JSON
type Json = any;

export const SR_JSON = 'application/vnd.schemaregistry.v1+json';

/** A Kappa HTTP server with the registry on a fresh embedded log, listening on a free port. */
export async function startRegistryServer(
  options: Partial<RegistryOptions> & { bus?: Bus; server?: Partial<ServerOptions> } = {},
): Promise<RegistryServer> {
  const { dir, remove } = await tempDir('kappa-registry-');
  const bus = options.bus ?? (await openEmbeddedBus({ dataDir: dir, maintenanceInterval: 0 }));
  const registry = await SchemaRegistry.open({ ...options, bus });
  const server = await createServer({ ...options.server, bus, registry });
  const url = await server.listen(0, '127.0.0.1');
  return {
    bus,
    registry,
    server,
    url,
    call: (method, path, body, contentType = SR_JSON) => call(url, method, path, body, contentType),
    async close() {
      await server.close();
      await registry.close();
      if (!options.bus) await bus.close();
      await remove();
    },
  };
}

export async function call(url: string, method: string, path: string, body?: unknown, contentType = SR_JSON) {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': contentType },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: response.status, body: parsed as Json, type: response.headers.get('content-type') ?? '' };
}

/** A small Avro record schema, as text. */
export function avroRecord(
  name: string,
  fields: Array<{ name: string; type: unknown; default?: unknown }>,
): string {
  return JSON.stringify({ type: 'record', name, fields });
}
