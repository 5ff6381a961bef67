import { createServer, type Server, type Socket } from 'node:net';
import {
  isKappaError,
  type KeyRing,
  type Logger,
  type Principal,
  silentLogger,
  TimeoutError,
} from '../../core/index.ts';
import { QueryInvalidError, QueryRefusedError, UnknownViewError } from '../view-errors.ts';
import type { QueryResult } from '../view-store.ts';
import type { Views } from '../views.ts';
import { binaryOf, paramFromBinary } from './pg-binary.ts';
import { type CannedResult, catalogAnswer, SERVER_VERSION, SERVER_VERSION_NUM } from './pg-catalog.ts';
import {
  backendKeyData,
  bindComplete,
  closeComplete,
  commandComplete,
  dataRow,
  emptyQueryResponse,
  errorResponse,
  MessageReader,
  noData,
  type PgField,
  parameterDescription,
  parameterStatus,
  parseComplete,
  readyForQuery,
  rowDescription,
} from './pg-messages.ts';
import { oidOf, textOf } from './pg-types.ts';

export interface PgServerOptions {
  views: Views;
  /** The API keys: the password is a key with `query:*` (or admin). With none, any password is taken. */
  keys: KeyRing;
  maxRows: number;
  timeoutMs: number;
  logger?: Logger;
  /** Connections at once; more are refused with "too many connections". Default 100. */
  maxConnections?: number;
}

/** A statement parsed with Parse, or a portal made with Bind (the extended query protocol). */
interface Statement {
  sql: string;
  /** The parameter types Parse named (0: unspecified), to read binary parameters by. */
  paramTypes: number[];
}
interface Portal {
  sql: string;
  params: Array<string | null>;
  /** Result format codes from Bind: none (all text), one for all columns, or one per column. */
  formats: number[];
  /** Run at Describe or Execute, whichever comes first, and sent at Execute. */
  result?: Answer;
}

/** What a statement answers: rows with their columns, or just a command tag. */
type Answer =
  | { kind: 'rows'; fields: PgField[]; rows: Array<Array<string | null>> }
  | { kind: 'command'; tag: string };

/** Statements a driver sends on connecting or around a read, that change nothing here: answered as done. */
const SESSION_STATEMENT =
  /^\s*(set|reset|begin|start\s+transaction|commit|end|rollback|discard|deallocate|close|listen|unlisten)\b/i;

/**
 * The Postgres wire protocol over the views: `psql`, Grafana, Metabase and every Postgres driver
 * query them as a database: the startup, the password (an API key), the simple and the extended
 * query protocols (parameters and results in text or binary, prepared statements, portals), the
 * catalogue queries `psql` and Grafana send, and nothing that writes: every statement goes through
 * the same read-only query engine as `POST /v1/query`.
 */
export class PgServer {
  readonly #o: PgServerOptions;
  readonly #logger: Logger;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #nextPid = 1;

  constructor(options: PgServerOptions) {
    this.#o = options;
    this.#logger = options.logger ?? silentLogger;
    this.#server = createServer((socket) => this.#accept(socket));
  }

