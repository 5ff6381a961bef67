import type { FastifyInstance } from 'fastify';
import { createServer, type KappaServer, type ServerOptions } from '../../src/http/index.ts';
import { type EmbeddedBus, openEmbeddedBus } from '../../src/log/index.ts';
import { tempDir } from '../support/temp-dir.ts';

export interface TestServer {
  bus: EmbeddedBus;
  server: KappaServer;
  app: FastifyInstance;
  /** Sum of every partition's end offset: what was appended, whatever the route said. */
  appended(topic: string): Promise<number>;
  close(): Promise<void>;
}

export async function startTestServer(
  options: Partial<ServerOptions> & { maxRecordBytes?: number } = {},
): Promise<TestServer> {
  const { dir, remove } = await tempDir('kappa-http-');
  const bus = await openEmbeddedBus({
    dataDir: dir,
    maintenanceInterval: 0,
    ...(options.maxRecordBytes ? { maxRecordBytes: options.maxRecordBytes } : {}),
  });
  const server = await createServer({ bus, ...options });
  return {
    bus,
    server,
    app: server.app,
    async appended(topic) {
      return (await bus.partitionOffsets(topic)).reduce((sum, r) => sum + r.end - r.start, 0);
    },
    async close() {
      await server.close();
      await bus.close();
      await remove();
    },
  };
}

export const JSON_V2 = 'application/vnd.kafka.json.v2+json';
export const BINARY_V2 = 'application/vnd.kafka.binary.v2+json';
