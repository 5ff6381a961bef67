import { type Duration, InvalidArgumentError, toMillis } from '../../core/index.ts';
import {
  type AggregateResult,
  type Aggregator,
  type AggregatorSpec,
  combine,
  type ResultType,
} from '../aggregates/aggregator.ts';
import type { EmitMode } from '../operators/window-operator.ts';
import { json, type Serde } from '../serdes/serde.ts';
import type { HoppingWindows, TumblingWindows, WindowAssigner } from '../windows/assigners.ts';
import type { Window } from '../windows/window.ts';
import type { JoinSide, SourceStep, Step, Table } from './steps.ts';

/** A window's result as it flows on: the key, the window, the aggregate, and whether it updates an earlier one. */
export interface Windowed<K, R> {
  key: K;
  window: Window;
  value: R;
  kind: 'early' | 'final' | 'update';
  replaces?: Window[];
}

/**
 * A view name: an SQL table name that needs no quotes in Postgres (which folds unquoted names to
 * lower case), with room for a version's suffix (`__v12`) in Postgres' 63 characters, and not ending
 * like one.
 */
const VIEW_NAME = /^[a-z_][a-z0-9_]{0,55}$/;

/**
 * The compacted topic a view version's rows go to before the materializer puts them in the view
 * store: version 1's is `kappa-view-<view>`, a later one's `kappa-view-<view>__v<n>`.
 */
export function viewTopic(view: string, version = 1): string {
  return version === 1 ? `kappa-view-${view}` : `kappa-view-${viewTable(view, version)}`;
}

/** The table that holds one version of a view; the view's own name is an SQL view over the version served. */
export function viewTable(view: string, version: number): string {
  return `${view}__v${version}`;
}

/** The view and version a view table holds, or null for a name that is not a view table. */
export function parseViewTable(table: string): { view: string; version: number } | null {
  const m = /^(.+)__v([1-9]\d*)$/.exec(table);
  return m ? { view: m[1]!, version: Number(m[2]) } : null;
}

export interface SourceOptions<T> {
  /** How record values are read: JSON by default; `avro(schema)`, `jsonSchema(schema)`, `protobuf(proto)`. */
  serde?: Serde<T>;
  /** The event time of a value (default: the record's timestamp), or `'processing'` for processing-time windows. */
  eventTime?: ((value: T) => number | Date) | 'processing';
  maxOutOfOrder?: Duration;
  /**
   * How long a source partition may stay silent (processing time) before windows stop waiting for it.
   * Default one minute, so a partition that never gets a record cannot hold every window back for
   * ever; `'never'` waits for ever (every partition is known to get records).
   */
  idleAfter?: Duration | 'never';
  /**
   * Start from all of history: offsets the log's retention has deleted are read from the archive
   * (the topic must be in the config's `archive.topics`), then the log. Default false: the log only.
   */
  fromArchive?: boolean;
  name?: string;
}

export interface WindowOptions {
  allowedLateness?: Duration;
  /**
   * `'final'` (default): each window once, when the watermark passes its end. `{ updates: interval }`:
   * also every change before that, at most once per interval of processing time per key and window
   * (0: every record). `{ early: interval }`: also the changed windows every interval.
   */
  emit?: 'final' | { updates: Duration } | { early: Duration };
  /** A topic for records too late for every window; default: the dead-letter topic, reason `late`. */
  lateTopic?: string;
  name?: string;
}

/** A compiled pipeline: its name and its steps, source first, sink last. */
export interface Pipeline {
  /** What its groups, state and topics are named for: `name`, or `name.v<version>` past version 1. */
  readonly name: string;
  /** Its version (default 1): a new version runs beside the old and rebuilds its views from history. */
  readonly version: number;
  readonly steps: readonly Step[];
  readonly source: SourceStep;
}

/** A table to join with: the latest value per key of a compacted topic, read with `serde` (JSON by default). */
export function table<V = unknown>(topic: string, options: { serde?: Serde<V> } = {}): Table<V> {
  return { kind: 'table', topic, serde: (options.serde ?? json()) as Serde<V> };
}

/** How long a source partition may be silent before it stops holding windows back, unless the source says. */
export const DEFAULT_IDLE_AFTER = '1m';

