import path from 'node:path';
import { DuckDbViewStore, type ViewStore } from '../../src/serve/index.ts';
import { useTempDir } from '../support/temp-dir.ts';
import { viewStoreContract } from './view-store-contract.ts';

const temp = useTempDir('each', 'kappa-duckdb-');
const file = () => path.join(temp.dir, 'views', 'views.duckdb');

viewStoreContract('DuckDB', {
  open: () => DuckDbViewStore.open({ file: file() }),
  reopen: async (store: ViewStore) => {
    await store.close();
    return DuckDbViewStore.open({ file: file() });
  },
  slowQuery: 'SELECT count(*) FROM range(100000) a, range(100000) b WHERE a.range * b.range % 7 = 3',
});
