import { type API, type Callback, kGetApi, Consumer as PlatformaticConsumer } from '@platformatic/kafka';
import { dropAbortedRecords } from './aborted-records.ts';
import { carryRecords, fastFetch, isFastFetch } from './fetch-records.ts';
import { protocolErrorIds } from './kafka-errors.ts';

/**
 * @platformatic/kafka's consumer with three behaviours of Kafka's Java consumer that it lacks, added at
 * the one seam the library exports for it (`kGetApi`, the lookup of a protocol API) rather than by
 * copying its group protocol:
 *
 * - `beforeJoin` runs before this member sends JoinGroup. The Java consumer calls onPartitionsRevoked
 *   there, because the group cannot hand a partition to another member until every member has
 *   rejoined; running the contract's onRevoked there (to commit, or to hand state over) is what makes
 *   "before another member may read them" true.
 * - read_committed fetches drop every aborted transaction's records (aborted-records.ts).
 * - Fetch responses of the versions with topic ids are decoded by fetch-records.ts, records straight
 *   into ConsumedRecords, a partition's records carried through the client's stream as one message.
 * - With `requireStable`, committed offsets are fetched with require_stable (KIP-447), as the Java
 *   consumer does under read_committed: while a transaction that commits offsets for a partition is
 *   still completing, the broker answers UNSTABLE_OFFSET_COMMIT instead of the older offset, so a new
 *   owner never resumes from before a committed transaction. That answer is retried here until the
 *   transaction ends: one left open by a crashed member ends when the broker aborts it (the
 *   producer's transaction timeout), which takes longer than the client's own few retries.
 */
export class GroupMember extends PlatformaticConsumer<Buffer, Buffer, Buffer, Buffer> {
  beforeJoin: (() => Promise<void>) | null = null;
  requireStable = true;
  /** The offset each partition (`topicId:partition`) was last fetched from: see carriedFetch. */
  readonly #fetchOffsets = new Map<string, number>();

  override [kGetApi]<RequestArguments extends Array<unknown>, ResponseType>(
    name: string,
    callback: Callback<API<RequestArguments, ResponseType>>,
  ): void {
    const lookup = () => super[kGetApi](name, callback);
    if (name === 'JoinGroup' && this.beforeJoin !== null) {
      // beforeJoin never rejects: the consumer catches its callbacks' failures.
      void this.beforeJoin().then(lookup);
      return;
    }
    if (name === 'Fetch') {
      super[kGetApi]<RequestArguments, ResponseType>(name, (error, api) => {
        if (error || !api) return callback(error);
        // read_committed filtering as the Java consumer does it (aborted-records.ts), in both.
        const fetch = isFastFetch(api.version)
          ? carriedFetch(api.version, this.#fetchOffsets)
          : inspected(api, () => {}, dropAbortedRecords);
        callback(null, Object.assign(fetch, api) as typeof api);
      });
      return;
    }
    if (name === 'OffsetFetch' && this.requireStable) {
      super[kGetApi]<RequestArguments, ResponseType>(name, (error, api) => {
        if (error || !api) return callback(error);
        callback(null, Object.assign(stableOffsetFetch(api), api) as typeof api);
      });
      return;
    }
    lookup();
  }
}

/**
 * An API call that `before` sees the request of (its arguments without the callback) and `after` the
 * response of, when there is one, before the caller does.
 */
function inspected<A extends Array<unknown>, R>(
  api: API<A, R>,
  before: (request: unknown[]) => void,
  after: (response: unknown) => void,
) {
  const call = api as unknown as (...args: unknown[]) => void;
  return (...args: unknown[]) => {
    const done = args.at(-1) as (error: Error | null, response?: unknown) => void;
    if (typeof done !== 'function') return call(...args);
    const request = args.slice(0, -1);
    before(request);
    call(...request, (error: Error | null, response?: unknown) => {
      if (!error && response) after(response);
      done(error, response);
    });
  };
}

/**
 * Fetch decoded by fetch-records.ts. Arguments: (connection, maxWaitMs, minBytes, maxBytes,
 * isolationLevel, sessionId, sessionEpoch, topics, forgottenTopics, rackId); `topics` gives the
 * offset each partition sent is fetched from. An incremental fetch session (KIP-227) sends only the
 * partitions whose offset changed and the broker serves the others from where they were last asked
 * for, so `fetchOffsets` (the member's) keeps the last offset asked per partition.
 */
function carriedFetch(version: number, fetchOffsets: Map<string, number>) {
  return inspected(
    fastFetch(version),
    (request) => {
      const topics = request[7] as Array<{
        topicId: string;
        partitions: Array<{ partition: number; fetchOffset: bigint }>;
      }>;
      for (const t of topics ?? [])
        for (const p of t.partitions) fetchOffsets.set(`${t.topicId}:${p.partition}`, Number(p.fetchOffset));
    },
    (response) => carryRecords(response, fetchOffsets),
  );
}

/** How long a new owner waits for a crashed member's transaction to be aborted by the broker. */
const UNSTABLE_WAIT_MS = 120_000;
const UNSTABLE_RETRY_MS = 250;

/** OffsetFetch with require_stable set, retrying UNSTABLE_OFFSET_COMMIT. Arguments: (connection, groups, requireStable, callback). */
function stableOffsetFetch<A extends Array<unknown>, R>(api: API<A, R>) {
  const call = api as unknown as (...args: unknown[]) => void;
  return (connection: unknown, ...args: unknown[]) => {
    const done = args.at(-1) as (error: Error | null, response?: unknown) => void;
    if (typeof done !== 'function') return call(connection, ...args);
    const request = args.slice(0, -1);
    request[1] = true;
    const deadline = Date.now() + UNSTABLE_WAIT_MS;
    const attempt = () =>
      call(connection, ...request, (error: Error | null, response?: unknown) => {
        if (error && Date.now() < deadline && protocolErrorIds(error).includes('UNSTABLE_OFFSET_COMMIT')) {
          setTimeout(attempt, UNSTABLE_RETRY_MS);
          return;
        }
        done(error, response);
      });
    attempt();
  };
}
