import {
  type Broker,
  type Callback,
  type ClusterMetadata,
  type Connection,
  kGetApi,
  kGetConnection,
  kMetadata,
  type Producer as PlatformaticProducer,
  type txnOffsetCommitV4,
} from '@platformatic/kafka';
import type { TopicPartitionOffset } from '../core/index.ts';

type Client = PlatformaticProducer<Buffer, Buffer, Buffer, Buffer>;
type Topic = txnOffsetCommitV4.TxnOffsetCommitRequestTopic;
type TxnOffsetCommit = (
  connection: Connection,
  transactionalId: string,
  groupId: string,
  producerId: bigint,
  producerEpoch: number,
  generationId: number,
  memberId: string,
  groupInstanceId: string | null,
  topics: Topic[],
  callback: Callback<unknown>,
) => void;

export interface OffsetCommitFence {
  group: string;
  /** -1 with an empty member id commits for the group without fencing. */
  generation: number;
  memberId: string;
}

/**
 * A transaction's offsets for one group in a single TxnOffsetCommit request to the group's
 * coordinator. @platformatic/kafka's Transaction.addOffset sends one request per partition, one after
 * another (28 ms of a 69 ms transaction over six partitions); this makes the same request for all of
 * them through the seams the client exports (its metadata, connection pool and API lookup). The group
 * must already be in the transaction (AddOffsetsToTxn, the client's addConsumer).
 */
export async function commitTransactionOffsets(
  client: Client,
  transactionalId: string,
  coordinatorId: number,
  fence: OffsetCommitFence,
  offsets: TopicPartitionOffset[],
): Promise<void> {
  const { producerId, producerEpoch } = client;
  if (producerId === undefined || producerEpoch === undefined) {
    throw new Error('commitTransactionOffsets needs a producer inside a transaction');
  }
  const topics = new Map<string, Topic>();
  for (const o of offsets) {
    let topic = topics.get(o.topic);
    if (!topic) topics.set(o.topic, (topic = { name: o.topic, partitions: [] }));
    topic.partitions.push({
      partitionIndex: o.partition,
      committedOffset: BigInt(o.offset),
      committedLeaderEpoch: -1,
    });
  }
  const metadata = await call<ClusterMetadata>((done) => client[kMetadata]({ topics: [] }, done));
  const broker = metadata.brokers.get(coordinatorId);
  if (!broker)
    throw new Error(`The group coordinator (node ${coordinatorId}) is not in the cluster's metadata`);
  const connection = await call<Connection>((done) => client[kGetConnection](broker as Broker, done));
  const api = await call<TxnOffsetCommit>((done) => client[kGetApi]('TxnOffsetCommit', done as never));
  await call((done) =>
    api(
      connection,
      transactionalId,
      fence.group,
      producerId,
      producerEpoch,
      fence.generation,
      fence.memberId,
      null,
      [...topics.values()],
      done,
    ),
  );
}

function call<T>(start: (done: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) =>
    start((error, value) => (error ? reject(error) : resolve(value as T))),
  );
}
