import { type Logger, silentLogger } from '../core/index.ts';
import type { Bus } from '../log/index.ts';
import { type Pipeline, parseViewTable, planStages, stageGroup, stagePipeline } from '../stream/index.ts';
import { UnknownViewError, ViewVersionError } from './view-errors.ts';
import type { ViewMaterializer } from './view-materializer.ts';
import type { ActiveView, ViewStore } from './view-store.ts';

/** How long a process trusts its copy of which table each view points at (another may switch it). */
const ACTIVE_TTL_MS = 1000;

export interface ViewVersionsOptions {
  store: ViewStore;
  bus: Bus;
  /** The pipelines whose views are materialized here, and their materializers. */
  pipelines: readonly Pipeline[];
  materializers: () => readonly ViewMaterializer[];
  /** Promote a newer version once it has caught up (the config's views.versions.autoPromote). */
  autoPromote: boolean;
  /** Caught up: at most this many records left to read, pipeline and view together. */
  maxLag: number;
  /** A version no longer served is dropped this long after (unless its pipeline still runs here). */
  dropAfterMs: number;
  /** How often versions are looked at. Default 1 s. */
  checkMs?: number;
  logger?: Logger;
}

/** One version of a view, as `kappa views versions` shows it. */
export interface VersionInfo {
  version: number;
  table: string;
  /**
   * serving: queries read it; building: newer, not caught up yet; ready: newer and caught up (it
   * is promoted next unless held); held: newer, rolled back from (promoted only by hand); retired:
   * older, dropped after views.versions.dropAfter.
   */
  state: 'serving' | 'building' | 'ready' | 'held' | 'retired';
  rows: number;
  /** Records its pipeline and view have left to read; null when neither runs here. */
  lag: number | null;
}

/**
 * The versions of each view and which one queries read. A view's name is an SQL view over one of its
 * tables, `<view>__v<n>` (see ViewStore.activate), so a switch is atomic for every query: each reads
 * the old version or the new, whole. The first version of a view serves at once (its materializer
 * points the view at it); a later one is built beside it, from history, and promoted once its
 * pipeline and materializer have caught up (at most maxLag records left), automatically or by
 * `kappa views promote`. The version it replaced stays for dropAfter, for `kappa views rollback`,
 * and is then dropped, unless its pipeline still runs here. A rollback holds the version rolled back
 * from: it is not promoted again automatically, also after a restart.
 */
export class ViewVersions {
  readonly #o: ViewVersionsOptions;
  readonly #logger: Logger;
  #active = new Map<string, ActiveView>();
  #read = 0;
  /** When each table stopped being served, as seen here. */
  readonly #retiredAt = new Map<string, number>();
  #timer: NodeJS.Timeout | null = null;
  #checking: Promise<void> = Promise.resolve();

  constructor(options: ViewVersionsOptions) {
    this.#o = options;
    this.#logger = options.logger ?? silentLogger;
  }

