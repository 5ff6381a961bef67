import type {
  ConsumedRecord,
  Duration,
  PartitionOffset,
  ProducerRecord,
  RecordMetadata,
  TopicPartition,
  TopicPartitionOffset,
} from '../core/index.ts';

/**
 * The Bus contract: what every log Kappa runs on provides (the embedded log here, Kafka in `kafka/`).
 * test/log/bus-contract.ts is the one suite every implementation passes.
 *
 * Where implementations may differ, the contract says so (docs/kafka.md lists it for people):
 * - offsets strictly increase per partition but may have gaps (compaction; Kafka's transaction markers);
 * - `fsync` is honoured by the embedded log only: Kafka's durability is replication, set on the broker;
 * - group rebalances: the embedded log moves partitions at once; Kafka moves them cooperatively, in two
 *   rebalances (the owner gives a partition up, then the group hands it on). In both, onRevoked has
 *   returned before another member reads the partition;
 * - seek() on Kafka moves only assign()ed partitions: a group member that must read again closes and
 *   subscribes anew, resuming from the group's committed offsets;
 * - Kafka aborts a transaction left open longer than the client's request timeout (5 s by default),
 *   which is how a crashed producer's transaction ends; the embedded log journals a transaction only
 *   at commit, so an unfinished one simply never happened;
 * - Kafka refuses record timestamps more than an hour ahead of the broker's clock (its
 *   message.timestamp.after.max.ms); the embedded log takes any.
 */
export interface Bus {
  /** 'embedded' or 'kafka': for messages and metrics, never for behaviour. */
  readonly kind: string;
  createTopic(name: string, spec: TopicSpec): Promise<void>;
  deleteTopic(name: string): Promise<void>;
  /** Topic names, sorted; internal topics (names starting with '__') only when asked. */
  listTopics(options?: { includeInternal?: boolean }): Promise<string[]>;
  describeTopic(name: string): Promise<TopicDescription>;
  /** The first and the next-to-be-written offset of every partition, as a read_committed reader sees them. */
  partitionOffsets(topic: string): Promise<PartitionRange[]>;
  /** Per partition, the first offset whose timestamp is ≥ `at`, or -1 when there is none. */
  offsetsForTime(topic: string, at: Date | number): Promise<PartitionOffset[]>;
  /**
   * Deletes every record below `offset` on each partition named (Kafka's DeleteRecords): the
   * partition's start moves up to there, also across restarts. Resolves with each partition's new
   * start; an offset past the end rejects with OffsetOutOfRangeError. What pipelines call to purge a
   * repartition topic below every consumer's committed offset.
   */
  deleteRecords(topic: string, offsets: PartitionOffset[]): Promise<PartitionOffset[]>;
  /** A group's committed offsets (the next offset to read), for one topic or all. */
  committedOffsets(group: string, topic?: string): Promise<TopicPartitionOffset[]>;
  /** The consumer groups that have members or committed offsets, sorted. */
  listGroups(): Promise<string[]>;
  /** The ids of a group's live members (none: nobody reads for the group now). */
  groupMembers(group: string): Promise<string[]>;
  /**
   * Sets a group's committed offsets (Kafka's AlterConsumerGroupOffsets), what `kappa offsets reset`
   * does. Only while the group has no live member: they would commit over the new offsets, so the
   * call rejects with GroupNotEmptyError.
   */
  alterOffsets(group: string, offsets: TopicPartitionOffset[]): Promise<void>;
  producer(options?: ProducerOptions): Producer;
  consumer(options: ConsumerOptions): Consumer;
  close(): Promise<void>;
}

export interface TopicSpec {
  partitions: number;
  /** Keep only the newest record per key (a table's changelog); offsets are kept. */
  compacted?: boolean;
  /** Delete whole segments whose records are all older than this. Default: keep forever. */
  retention?: Duration;
  /** Per partition: delete the oldest whole segments while the partition is larger than this. */
  retentionBytes?: number;
  /** Compacted topics: how long a tombstone (null value) is kept before compaction drops it. Default 1 day. */
  tombstoneRetention?: Duration;
  /**
   * Embedded log only: when appended records are forced to disk before the append is acknowledged.
   * 'batch' (the default): every append is fsynced before its offsets are returned; a crash of the
   *   process or the machine loses nothing acknowledged.
   * a Duration such as '1s': fsync at most that often; a machine crash may lose that much.
   * 'never': leave it to the OS; a process crash loses nothing, a machine crash may lose what the OS held.
   */
  fsync?: FsyncPolicy;
  /** Embedded log only: roll to a new segment file past this many bytes. Default 64 MiB. */
  segmentBytes?: number;
}

export type FsyncPolicy = 'batch' | 'never' | Duration;

export interface TopicDescription {
  name: string;
  partitions: number;
  compacted: boolean;
  /** Milliseconds, or null for keep forever. */
  retentionMs: number | null;
  retentionBytes: number | null;
  internal: boolean;
  /** Copies of each partition: 1 on the embedded log (one disk), the broker's count on Kafka. */
  replicationFactor: number;
}

