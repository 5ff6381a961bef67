export type { BatchOptions } from './batcher.ts';
export {
  type BusProducerOptions,
  createProducer,
  type HttpProducerOptions,
  type KappaProducer,
  type TypedTopic,
} from './producer.ts';
export { ProduceRefusedError } from './producer-errors.ts';
export type { Delivered, OutgoingRecord } from './record-batch.ts';
