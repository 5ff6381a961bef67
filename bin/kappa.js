#!/usr/bin/env node
// In a checkout, run the TypeScript sources directly (Node strips the types); in an installed
// package, where src/ is not shipped, run the build.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
const entry = existsSync(source) ? source : new URL('../dist/cli/main.js', import.meta.url);
const { main } = await import(entry.href);
await main();
