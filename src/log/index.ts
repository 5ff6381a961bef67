export type {
  Bus,
  Consumer,
  ConsumerOptions,
  FsyncPolicy,
  PartitionRange,
  PollOptions,
  Producer,
  ProducerOptions,
  TopicDescription,
  TopicSpec,
  Transaction,
} from './bus.ts';
export { EmbeddedBus, type EmbeddedBusOptions, openEmbeddedBus } from './embedded-bus.ts';
