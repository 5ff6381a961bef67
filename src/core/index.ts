export * from './clock.ts';
export * from './diagnostics.ts';
export * from './duration.ts';
export * from './errors.ts';
export * from './logger.ts';
export * from './murmur2.ts';
export * from './record.ts';
export * from './topic-name.ts';
