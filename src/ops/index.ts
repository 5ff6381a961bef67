export { Metrics, type MetricsSources } from './metrics.ts';
export { readStatus, type Status, type StatusSources } from './status.ts';
