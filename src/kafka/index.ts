export { KafkaBus } from './kafka-bus.ts';
export type { KafkaBusOptions } from './kafka-options.ts';
