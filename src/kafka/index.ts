export { KafkaBus } from './kafka-bus.ts';
export { appended as kafkaAppended } from './kafka-events.ts';
export type { KafkaBusOptions } from './kafka-options.ts';