  /** Listens; resolves with the port (0 picks a free one). */
  async listen(port: number, host: string): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    return (this.#server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket: Socket): void {
    if (this.#sockets.size >= (this.#o.maxConnections ?? 100)) {
      socket.end(errorResponse('53300', 'too many connections to Kappa', 'FATAL'));
      return;
    }
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {});
    const pid = this.#nextPid++;
    let principal: Principal | null = null;
    let phase: 'startup' | 'password' | 'ready' = 'startup';
    const session = new Session(this.#o, socket, () => principal, this.#logger);
    const ready = () => {
      phase = 'ready';
      const out = [authentication(0)];
      for (const [name, value] of PARAMETERS) out.push(parameterStatus(name, value));
      out.push(backendKeyData(pid, 0), readyForQuery());
      socket.write(Buffer.concat(out));
    };
    // One message at a time, in order: the next waits for the answer to this one.
    let chain: Promise<void> = Promise.resolve();
    const frames = new Frames((message) => {
      chain = chain
        .then(async () => {
          if (phase === 'ready') return session.handle(message);
          if (phase === 'startup') {
            const code = message.readInt32BE(4);
            if (code === SSL_REQUEST || code === GSS_REQUEST) return void socket.write('N');
            if (code === CANCEL_REQUEST) return void socket.end();
            if (code >> 16 !== 3)
              return void socket.end(errorResponse('08P01', 'Kappa speaks protocol 3.0', 'FATAL'));
            const user = startupParameters(message).user;
            if (!user) return void socket.end(errorResponse('28000', 'no user name given', 'FATAL'));
            frames.started = true;
            // Without API keys (loopback only) nobody is asked for a password, as with `trust`.
            if (!this.#o.keys.enabled) return ready();
            phase = 'password';
            return void socket.write(authentication(3)); // cleartext password
          }
          // phase 'password'
          if (message[0] !== 0x70)
            return void socket.end(errorResponse('08P01', 'expected a password', 'FATAL'));
          principal = this.#o.keys.authenticate(new MessageReader(message, 5).cstring());
          if (principal === null)
            return void socket.end(
              errorResponse('28P01', 'password authentication failed: the password is an API key', 'FATAL'),
            );
          ready();
        })
        .catch((error: unknown) => {
          this.#logger.warn({ err: error }, 'postgres port: connection failed');
          socket.destroy();
        });
    });
    socket.on('data', (chunk: Buffer) => {
      if (!frames.push(chunk)) socket.end(errorResponse('08P01', 'message too large or malformed', 'FATAL'));
    });
  }
}

const SSL_REQUEST = 80877103;
const GSS_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
/** Sent after authentication: what drivers (JDBC, Npgsql, pg) read to decide how to talk. */
const PARAMETERS: Array<[string, string]> = [
  ['server_version', SERVER_VERSION],
  ['client_encoding', 'UTF8'],
  ['server_encoding', 'UTF8'],
  ['DateStyle', 'ISO, MDY'],
  ['TimeZone', 'UTC'],
  ['integer_datetimes', 'on'],
  ['standard_conforming_strings', 'on'],
  ['application_name', ''],
];
/** A frontend message larger than this closes the connection: a query is at most 100,000 characters. */
const MAX_MESSAGE_BYTES = 1024 * 1024;

function authentication(code: number): Buffer {
  const b = Buffer.alloc(9);
  b.write('R', 0, 'latin1');
  b.writeInt32BE(8, 1);
  b.writeInt32BE(code, 5);
  return b;
}

function startupParameters(message: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  const reader = new MessageReader(message, 8);
  for (let name = reader.cstring(); name !== ''; name = reader.cstring()) out[name] = reader.cstring();
  return out;
}

/**
 * Cuts the byte stream into messages: the startup message has no type byte, every later one has.
 * Written by hand (pg-gateway 0.2's framing mis-slices the second message of a chunk, which is how
 * every driver sends the extended protocol's Parse, Bind, Execute and Sync).
 */
class Frames {
  started = false;
  #buffer: Buffer = Buffer.alloc(0);
  readonly #emit: (message: Buffer) => void;

  constructor(emit: (message: Buffer) => void) {
    this.#emit = emit;
  }

  /**
   * False when a message is malformed or too large (the connection should close). Until `started`
   * (set once the startup message is read: an SSL request before it has no type either), messages
   * have no type byte.
   */
  push(chunk: Buffer): boolean {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const head = this.started ? 1 : 0;
      if (this.#buffer.length < head + 4) return true;
      const length = this.#buffer.readInt32BE(head);
      if (length < 4 || length > MAX_MESSAGE_BYTES) return false;
      if (this.#buffer.length < head + length) return true;
      const message = this.#buffer.subarray(0, head + length);
      this.#buffer = this.#buffer.subarray(head + length);
      this.#emit(message);
    }
  }
}

/** One connection's statements, portals and the answers to its messages. */
class Session {
  readonly #o: PgServerOptions;
  readonly #socket: Socket;
  readonly #principal: () => Principal | null;
  readonly #logger: Logger;
  readonly #statements = new Map<string, Statement>();
  readonly #portals = new Map<string, Portal>();
  /** After an error in the extended protocol, messages are skipped until Sync. */
  #failed = false;

  constructor(options: PgServerOptions, socket: Socket, principal: () => Principal | null, logger: Logger) {
    this.#o = options;
    this.#socket = socket;
    this.#principal = principal;
    this.#logger = logger;
  }

