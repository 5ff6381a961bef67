import { KappaError } from '../core/index.ts';
import { withSpinner } from './spinner.ts';

export const DEFAULT_URL = 'http://localhost:8080';

/** An HTTP error answer from a Kappa server, carrying its REST Proxy error code. */
export class ServerError extends Error {
  readonly status: number;
  readonly errorCode: number | undefined;
  constructor(status: number, errorCode: number | undefined, message: string) {
    super(message);
    this.name = 'ServerError';
    this.status = status;
    this.errorCode = errorCode;
  }
}

/** The CLI's view of a running Kappa: every command goes over HTTP, so it works the same against any deployment. */
export class KappaClient {
  readonly baseUrl: string;
  readonly #apiKey: string | undefined;
  constructor(baseUrl: string, apiKey?: string) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.#apiKey = apiKey || undefined;
  }

  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<T> {
    let response: Response;
    try {
      response = await withSpinner(
        `${method} ${path.split('?')[0]}`,
        fetch(`${this.baseUrl}${path}`, {
          method,
          headers: {
            ...(body === undefined ? {} : { 'content-type': contentType }),
            ...(this.#apiKey ? { authorization: `Bearer ${this.#apiKey}` } : {}),
          },
          body: body === undefined ? null : JSON.stringify(body),
        }),
      );
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      if (cause === 'ECONNREFUSED' || cause === 'ENOTFOUND' || cause === 'EAI_AGAIN') {
        throw new Error(
          `No Kappa is running at ${this.baseUrl} (${cause}). Start one with \`npx kappa up\`, or pass --url.`,
        );
      }
      throw new Error(`Could not reach Kappa at ${this.baseUrl}: ${(error as Error).message}`);
    }
    const text = await response.text();
    const parsed = text.length > 0 ? safeJson(text) : undefined;
    if (!response.ok) {
      const err = parsed as { error_code?: number; message?: string } | undefined;
      if (response.status === 401 && !this.#apiKey)
        throw new ServerError(
          401,
          err?.error_code,
          `${err?.message ?? 'An API key is required'} (pass --api-key or set KAPPA_API_KEY)`,
        );
      throw new ServerError(
        response.status,
        err?.error_code,
        err?.message ?? `HTTP ${response.status}: ${text.slice(0, 200)}`,
      );
    }
    return parsed as T;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** One line on stderr for the user, exit code 1. KappaErrors and server errors are already worded for people. */
export function fail(error: unknown): never {
  const message =
    error instanceof ServerError || error instanceof KappaError || error instanceof Error
      ? error.message
      : String(error);
  process.stderr.write(`kappa: ${message}\n`);
  process.exit(1);
}
