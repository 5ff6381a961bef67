export { CdcReplicationError, CdcRowError, CdcSetupError } from './cdc/cdc-errors.ts';
export { CDC_STATE_TOPIC, type CdcState, readCdcState } from './cdc/cdc-state.ts';
export { cdcTopic, TRUNCATE_KEY } from './cdc/change-records.ts';
export { PostgresSource, type PostgresSourceOptions, type SourceStatus } from './cdc/postgres-source.ts';
export { connectSource, dropCapture, formatBytes, slotInfo } from './cdc/source-database.ts';
export { type CapturedEvent, captured } from './ingest-events.ts';
export type { KinesisConnection } from './kinesis/kinesis-client.ts';
export { KinesisSink, type KinesisSinkOptions } from './kinesis/kinesis-sink.ts';
export { KINESIS_STATE_TOPIC, KinesisSource, type KinesisSourceOptions } from './kinesis/kinesis-source.ts';
export {
  type BusProducerOptions,
  createProducer,
  type Delivered,
  type HttpProducerOptions,
  type KappaProducer,
  type OutgoingRecord,
  ProduceRefusedError,
  type TypedTopic,
} from './sdk/index.ts';
