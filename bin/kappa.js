#!/usr/bin/env node
import { nodeProblem } from './node-check.js';

const problem = nodeProblem(process.version);
if (problem) {
  process.stderr.write(`${problem}\n`);
  process.exit(1);
}

// In a checkout, run the TypeScript sources directly (Node strips the types); in an installed
// package, where src/ is not shipped, run the build.
const { existsSync } = await import('node:fs');
const { registerHooks } = await import('node:module');
const checkout = existsSync(new URL('../src/cli/main.ts', import.meta.url));
const entry = new URL(checkout ? '../src/cli/main.ts' : '../dist/cli/main.js', import.meta.url);

// Pipeline and config files `import … from 'kappa'`. Wherever they are (a fresh clone with no build,
// another project's folder), that must be this running Kappa — one copy of its classes, not a second
// one from dist/ or node_modules/ that the runtime would not recognise.
const api = new URL(checkout ? '../src/index.ts' : '../dist/index.js', import.meta.url).href;
registerHooks({
  resolve(specifier, context, next) {
    return specifier === 'kappa' ? { url: api, shortCircuit: true } : next(specifier, context);
  },
});

const { main } = await import(entry.href);
await main();