export interface PartitionRange {
  partition: number;
  /** The oldest offset still stored. */
  start: number;
  /** The offset the next record will get (the high watermark a read_committed reader sees). */
  end: number;
}

export interface ProducerOptions {
  /**
   * Makes the producer transactional. A producer that starts with an id fences every older producer
   * with the same id: their commits fail with ProducerFencedError (so a restarted worker cannot be
   * doubled by its zombie). It takes the id over when it begins its first transaction (on Kafka that
   * is when it registers with the transaction coordinator); the embedded log fences at creation.
   */
  transactionalId?: string;
}

export interface Producer {
  /**
   * Appends records and resolves with their offsets once they are durable by the topic's policy.
   * All records of one call are validated first: if any is invalid (unknown topic or partition, too
   * large), nothing is appended and the call rejects.
   */
  send(records: ProducerRecord[]): Promise<RecordMetadata[]>;
  /** Transactional producers only. One transaction at a time per producer. */
  beginTransaction(): Promise<Transaction>;
  close(): Promise<void>;
}

/**
 * Records on many partitions plus a group's offsets become visible together at commit, or not at
 * all: read_committed consumers never see records of an aborted or unfinished transaction, also after
 * a crash in the middle of the commit.
 */
export interface Transaction {
  send(records: ProducerRecord[]): Promise<void>;
  /**
   * Commit `offsets` (the next offset to read per partition) for a group as part of the transaction.
   * Given a group member's `groupMetadata()`, the offsets are fenced to that member: if the group has
   * rebalanced since (a new generation, or the member was dropped), this call or the commit fails with
   * GroupFencedError, the transaction is aborted and nothing of it becomes visible (Kafka's KIP-447). Given only a
   * group name, the offsets are committed for the group whoever owns the partitions now.
   * Offsets of partitions a member loses must be committed or dropped in its onRevoked: after the
   * rebalance its new generation would no longer fence them.
   */
  sendOffsets(group: string | GroupMetadata, offsets: TopicPartitionOffset[]): Promise<void>;
  /**
   * Resolves once the transaction is visible, with the offset of every record it sent, in send order:
   * what a stateful task records as the changelog position its local store has reached.
   */
  commit(): Promise<RecordMetadata[]>;
  abort(): Promise<void>;
}

/** A group member's identity in its group's current generation (Kafka's ConsumerGroupMetadata). */
export interface GroupMetadata {
  group: string;
  /** Bumped by every rebalance of the group. */
  generation: number;
  memberId: string;
}

export interface ConsumerOptions {
  /** A consumer group: members share the subscribed topics' partitions and commit offsets. Omit for manual `assign`. */
  group?: string;
  /** Default 'read_committed'. The embedded log buffers a transaction until its commit, so there the two differ only while a commit is being written. */
  isolation?: 'read_committed' | 'read_uncommitted';
  /** Where to start on a partition with no committed offset (or a committed offset no longer stored). Default 'latest'. */
  reset?: 'earliest' | 'latest';
  /** Called with the partitions this member now owns, before records from them are returned. */
  onAssigned?: (partitions: TopicPartition[]) => void | Promise<void>;
  /** Called with the partitions this member loses, before another member may read them: commit here. */
  onRevoked?: (partitions: TopicPartition[]) => void | Promise<void>;
  /** Kafka only: how long a silent member keeps its partitions. */
  sessionTimeout?: Duration;
}

export interface PollOptions {
  /** Default 500. */
  maxRecords?: number;
  /** Default 1 MiB; at least one record is returned even if it alone is larger. */
  maxBytes?: number;
  /** How long to wait for records when none are ready. Default 1000 ms; 0 returns at once. */
  timeoutMs?: number;
  /** Ends the wait early (e.g. a closing HTTP request). */
  signal?: AbortSignal;
}

export interface Consumer {
  /** Join the group (requires `group`) and share the topics' partitions with its other members. */
  subscribe(topics: string[]): Promise<void>;
  /** Read these partitions directly, without group membership; `offset` omitted means the reset policy. */
  assign(partitions: Array<TopicPartition & { offset?: number }>): Promise<void>;
  /** Move the read position of an owned partition (on Kafka, of an assign()ed one only). */
  seek(topic: string, partition: number, offset: number): void;
  /** Records in offset order per partition; waits up to `timeoutMs` when none are ready. */
  poll(options?: PollOptions): Promise<ConsumedRecord[]>;
  /** Commit offsets (next to read) for the group; without an argument, the current positions of all owned partitions. */
  commit(offsets?: TopicPartitionOffset[]): Promise<void>;
  /** The partitions this consumer owns now. */
  assignment(): TopicPartition[];
  /** This member's identity for fencing a transaction's offsets; only for a subscribed group member. */
  groupMetadata(): GroupMetadata;
  /** The next offset `poll` will return for an owned partition. */
  position(topic: string, partition: number): number | undefined;
  close(): Promise<void>;
}
