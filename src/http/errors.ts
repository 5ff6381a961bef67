import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  ErrorCodes,
  InvalidArgumentError,
  isKappaError,
  type KappaError,
  type Logger,
} from '../core/index.ts';
import { RegistryError } from '../registry/index.ts';

/** A REST Proxy error body: `{"error_code": …, "message": …}` with the HTTP status it goes with. */
export interface RestError {
  status: number;
  body: { error_code: number; message: string };
}

/** Raised by routes for request problems that have no KappaError of their own. */
export class RequestError extends InvalidArgumentError {
  readonly status: number;
  readonly errorCode: number;
  constructor(status: number, errorCode: number, message: string) {
    super(message);
    this.status = status;
    this.errorCode = errorCode;
  }
}

/**
 * Maps any error to the REST Proxy's error shape. One table for every route, so a topic that does not
 * exist is 404/40401 whether it was produced to, read or described. `v3` routes use Confluent's v3
 * codes where they differ (unknown topic is 404/40403 there).
 */
export function toRestError(error: unknown, api: 'v2' | 'v3' = 'v2'): RestError {
  if (error instanceof RequestError || error instanceof RegistryError)
    return rest(error.status, error.errorCode, error.message);
  if (isKappaError(error)) return fromKappa(error, api);
  const fastify = error as { statusCode?: number; code?: string; message?: string };
  if (typeof fastify.statusCode === 'number' && fastify.statusCode >= 400 && fastify.statusCode < 500) {
    const message =
      fastify.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? 'Request body is larger than the server accepts (http.maxBodyBytes)'
        : fastify.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
          ? `Unsupported content type: ${fastify.message ?? ''}`.trim()
          : (fastify.message ?? 'Bad request');
    return rest(fastify.statusCode, fastify.statusCode, message);
  }
  return rest(500, 50001, 'Internal server error: see the server log');
}

function fromKappa(error: KappaError, api: 'v2' | 'v3'): RestError {
  switch (error.code) {
    case ErrorCodes.UNKNOWN_TOPIC:
      return api === 'v3' ? rest(404, 40403, error.message) : rest(404, 40401, error.message);
    case ErrorCodes.UNKNOWN_PARTITION:
      return rest(404, 40402, error.message);
    case ErrorCodes.TOPIC_EXISTS:
      return rest(400, 40002, error.message);
    case ErrorCodes.RECORD_TOO_LARGE:
      return rest(413, 413, error.message);
    case ErrorCodes.INVALID_TOPIC_NAME:
    case ErrorCodes.INVALID_ARGUMENT:
    case ErrorCodes.INVALID_DURATION:
      return rest(422, 422, error.message);
    case ErrorCodes.UNAUTHENTICATED:
      return rest(401, 40101, error.message);
    case ErrorCodes.FORBIDDEN:
      return rest(403, 40301, error.message);
    case ErrorCodes.LIMIT_EXCEEDED:
      return rest(400, 40002, error.message);
    case ErrorCodes.UNKNOWN_VIEW:
      return rest(404, 40404, error.message);
    case ErrorCodes.VIEW_VERSION:
      return rest(409, 40901, error.message);
    case ErrorCodes.QUERY_INVALID:
      return rest(400, 40003, error.message);
    case ErrorCodes.QUERY_REFUSED:
      return rest(403, 40302, error.message);
    case ErrorCodes.OFFSET_OUT_OF_RANGE:
      return rest(416, 41601, error.message);
    case ErrorCodes.BUS_CLOSED:
      return rest(503, 50301, 'Kappa is shutting down');
    case ErrorCodes.AUTHENTICATION:
      // The server's own credentials are wrong, not the client's request: a server-side failure.
      return rest(503, 50002, error.message);
    default:
      return error.blame === 'external' ? rest(503, 50002, error.message) : rest(500, 50001, error.message);
  }
}

function rest(status: number, errorCode: number, message: string): RestError {
  return { status, body: { error_code: errorCode, message } };
}

/**
 * Answers a failed request in the REST Proxy's shape. Every 5xx is a bug or an outage, so it is logged
 * with its cause; 4xx answers are the caller's and are not.
 */
export function replyError(
  reply: FastifyReply,
  request: FastifyRequest,
  error: unknown,
  logger: Logger,
  api: 'v2' | 'v3' = 'v2',
): FastifyReply {
  const { status, body } = toRestError(error, api);
  if (status >= 500) logger.error({ err: error, method: request.method, url: request.url }, 'request failed');
  if (status === 401) reply.header('www-authenticate', 'Bearer realm="kappa", Basic realm="kappa"');
  if (status === 429) reply.header('retry-after', '1');
  return reply.code(status).send(body);
}
