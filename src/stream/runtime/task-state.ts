import path from 'node:path';
import type { Logger } from '../../core/index.ts';
import type { Bus } from '../../log/index.ts';
import type { Pipeline } from '../dsl/pipeline.ts';
import { LmdbTaskState } from '../state/lmdb-state-store.ts';
import { MemoryStateStore } from '../state/memory-state-store.ts';
import type { StateStore } from '../state/state-store.ts';
import { changelogTopic } from './changelog.ts';
import { type Stage, statefulSteps } from './stages.ts';
import { restoreStore } from './store-restore.ts';
import { TaskCheckpoints } from './task-checkpoints.ts';

export interface StageStateOptions {
  bus: Bus;
  pipeline: Pipeline;
  stage: Stage;
  /** Where tasks keep their state (lmdb, one file per task); null: in memory, restored from the changelogs at each start. */
  stateDir: string | null;
  /** Where checkpoints go (a `checkpoints` folder in it); default the state folder's parent. */
  checkpointDir: string | null;
  /** False: no changelogs, and every task starts with empty state. */
  changelogs: boolean;
  logger: Logger;
}

/** A task's state: its lmdb environment (when state is on disk) and a store per stateful step. */
export interface TaskState {
  state: LmdbTaskState | null;
  stores: Map<string, StateStore>;
}

/**
 * The state of a stage's tasks, a partition each: where it is kept, how a task's stores are brought
 * to their changelogs' ends when it starts, and its checkpoints.
 */
export class StageState {
  readonly #o: StageStateOptions;
  /** The stage's stateful steps, by name. */
  readonly steps: string[];

  constructor(options: StageStateOptions) {
    this.#o = options;
    this.steps = statefulSteps(options.pipeline, options.stage);
  }

  /** The file of a partition's lmdb environment, and the folder of its checkpoints. */
  paths(partition: number): { file: string; checkpoints: string } | null {
    const { stateDir, checkpointDir, pipeline, stage } = this.#o;
    if (this.steps.length === 0 || stateDir === null) return null;
    const task = path.join(pipeline.name, `stage-${stage.index}`, `partition-${partition}`);
    return {
      file: path.join(stateDir, `${task}.mdb`),
      checkpoints: path.join(checkpointDir ?? path.dirname(stateDir), 'checkpoints', task),
    };
  }

  /**
   * Brings a partition's stores to their changelogs' ends: from the local store where its position
   * is still in the changelog, else from the newest checkpoint if its positions are, else from the
   * changelog's start. Then only the tail is read.
   */
  async restore(owned: TaskState, partition: number): Promise<{ records: number; checkpoint: boolean }> {
    const { bus, pipeline, logger, changelogs } = this.#o;
    const steps = this.steps;
    const paths = this.paths(partition);
    let checkpoint = false;
    if (paths) owned.state ??= LmdbTaskState.open(paths.file);
    // Each changelog's range, read once: for choosing where to start and for the restore itself.
    const ranges = changelogs
      ? await Promise.all(
          steps.map(async (step) => (await bus.partitionOffsets(changelogTopic(pipeline, step)))[partition]),
        )
      : [];
    if (paths && owned.state && changelogs) {
      const within = (step: number, offset: number | undefined) =>
        offset !== undefined && offset >= ranges[step]!.start && offset <= ranges[step]!.end;
      const local = owned.state;
      const usable = steps.every((step, i) => within(i, local.meta(step)?.changelogOffset));
      if (!usable) {
        const newest = await new TaskCheckpoints(paths.checkpoints).newest();
        if (newest && steps.every((step, i) => within(i, newest.changelogs[step]))) {
          await owned.state.close();
          await TaskCheckpoints.install(newest, paths.file);
          owned.state = LmdbTaskState.open(paths.file);
          checkpoint = true;
        }
      }
    }
    let records = 0;
    for (const [i, step] of steps.entries()) {
      const store = owned.state?.store(step) ?? new MemoryStateStore();
      owned.stores.set(step, store);
      if (!changelogs) {
        await store.clear();
        continue;
      }
      const result = await restoreStore(bus, store, changelogTopic(pipeline, step), partition, ranges[i]);
      records += result.records;
      if (result.cleared)
        logger.warn(
          { pipeline: pipeline.name, step, partition },
          'local state did not match its changelog; restoring from the changelog',
        );
    }
    return { records, checkpoint };
  }

  /**
   * A checkpoint of a task with state on disk; on the embedded log its changelogs are then truncated
   * below it (Kafka refuses DeleteRecords on compacted topics, and a checkpoint in a local folder is
   * no use to a worker on another machine). One that fails costs only a longer restore: it is logged.
   */
  async checkpoint(owned: TaskState, partition: number): Promise<void> {
    const { bus, pipeline, logger } = this.#o;
    const paths = this.paths(partition);
    if (!owned.state || !paths) return;
    const warn = (message: string) => (error: unknown) =>
      logger.warn({ err: error, pipeline: pipeline.name, stage: this.#o.stage.index, partition }, message);
    const checkpoint = await new TaskCheckpoints(paths.checkpoints)
      .take(owned.state, this.steps)
      .catch(warn('could not checkpoint a task'));
    if (!checkpoint || bus.kind !== 'embedded') return;
    for (const step of this.steps)
      await bus
        .deleteRecords(changelogTopic(pipeline, step), [{ partition, offset: checkpoint.changelogs[step]! }])
        .catch(warn('could not truncate a changelog'));
  }
}
