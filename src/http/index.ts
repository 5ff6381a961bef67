export { type RestError, toRestError } from './errors.ts';
export { createServer, isLoopback, type KappaServer, type ServerOptions } from './server.ts';