/**
 * Starts a pipeline: `pipeline('revenue').source('payments', {...})…toTopic('revenue-5m')`. A
 * pipeline may read several sources (`const p = pipeline('q8'); p.source('persons')…`) to join
 * them; the stream that ends in `toTopic` is the pipeline's main one, the others are joined into it.
 */
export function pipeline(
  name: string,
  options: { version?: number } = {},
): { source<T>(topic: string, options?: SourceOptions<T>): Stream<T> } {
  if (!/^[a-zA-Z0-9._-]{1,100}$/.test(name))
    throw new InvalidArgumentError(
      `Invalid pipeline name ${JSON.stringify(name)}: use letters, digits, '.', '_', '-'`,
    );
  const version = options.version ?? 1;
  if (!Number.isInteger(version) || version < 1 || version > 9999)
    throw new InvalidArgumentError(`Pipeline ${name}: version is an integer from 1 to 9999, got ${version}`);
  // A later version is a pipeline of its own beside the earlier: its groups, state and topics differ.
  const id = version === 1 ? name : `${name}.v${version}`;
  // Step names are unique across every stream of the pipeline: they name state and topics.
  const names = new Set<string>();
  return {
    source<T>(topic: string, options: SourceOptions<T> = {}) {
      const builder = new Builder(id, version, names);
      builder.add({
        kind: 'source',
        name: builder.nameFor('source', options.name ?? (names.has('source') ? undefined : 'source')),
        topic,
        serde: (options.serde ?? json()) as Serde<unknown>,
        eventTime:
          typeof options.eventTime === 'function' ? (options.eventTime as SourceStep['eventTime']) : null,
        processingTime: options.eventTime === 'processing',
        maxOutOfOrder: toMillis(options.maxOutOfOrder ?? 0),
        idleAfter: options.idleAfter === 'never' ? null : toMillis(options.idleAfter ?? DEFAULT_IDLE_AFTER),
        fromArchive: options.fromArchive ?? false,
      });
      return new Stream<T>(builder);
    },
  };
}

/** Collects one stream's steps; hands out names unique in the pipeline. */
class Builder {
  readonly steps: Step[] = [];
  readonly name: string;
  readonly version: number;
  readonly names: Set<string>;
  /** Joined into another stream: its steps belong to that join now. */
  joined = false;
  constructor(name: string, version: number, names: Set<string>) {
    this.name = name;
    this.version = version;
    this.names = names;
  }

  add(step: Step): void {
    if (this.joined)
      throw new InvalidArgumentError(
        `Pipeline ${this.name}: this stream was joined into another one; go on from the join's result`,
      );
    if (this.names.has(step.name))
      throw new InvalidArgumentError(
        `Pipeline ${this.name}: two steps are named ${JSON.stringify(step.name)}`,
      );
    this.names.add(step.name);
    this.steps.push(step);
  }

  nameFor(kind: string, given: string | undefined): string {
    if (given !== undefined) return given;
    for (let i = 1; ; i++) if (!this.names.has(`${kind}-${i}`)) return `${kind}-${i}`;
  }

  finish(): Pipeline {
    return { name: this.name, version: this.version, steps: this.steps, source: this.steps[0] as SourceStep };
  }
}

/** A stream of values of type T. */
export class Stream<T> {
  protected readonly builder: Builder;
  constructor(builder: Builder) {
    this.builder = builder;
  }

  map<U>(fn: (value: T) => U, options: { name?: string } = {}): Stream<U> {
    this.builder.add({
      kind: 'map',
      name: this.builder.nameFor('map', options.name),
      fn: fn as (v: unknown) => unknown,
    });
    return new Stream<U>(this.builder);
  }

  /** Keeps the values `fn` accepts; a type guard (`(e): e is Bid => …`) narrows the stream's type. */
  filter<S extends T>(fn: (value: T) => value is S, options?: { name?: string }): Stream<S>;
  filter(fn: (value: T) => boolean, options?: { name?: string }): Stream<T>;
  filter(fn: (value: T) => boolean, options: { name?: string } = {}): Stream<T> {
    this.builder.add({
      kind: 'filter',
      name: this.builder.nameFor('filter', options.name),
      fn: fn as (v: unknown) => boolean,
    });
    return this;
  }

