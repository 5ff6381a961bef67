// Kappa's public API, grouped by layer (DESIGN.md: layers point down; each folder's index.ts is its surface).
export * from './config/index.ts';
export * from './core/index.ts';
export * from './ingest/index.ts';
export * from './kafka/index.ts';
export * from './log/index.ts';
export * from './registry/index.ts';
export * from './stream/index.ts';
