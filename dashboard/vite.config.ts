import path from 'node:path';
import { defineConfig } from 'vite';

// The dashboard builds into dist/dashboard, which kappa up serves at `/` (src/http/routes/dashboard.ts).
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  logLevel: 'warn',
  build: {
    outDir: path.join(import.meta.dirname, '..', 'dist', 'dashboard'),
    emptyOutDir: true,
    // Served from the same process as the API: no CDN, nothing fetched from elsewhere.
    assetsInlineLimit: 0,
    reportCompressedSize: false,
  },
});
