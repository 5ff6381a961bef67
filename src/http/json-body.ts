import { isUtf8 } from 'node:buffer';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import sjson from 'secure-json-parse';
import { RequestError } from './errors.ts';

/** How deep objects and arrays may nest in a request body unless the server is told otherwise. */
export const DEFAULT_MAX_JSON_DEPTH = 64;

/**
 * A JSON body parser for every JSON content type the server takes. Before anything is parsed it checks
 * the bytes are UTF-8 (a lenient decoder would store U+FFFD in their place) and that nesting stays
 * within `maxDepth` (a 100,000-deep body parses, but every recursive step after it — stringify,
 * validation — overflows the stack). Keys named `__proto__` are refused, and said to be so.
 */
function jsonBodyParser(maxDepth: number) {
  return (_request: FastifyRequest, body: Buffer, done: (error: Error | null, value?: unknown) => void) => {
    try {
      done(null, parseJsonBody(body, maxDepth));
    } catch (error) {
      done(error as Error);
    }
  };
}

function parseJsonBody(body: Buffer, maxDepth: number): unknown {
  if (body.length === 0) throw new RequestError(400, 400, 'The request body is empty: send a JSON document');
  if (!isUtf8(body)) throw new RequestError(422, 422, 'The request body is not valid UTF-8');
  const depth = nestingDepth(body, maxDepth);
  if (depth > maxDepth)
    throw new RequestError(
      400,
      400,
      `The request body nests objects or arrays deeper than ${maxDepth} levels (http.maxJsonDepth)`,
    );
  try {
    return sjson.parse(body.toString('utf8'), null, { protoAction: 'error', constructorAction: 'error' });
  } catch (error) {
    if (/forbidden prototype property/.test((error as Error).message))
      throw new RequestError(
        400,
        400,
        'The request body has a key named "__proto__" (or "constructor.prototype"), which is refused: such keys can poison objects',
      );
    throw new RequestError(400, 400, `The request body is not valid JSON: ${(error as Error).message}`);
  }
}

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The deepest nesting of `{` and `[` outside strings, stopping early once past `limit`. Written by hand:
 * it is one pass over bytes, and no parser reports depth before it recurses. Malformed JSON is left
 * for the parser to name.
 */
function nestingDepth(bytes: Uint8Array, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return deepest;
}

/**
 * A body of JSON values one after another (REST Proxy v3's streaming produce: `{…}{…}` or one per
 * line), each parsed and checked as a body of its own. Split by hand in the same one pass over bytes
 * as `nestingDepth`: JSON parsers take one document.
 */
export function parseJsonValues(body: Buffer, maxDepth: number): unknown[] {
  if (!isUtf8(body)) throw new RequestError(422, 422, 'The request body is not valid UTF-8');
  const values: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    if (start < 0) start = i;
    if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
    else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
    if (depth === 0 && (c === CLOSE_BRACE || c === CLOSE_BRACKET)) {
      values.push(parseJsonBody(body.subarray(start, i + 1), maxDepth));
      start = -1;
    } else if (depth < 0)
      throw new RequestError(400, 400, 'The request body is not valid JSON: an unmatched close');
  }
  if (start >= 0) values.push(parseJsonBody(body.subarray(start), maxDepth));
  if (values.length === 0)
    throw new RequestError(400, 400, 'The request body is empty: send a JSON document');
  return values;
}

/** Replaces Fastify's JSON parser, and adds the REST Proxy's vendor types, with the one above. */
export function registerJsonParser(
  app: FastifyInstance,
  types: Array<string | RegExp>,
  maxDepth: number,
): void {
  for (const type of types) {
    if (app.hasContentTypeParser(type)) app.removeContentTypeParser(type);
    app.addContentTypeParser(type, { parseAs: 'buffer' }, jsonBodyParser(maxDepth));
  }
}
