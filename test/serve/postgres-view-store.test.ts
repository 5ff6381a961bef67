import { afterAll, beforeAll, describe } from 'vitest';
import { PostgresViewStore, type ViewStore } from '../../src/serve/index.ts';
import { type PostgresServer, postgresAvailable, startPostgres } from '../support/postgres.ts';
import { viewStoreContract } from './view-store-contract.ts';

describe.runIf(postgresAvailable())('PostgreSQL view store', () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  viewStoreContract('PostgreSQL', {
    open: () => PostgresViewStore.open({ url: server.url }),
    reopen: async (store: ViewStore) => {
      await store.close();
      return PostgresViewStore.open({ url: server.url });
    },
    slowQuery: 'SELECT pg_sleep(30)',
  });
});
