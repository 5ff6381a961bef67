export type {
  Bus,
  Consumer,
  ConsumerOptions,
  FsyncPolicy,
  GroupMetadata,
  PartitionRange,
  PollOptions,
  Producer,
  ProducerOptions,
  TopicDescription,
  TopicSpec,
  Transaction,
} from './bus.ts';
export { BusScan, heldRecords } from './bus-scan.ts';
export { consumerLag, groupLag, lagOf, type PartitionLag } from './consumer-lag.ts';
export { EmbeddedBus, type EmbeddedBusOptions, openEmbeddedBus } from './embedded-bus.ts';
export { ensureTopic } from './ensure-topic.ts';
export { writeFileAtomic } from './file-io.ts';
export { groupOf } from './group-of.ts';
export { type AppendedEvent, appended } from './log-events.ts';
export { OpenClients } from './open-clients.ts';
export { readLatest } from './read-latest.ts';
export { readRange } from './read-range.ts';
export { resolveTopicConfig } from './topic-config.ts';