  start(): void {
    this.#timer = setInterval(() => {
      this.#checking = this.#checking.then(() =>
        this.#check().catch((error: unknown) =>
          this.#logger.warn({ err: error }, 'view versions: check failed; trying again'),
        ),
      );
    }, this.#o.checkMs ?? 1000);
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#checking;
  }

  /** The table a view's queries read now. */
  async table(view: string): Promise<string> {
    if (!this.#active.has(view) || Date.now() - this.#read > ACTIVE_TTL_MS) await this.refresh();
    const active = this.#active.get(view);
    if (!active) throw new UnknownViewError(view);
    return active.table;
  }

  /** The table a view's queries read, as last seen (no lookup): live updates follow it. */
  current(view: string): string | undefined {
    return this.#active.get(view)?.table;
  }

  /** Every view with the table it points at now. */
  async views(): Promise<Map<string, string>> {
    await this.refresh();
    return new Map([...this.#active].map(([view, a]) => [view, a.table]));
  }

  async refresh(): Promise<void> {
    this.#active = await this.#o.store.activeTables();
    this.#read = Date.now();
  }

  async list(view: string): Promise<VersionInfo[]> {
    await this.refresh();
    const active = this.#active.get(view);
    const serving = active ? parseViewTable(active.table)!.version : 0;
    const defined = new Set((await this.#o.store.views()).map((d) => d.name));
    const tables = [...defined].flatMap((name) => {
      const parsed = parseViewTable(name);
      return parsed?.view === view ? [{ ...parsed, table: name }] : [];
    });
    // A version whose pipeline runs here but has no row yet has no table: it is building.
    for (const m of this.#o.materializers())
      if (m.view === view && !tables.some((t) => t.table === m.table))
        tables.push({ view, version: m.version, table: m.table });
    if (tables.length === 0) throw new UnknownViewError(view);
    const out: VersionInfo[] = [];
    for (const t of tables.sort((a, b) => a.version - b.version)) {
      const lag = await this.#lag(t.table);
      const state: VersionInfo['state'] =
        t.table === active?.table
          ? 'serving'
          : t.version < serving
            ? 'retired'
            : t.version <= (active?.held ?? 0)
              ? 'held'
              : this.#caughtUp(lag, defined.has(t.table))
                ? 'ready'
                : 'building';
      out.push({
        version: t.version,
        table: t.table,
        state,
        rows: defined.has(t.table) ? await this.#o.store.rowCount(t.table) : 0,
        lag,
      });
    }
    return out;
  }

  /**
   * Queries read `version` (default the newest) from now on. Refused for a version not caught up
   * (queries would see it half built) unless `force`.
   */
  async promote(view: string, version?: number, force = false): Promise<VersionInfo[]> {
    const versions = await this.list(view);
    const target = version === undefined ? versions.at(-1)! : versions.find((v) => v.version === version);
    if (!target) throw new ViewVersionError(view, `has no version ${version}`);
    if (target.state === 'serving')
      throw new ViewVersionError(view, `already serves version ${target.version}`);
    if (!force && !this.#caughtUp(target.lag, target.rows > 0))
      throw new ViewVersionError(
        view,
        `version ${target.version} has not caught up (${target.lag === null ? 'its pipeline does not run here' : `${target.lag} records left`}): queries would see it half built; wait, or promote with force`,
      );
    await this.#switch(view, target.table, 0);
    return this.list(view);
  }

  /** Queries read the version before the one served; the one served is held from promotion. */
  async rollback(view: string): Promise<VersionInfo[]> {
    const versions = await this.list(view);
    const serving = versions.find((v) => v.state === 'serving');
    const before = versions.filter((v) => serving && v.version < serving.version && v.rows > 0).at(-1);
    if (!serving || !before)
      throw new ViewVersionError(
        view,
        `has no earlier version to roll back to (${versions.map((v) => `v${v.version} ${v.state}`).join(', ')})`,
      );
    await this.#switch(view, before.table, serving.version);
    return this.list(view);
  }

  async #switch(view: string, table: string, held: number): Promise<void> {
    const from = this.#active.get(view)?.table ?? null;
    if (!(await this.#o.store.activate(view, table, from, held)))
      throw new ViewVersionError(view, 'was switched by another process meanwhile: look again');
    await this.refresh();
    if (from) this.#retiredAt.set(from, Date.now());
    this.#retiredAt.delete(table);
    this.#logger.info({ view, from, to: table }, 'view version switched: queries read the new one');
  }

  /** Promotes what has caught up, and drops what has been retired long enough. */
  async #check(): Promise<void> {
    await this.refresh();
    const here = this.#o.materializers();
    const defined = new Set((await this.#o.store.views()).map((d) => d.name));
    for (const [view, active] of this.#active) {
      const serving = parseViewTable(active.table)?.version ?? 0;
      const newer = here
        .filter((m) => m.view === view && m.version > Math.max(serving, active.held))
        .sort((a, b) => b.version - a.version);
      if (this.#o.autoPromote)
        for (const m of newer)
          if (this.#caughtUp(await this.#lag(m.table), defined.has(m.table))) {
            await this.#switch(view, m.table, active.held);
            break;
          }
    }
    const now = Date.now();
    for (const table of defined) {
      const parsed = parseViewTable(table);
      const active = parsed && this.#active.get(parsed.view);
      if (!parsed || !active || table === active.table) continue;
      if (parsed.version > (parseViewTable(active.table)?.version ?? 0)) continue;
      if (here.some((m) => m.table === table)) continue;
      const since = this.#retiredAt.get(table) ?? now;
      this.#retiredAt.set(table, since);
      if (now - since < this.#o.dropAfterMs) continue;
      await this.#o.store.drop(table);
      this.#retiredAt.delete(table);
      this.#logger.info({ view: parsed.view, table }, 'retired view version dropped');
    }
  }

  /** Caught up: its table exists (it has rows) and its pipeline and view have at most maxLag records left. */
  #caughtUp(lag: number | null, hasTable: boolean): boolean {
    return hasTable && lag !== null && lag <= this.#o.maxLag;
  }

  /**
   * Records a version still has to read: its pipeline's (every stage's group against its input's
   * end), then its materializer's. In that order, since a pipeline's output commits with its offsets:
   * once the pipeline has read everything, all it wrote is on the view's topic. Null when the
   * version's pipeline does not run here.
   */
  async #lag(table: string): Promise<number | null> {
    const m = this.#o.materializers().find((x) => x.table === table);
    const pipeline = this.#o.pipelines.find((p) =>
      p.steps.some((s) => s.kind === 'toView' && s.table === table),
    );
    if (!m || !pipeline) return null;
    let lag = 0;
    for (const stage of planStages(pipeline)) {
      const committed = await this.#o.bus.committedOffsets(stageGroup(pipeline, stage), stage.input);
      // A source read from the archive starts at offset 0, below the log's start.
      const fromArchive = stage.from === 1 && stagePipeline(pipeline, stage).source.fromArchive;
      for (const r of await this.#o.bus.partitionOffsets(stage.input)) {
        const c = committed.find((o) => o.partition === r.partition)?.offset;
        lag += Math.max(0, r.end - (c ?? (fromArchive ? 0 : r.start)));
      }
    }
    return lag + (await m.lag());
  }
}
