import { type API, type Callback, kGetApi, Consumer as PlatformaticConsumer } from '@platformatic/kafka';

/**
 * @platformatic/kafka's consumer with two behaviours of Kafka's Java consumer that it lacks, added at
 * the one seam the library exports for it (`kGetApi`, the lookup of a protocol API) rather than by
 * copying its group protocol:
 *
 * - `beforeJoin` runs before this member sends JoinGroup. The Java consumer calls onPartitionsRevoked
 *   there, because the group cannot hand a partition to another member until every member has
 *   rejoined; running the contract's onRevoked there (to commit, or to hand state over) is what makes
 *   "before another member may read them" true.
 * - With `requireStable`, committed offsets are fetched with require_stable (KIP-447), as the Java
 *   consumer does under read_committed: while a transaction that commits offsets for a partition is
 *   still completing, the broker answers UNSTABLE_OFFSET_COMMIT (which the client retries) instead of
 *   the older offset, so a new owner never resumes from before a committed transaction.
 */
export class GroupMember extends PlatformaticConsumer<Buffer, Buffer, Buffer, Buffer> {
  beforeJoin: (() => Promise<void>) | null = null;
  requireStable = true;

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
    if (name === 'OffsetFetch' && this.requireStable) {
      super[kGetApi]<RequestArguments, ResponseType>(name, (error, api) => {
        if (error || !api) return callback(error);
        // OffsetFetch's arguments are (connection, groups, requireStable, callback).
        const stable = (connection: Parameters<typeof api>[0], ...args: unknown[]) => {
          args[1] = true;
          (api as unknown as (...all: unknown[]) => void)(connection, ...args);
        };
        callback(null, Object.assign(stable, api) as typeof api);
      });
      return;
    }
    lookup();
  }
}