  flatMap<U>(fn: (value: T) => Iterable<U>, options: { name?: string } = {}): Stream<U> {
    this.builder.add({
      kind: 'flatMap',
      name: this.builder.nameFor('flatMap', options.name),
      fn: fn as (v: unknown) => Iterable<unknown>,
    });
    return new Stream<U>(this.builder);
  }

  /**
   * Joins each value with the current row of a table under the key `key` returns (the table's
   * record key, as JSON): `join(value, row)`, with `row` null for a missing key in a left join; an
   * inner join (the default) drops a value whose key has no row. The table is read whole when the
   * pipeline starts and kept up to date as its topic changes, on every task (as Kafka Streams'
   * GlobalKTable), so the stream needs no repartition for it.
   */
  join<V, U>(
    table: Table<V>,
    key: (value: T) => unknown,
    join: (value: T, row: V | null) => U,
    options: { type?: 'inner' | 'left'; name?: string } = {},
  ): Stream<U> {
    const type = options.type ?? 'inner';
    if (type !== 'inner' && type !== 'left')
      throw new InvalidArgumentError(`A join is 'inner' or 'left', not ${JSON.stringify(type)}`);
    this.builder.add({
      kind: 'join',
      name: this.builder.nameFor('join', options.name),
      table: table as Table,
      key: key as (v: unknown) => unknown,
      join: join as (v: unknown, row: unknown) => unknown,
      type,
    });
    return new Stream<U>(this.builder);
  }

  /** Every value with the same key is processed by the same task, with the same state. */
  keyBy<K>(fn: (value: T) => K, options: { name?: string } = {}): KeyedStream<T, K> {
    this.builder.add({
      kind: 'keyBy',
      name: this.builder.nameFor('keyBy', options.name),
      fn: fn as (v: unknown) => unknown,
    });
    return new KeyedStream<T, K>(this.builder);
  }

  /**
   * Ends the pipeline in a view: each window result becomes a row of view `name`, keyed by (key,
   * window), queryable over SQL. The results go to the compacted topic `kappa-view-<name>`, exactly
   * once as any output, and a view materializer keeps the view equal to that topic's latest row per
   * (key, window). `retention`: rows whose window ended longer ago than this, in event time, are
   * dropped.
   */
  toView(
    this: Stream<Windowed<unknown, Record<string, unknown>>>,
    name: string,
    options: { retention?: Duration } = {},
  ): Pipeline {
    if (!VIEW_NAME.test(name) || parseViewTable(name) !== null)
      throw new InvalidArgumentError(
        `Invalid view name ${JSON.stringify(name)}: a view is an SQL table, so lower-case letters, digits and '_', starting with a letter or '_', at most 56, not ending in __v<digits>`,
      );
    const window = this.builder.steps.at(-1);
    if (window?.kind !== 'window')
      throw new InvalidArgumentError(
        `Pipeline ${this.builder.name}: toView('${name}') takes window results (rows keyed by key and window): end with .window(…).aggregate({…}).toView('${name}')`,
      );
    this.builder.add({
      kind: 'toView',
      name: this.builder.nameFor('toView', undefined),
      view: name,
      version: this.builder.version,
      table: viewTable(name, this.builder.version),
      topic: viewTopic(name, this.builder.version),
      retentionMs: options.retention === undefined ? null : toMillis(options.retention),
      columns: window.resultTypes,
    });
    return this.builder.finish();
  }

  /** Writes each value to a topic (JSON unless `serde` says otherwise); ends the pipeline. */
  toTopic(topic: string, options: { serde?: Serde<T>; name?: string } = {}): Pipeline {
    this.builder.add({
      kind: 'toTopic',
      name: this.builder.nameFor('toTopic', options.name),
      topic,
      serde: (options.serde ?? json()) as Serde<unknown>,
    });
    return this.builder.finish();
  }
}

export class KeyedStream<T, K> {
  readonly #builder: Builder;
  constructor(builder: Builder) {
    this.#builder = builder;
  }

