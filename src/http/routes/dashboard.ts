import { readFile } from 'node:fs/promises';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** Where `npm run build` puts the dashboard: dist/dashboard of the package, from src/ or dist/ alike. */
export const DASHBOARD_DIR = path.join(import.meta.dirname, '..', '..', '..', 'dist', 'dashboard');

/** The dashboard loads its own scripts and styles, and talks only to this server. */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/**
 * The web dashboard at `/`: its page, and its scripts and styles under `/assets/` (file names carry
 * their content's hash, so they are cached for good; brotli or gzip when the browser takes them). Both are open: the page holds no data, and
 * every request it makes carries the key its user signs in with.
 */
export async function dashboardRoutes(
  app: FastifyInstance,
  options: { dir?: string | undefined; keysRequired: () => boolean },
): Promise<void> {
  const dir = options.dir ?? DASHBOARD_DIR;
  const index = await readFile(path.join(dir, 'index.html'), 'utf8').catch(() => null);
  app.get('/', async (_request, reply) => {
    if (index === null)
      return reply
        .code(404)
        .type('text/plain; charset=utf-8')
        .send(`The dashboard is not built (no ${path.join(dir, 'index.html')}): run npm run build\n`);
    return (
      reply
        .type('text/html; charset=utf-8')
        .header('cache-control', 'no-cache')
        .header('content-security-policy', CSP)
        .header('x-content-type-options', 'nosniff')
        // Whether to ask for a key before the first request (which would otherwise be a 401).
        .send(
          index.replace(
            '</head>',
            `<meta name="kappa-auth" content="${options.keysRequired() ? 'keys' : 'none'}"></head>`,
          ),
        )
    );
  });
  if (index !== null)
    await app.register(fastifyStatic, {
      root: path.join(dir, 'assets'),
      prefix: '/assets/',
      immutable: true,
      maxAge: '365d',
      decorateReply: false,
      index: false,
      list: false,
      // The build leaves .br and .gz copies beside each asset (scripts/compress-assets.ts).
      preCompressed: true,
    });
}
