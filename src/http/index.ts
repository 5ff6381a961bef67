export { type RestError, toRestError } from './errors.ts';
export { type RequestedEvent, requested } from './http-events.ts';
export type { DeadLetterJson, DeadLetterPageJson, ReplayAnswerJson } from './routes/dead-letters.ts';
export type { MetricsText } from './routes/ops.ts';
export { createServer, isLoopback, type KappaServer, type ServerOptions } from './server.ts';