  window(assigner: WindowAssigner, options: WindowOptions = {}): WindowedStream<T, K> {
    return new WindowedStream<T, K>(this.#builder, assigner, options);
  }

  /**
   * Joins with another keyed stream of the same pipeline, as Flink's interval join: an element `r`
   * of `other` pairs with an element `l` of this stream with the same key when
   * `l.time + lower ≤ r.time ≤ l.time + upper` (`{ lower: '-5m', upper: '0s' }`: r at most five
   * minutes before l). Each pair is emitted once, as soon as both are there, at the later event time.
   * `'unbounded'` on both ends is a regular join, whose state grows with its input. Event time only.
   */
  intervalJoin<U, R>(
    other: KeyedStream<U, K>,
    bounds: { lower: SignedDuration; upper: SignedDuration },
    join: (left: T, right: U) => R,
    options: { name?: string } = {},
  ): Stream<R> {
    const lower = signedMillis(bounds.lower, Number.NEGATIVE_INFINITY);
    const upper = signedMillis(bounds.upper, Number.POSITIVE_INFINITY);
    if (lower > upper)
      throw new InvalidArgumentError(
        `An interval join's lower bound (${bounds.lower}) must not be after its upper bound (${bounds.upper})`,
      );
    this.#builder.add({
      kind: 'intervalJoin',
      name: this.#builder.nameFor('intervalJoin', options.name),
      other: this.#side(other),
      lower,
      upper,
      join: join as (l: unknown, r: unknown) => unknown,
    });
    return new Stream<R>(this.#builder);
  }

  /**
   * Joins with another keyed stream of the same pipeline by window, as Flink's window join: when a
   * tumbling or hopping window closes, every element of this stream in it is paired with every
   * element of `other` with the same key in it (`join(left, right, window)`), each pair emitted at
   * the window's last instant. Event time only.
   */
  windowJoin<U, R>(
    other: KeyedStream<U, K>,
    assigner: TumblingWindows | HoppingWindows,
    join: (left: T, right: U, window: Window) => R,
    options: { name?: string } = {},
  ): Stream<R> {
    if (assigner.kind !== 'tumbling' && assigner.kind !== 'hopping')
      throw new InvalidArgumentError(
        `A window join takes tumbling or hopping windows, not ${(assigner as WindowAssigner).kind}`,
      );
    this.#builder.add({
      kind: 'windowJoin',
      name: this.#builder.nameFor('windowJoin', options.name),
      other: this.#side(other),
      assigner,
      join: join as (l: unknown, r: unknown, w: Window) => unknown,
    });
    return new Stream<R>(this.#builder);
  }

  /** The other stream of a join, checked: keyed, stateless, of this pipeline, in event time. */
  #side(other: KeyedStream<unknown, unknown>): JoinSide {
    const mine = this.#builder;
    const theirs = other.#builder;
    const fail = (why: string) => {
      throw new InvalidArgumentError(`Pipeline ${mine.name}: cannot join: ${why}`);
    };
    if (theirs === mine) fail('a stream cannot be joined with itself');
    if (theirs.names !== mine.names)
      fail('both streams must come from the same pipeline(...) (call .source() on it twice)');
    if (theirs.joined) fail('the other stream is already joined into another one');
    if (mine.steps.at(-1)?.kind !== 'keyBy' || theirs.steps.at(-1)?.kind !== 'keyBy')
      fail('both streams must end in keyBy just before the join');
    const stateful = theirs.steps.find(
      (s) => s.kind !== 'source' && !['map', 'filter', 'flatMap', 'keyBy'].includes(s.kind),
    );
    if (stateful)
      fail(
        `the other stream may only map, filter, flatMap and keyBy (it has ${stateful.kind} ${JSON.stringify(stateful.name)})`,
      );
    const sources = [mine.steps[0], theirs.steps[0]] as SourceStep[];
    if (sources.some((s) => s.processingTime))
      fail('joins need event time; a source reads in processing time');
    theirs.joined = true;
    return { source: sources[1]!, steps: theirs.steps.slice(1) };
  }
}

/** A bound of an interval join: a duration, negative with a leading '-' (`'-5m'`), or `'unbounded'`. */
export type SignedDuration = Duration | `-${string}` | 'unbounded';

