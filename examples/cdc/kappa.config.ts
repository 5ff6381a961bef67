// `kappa up --config examples/cdc/kappa.config.ts`: captures table `orders` of the PostgreSQL database in
// DATABASE_URL (wal_level=logical, a user with REPLICATION) into topic shop.public.orders. docs/ingest.md.
import { defineConfig } from 'kappa';

export default defineConfig({
  dataDir: './data',
  cdc: {
    sources: [
      {
        name: 'shop',
        kind: 'postgres',
        url: process.env.DATABASE_URL ?? 'postgres://postgres@localhost:5432/postgres',
        tables: ['orders'],
      },
    ],
  },
});
