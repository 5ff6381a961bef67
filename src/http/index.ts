export { type RestError, toRestError } from './errors.ts';
export { createServer, type KappaServer, type ServerOptions } from './server.ts';