function signedMillis(d: SignedDuration, unbounded: number): number {
  if (d === 'unbounded') return unbounded;
  if (typeof d === 'number') return d < 0 ? -toMillis(-d) : toMillis(d);
  return d.startsWith('-') ? -toMillis(d.slice(1)) : toMillis(d);
}

export class WindowedStream<T, K> {
  readonly #builder: Builder;
  readonly #assigner: WindowAssigner;
  readonly #options: WindowOptions;
  constructor(builder: Builder, assigner: WindowAssigner, options: WindowOptions) {
    this.#builder = builder;
    this.#assigner = assigner;
    this.#options = options;
  }

  /** Named aggregations of each key's window: `{ count: count(), revenue: sum((p) => p.amount) }`. */
  aggregate<S extends AggregatorSpec<T>>(spec: S): Stream<Windowed<K, AggregateResult<S>>> {
    const types = Object.fromEntries(Object.entries(spec).map(([n, a]) => [n, a.resultType ?? null]));
    return this.#add(combine(spec) as Aggregator<unknown, unknown, unknown>, types);
  }

  /** Folds each key's window with `fn` (which must be associative: sessions merge partial results). */
  reduce(fn: (a: T, b: T) => T): Stream<Windowed<K, T>> {
    const reducer: Aggregator<T, { v: T } | null, T | null> = {
      init: () => null,
      add: (acc, r) => (acc === null ? { v: r } : { v: fn(acc.v, r) }),
      merge: (a, b) => (a === null ? b : b === null ? a : { v: fn(a.v, b.v) }),
      result: (acc) => (acc === null ? null : acc.v),
    };
    return this.#add(reducer as Aggregator<unknown, unknown, unknown>, null);
  }

  #add<R>(
    aggregator: Aggregator<unknown, unknown, unknown>,
    resultTypes: Record<string, ResultType | null> | null,
  ): Stream<Windowed<K, R>> {
    this.#refuseNonFinalInput();
    this.#builder.add({
      kind: 'window',
      name: this.#builder.nameFor('window', this.#options.name),
      assigner: this.#assigner,
      allowedLateness: toMillis(this.#options.allowedLateness ?? 0),
      emit: emitMode(this.#options.emit),
      aggregator,
      resultTypes,
      lateTopic: this.#options.lateTopic ?? null,
    });
    return new Stream<Windowed<K, R>>(this.#builder);
  }

  /**
   * A window's `update` and `early` results replace earlier results of the same key and window. A
   * window downstream would add each of them in as well, counting a key's window several times;
   * until results can be retracted (Flink's retract streams) such a pipeline is refused.
   */
  #refuseNonFinalInput(): void {
    const upstream = this.#builder.steps.findLast((s) => s.kind === 'window');
    if (upstream?.kind !== 'window') return;
    const reasons = [
      ...(upstream.allowedLateness > 0
        ? [`allowedLateness (late records re-emit its windows as updates)`]
        : []),
      ...(upstream.emit.mode !== 'final'
        ? [`emit mode '${upstream.emit.mode}' (results before a window closes)`]
        : []),
    ];
    if (reasons.length > 0)
      throw new InvalidArgumentError(
        `Pipeline ${this.#builder.name}: window step ${JSON.stringify(upstream.name)} has ${reasons.join(' and ')}, so a window after it would count a window's result more than once. Give the first window emit 'final' and no allowed lateness, or send its results to a topic or view instead.`,
      );
  }
}

function emitMode(emit: WindowOptions['emit']): EmitMode {
  if (emit === undefined || emit === 'final') return { mode: 'final' };
  if ('updates' in emit) return { mode: 'updates', interval: toMillis(emit.updates) };
  if ('early' in emit) {
    const interval = toMillis(emit.early);
    if (interval <= 0) throw new InvalidArgumentError('Early firings need an interval longer than 0 ms');
    return { mode: 'early', interval };
  }
  throw new InvalidArgumentError(
    `Unknown emit mode ${JSON.stringify(emit)}: use 'final', { updates: '1s' } or { early: '10s' }`,
  );
}
