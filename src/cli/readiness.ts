import type { Assembly } from '../config/index.ts';
import { PostgresSource } from '../ingest/index.ts';

/**
 * What `/readyz` says of what runs beside the server: not ready while a pipeline task restores its
 * state or a CDC source has stopped; notes for idle source partitions, a snapshot in progress and a
 * source retrying.
 */
export function readinessOf(assembly: Assembly): () => { notReady: string[]; notes: string[] } {
  return () => ({
    notReady: [
      ...assembly.pipelines.flatMap((p) =>
        p.restoring > 0
          ? [`pipeline ${p.pipeline.name} is restoring the state of ${p.restoring} task(s)`]
          : [],
      ),
      ...cdcSources(assembly).flatMap((s) => {
        const status = s.status();
        return status.phase === 'failed' ? [`CDC source ${s.name} stopped: ${status.lastError}`] : [];
      }),
    ],
    notes: [
      ...assembly.pipelines.flatMap((p) =>
        p.idlePartitions.map(
          (partition) =>
            `pipeline ${p.pipeline.name}: source ${p.pipeline.source.topic} partition ${partition} is idle`,
        ),
      ),
      ...cdcSources(assembly).flatMap((s) => {
        const { phase, snapshot, lastError } = s.status();
        if (snapshot)
          return [
            `CDC source ${s.name}: snapshot of ${snapshot.table}, ${snapshot.rows} rows${snapshot.estimate > 0 ? ` of about ${snapshot.estimate}` : ''}`,
          ];
        return phase === 'retrying' ? [`CDC source ${s.name} is retrying: ${lastError}`] : [];
      }),
    ],
  });
}

export function cdcSources(assembly: Assembly): PostgresSource[] {
  return assembly.sources.filter((s): s is PostgresSource => s instanceof PostgresSource);
}