  async handle(data: Buffer): Promise<void> {
    const type = String.fromCharCode(data[0]!);
    const body = new MessageReader(data, 5);
    try {
      if (type === 'X') return void this.#socket.end();
      if (type === 'S') {
        this.#failed = false;
        return this.#send(readyForQuery());
      }
      if (type === 'H') return;
      if (type === 'Q') return await this.#simple(body.cstring());
      if (this.#failed) return;
      switch (type) {
        case 'P': {
          const name = body.cstring();
          const sql = body.cstring();
          const paramTypes = Array.from({ length: body.int16() }, () => body.int32());
          this.#statements.set(name, { sql, paramTypes });
          return this.#send(parseComplete());
        }
        case 'B':
          return this.#bind(body);
        case 'D': {
          const what = body.byte();
          const name = body.cstring();
          return await this.#describe(what, name);
        }
        case 'E': {
          const portal = this.#portals.get(body.cstring());
          if (!portal) throw new QueryInvalidError('No such portal');
          portal.result ??= await this.#answer(portal.sql, portal.params);
          return this.#sendAnswer(portal.result, false, portal.formats);
        }
        case 'C': {
          const what = body.byte();
          const name = body.cstring();
          if (what === 'S') this.#statements.delete(name);
          else this.#portals.delete(name);
          return this.#send(closeComplete());
        }
        default:
          throw new QueryRefusedError(
            `Message '${type}' is not supported here (read-only: no COPY, no function calls)`,
          );
      }
    } catch (error) {
      this.#send(this.#error(error));
      // In the extended protocol the client sends Sync after an error; the simple one is answered here.
      if (type !== 'Q') this.#failed = true;
    }
  }

  async #simple(sql: string): Promise<void> {
    if (sql.trim() === '') {
      this.#send(emptyQueryResponse(), readyForQuery());
      return;
    }
    try {
      this.#sendAnswer(await this.#answer(sql, []), true);
    } catch (error) {
      this.#send(this.#error(error));
    }
    this.#send(readyForQuery());
  }

  #bind(body: MessageReader): void {
    const portal = body.cstring();
    const statement = this.#statements.get(body.cstring());
    if (!statement) throw new QueryInvalidError('No such prepared statement');
    const formats = Array.from({ length: body.int16() }, () => body.int16());
    const params: Array<string | null> = [];
    const count = body.int16();
    for (let i = 0; i < count; i++) {
      const length = body.int32();
      const value = length < 0 ? null : body.bytes(length);
      if (value === null) params.push(null);
      else if (formatAt(formats, i) === 1)
        params.push(paramFromBinary(value, statement.paramTypes[i] ?? 0, i + 1));
      else params.push(value.toString('utf8'));
    }
    const results = Array.from({ length: body.int16() }, () => body.int16());
    const unknown = results.find((f) => f !== 0 && f !== 1);
    if (unknown !== undefined) throw new QueryInvalidError(`Unknown result format code: ${unknown}`);
    this.#portals.set(portal, { sql: statement.sql, params, formats: results });
    this.#send(bindComplete());
  }

  async #describe(what: string, name: string): Promise<void> {
    if (what === 'S') {
      const statement = this.#statements.get(name);
      if (!statement) throw new QueryInvalidError('No such prepared statement');
      // The types Parse named, and text for the rest: DuckDB casts text to what the query needs.
      const count = Math.max(countParams(statement.sql), statement.paramTypes.length);
      this.#send(
        parameterDescription(Array.from({ length: count }, (_, i) => statement.paramTypes[i] || 25)),
      );
      // The columns, from the statement run once with null parameters (a read, bounded by maxRows).
      const answer = await this.#answer(
        statement.sql,
        Array.from({ length: count }, () => null),
      ).catch(() => null);
      this.#send(answer?.kind === 'rows' ? rowDescription(answer.fields) : noData());
      return;
    }
    const portal = this.#portals.get(name);
    if (!portal) throw new QueryInvalidError('No such portal');
    portal.result ??= await this.#answer(portal.sql, portal.params);
    this.#send(
      portal.result.kind === 'rows'
        ? rowDescription(
            portal.result.fields,
            portal.result.fields.map((_, i) => formatAt(portal.formats, i)),
          )
        : noData(),
    );
  }

  /** Runs a statement: session statements are acknowledged, catalogue queries answered, the rest read. */
  async #answer(sql: string, params: Array<string | null>): Promise<Answer> {
    const statement = sql.trim().replace(/;\s*$/, '');
    if (SESSION_STATEMENT.test(statement))
      return { kind: 'command', tag: statement.split(/\s+/)[0]!.toUpperCase() };
    this.#checkScope();
    const show = /^\s*show\s+(\w+)/i.exec(statement);
    if (show)
      return canned({ fields: [{ name: show[1]!, oid: 25 }], rows: [[SHOW[show[1]!.toLowerCase()] ?? '']] });
    if (this.#o.views.store.kind === 'duckdb') {
      const catalog = catalogAnswer(statement, await this.#o.views.list());
      if (catalog) return canned(catalog);
    }
    const result: QueryResult = await this.#o.views.query(statement, {
      maxRows: this.#o.maxRows,
      timeoutMs: this.#o.timeoutMs,
      params,
    });
    const fields = result.columns.map((c) => ({ name: c.name, oid: oidOf(c.type) }));
    return {
      kind: 'rows',
      fields,
      rows: result.rows.map((row) => row.map((v, i) => textOf(v, fields[i]!.oid))),
    };
  }

  #sendAnswer(answer: Answer, describe: boolean, formats: number[] = []): void {
    if (answer.kind === 'command') {
      this.#send(commandComplete(answer.tag));
      return;
    }
    const out: Buffer[] = describe ? [rowDescription(answer.fields)] : [];
    const binary = answer.fields.map((_, i) => formatAt(formats, i) === 1);
    for (const row of answer.rows)
      out.push(
        dataRow(
          binary.some(Boolean)
            ? row.map((v, i) => (v === null || !binary[i] ? v : binaryOf(v, answer.fields[i]!.oid)))
            : row,
        ),
      );
    out.push(commandComplete(`SELECT ${answer.rows.length}`));
    this.#send(...out);
  }

  #checkScope(): void {
    const principal = this.#principal();
    if (principal === null) return;
    if (!principal.scopes.some((s) => s.kind === 'admin' || (s.kind === 'query' && s.pattern === '*')))
      throw new QueryRefusedError(
        `API key '${principal.name}' may not query over the Postgres port: it needs query:*`,
      );
  }

  #error(error: unknown): Buffer {
    if (error instanceof QueryRefusedError) return errorResponse('42501', error.message);
    if (error instanceof QueryInvalidError) return errorResponse('42601', error.message);
    if (error instanceof UnknownViewError) return errorResponse('42P01', error.message);
    if (error instanceof TimeoutError) return errorResponse('57014', error.message);
    if (error instanceof RangeError) return errorResponse('08P01', `Malformed message: ${error.message}`);
    if (isKappaError(error) && error.blame === 'user') return errorResponse('22023', error.message);
    this.#logger.error({ err: error }, 'postgres port: query failed');
    return errorResponse('XX000', `Internal error: ${(error as Error).message}`);
  }

  #send(...messages: Buffer[]): void {
    if (!this.#socket.destroyed) this.#socket.write(Buffer.concat(messages));
  }
}

const SHOW: Record<string, string> = {
  server_version: SERVER_VERSION,
  server_version_num: String(SERVER_VERSION_NUM),
  transaction_isolation: 'read committed',
  standard_conforming_strings: 'on',
  client_encoding: 'UTF8',
  timezone: 'UTC',
  datestyle: 'ISO, MDY',
  search_path: 'public',
};

function canned(result: CannedResult): Answer {
  return { kind: 'rows', fields: result.fields, rows: result.rows };
}

/** The format code of value `i` from a list of none (text), one (for all), or one per value. */
function formatAt(formats: readonly number[], i: number): number {
  return formats.length === 0 ? 0 : formats.length === 1 ? formats[0]! : (formats[i] ?? 0);
}

/** The highest `$n` in a statement (outside strings, roughly): how many parameters it takes. */
function countParams(sql: string): number {
  let max = 0;
  for (const m of sql.replace(/'(?:[^']|'')*'/g, "''").matchAll(/\$(\d+)/g))
    max = Math.max(max, Number(m[1]));
  return max;
}
