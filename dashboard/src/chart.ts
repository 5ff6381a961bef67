import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d'];
/** Points kept per series: two minutes at one a second. */
const POINTS = 120;

/**
 * A live line chart of named series (uPlot): each `push` adds one point per series at a time.
 * Series may come and go; the chart is rebuilt when the set of names changes.
 */
export class LiveChart {
  readonly #root: HTMLElement;
  readonly #title: string;
  readonly #unit: string;
  #names: string[] = [];
  #times: number[] = [];
  #values = new Map<string, Array<number | null>>();
  #plot: uPlot | null = null;

  constructor(root: HTMLElement, title: string, unit = '') {
    this.#root = root;
    this.#title = title;
    this.#unit = unit;
  }

  push(timeMs: number, values: Record<string, number>): void {
    const names = Object.keys(values).sort();
    for (const name of names)
      if (!this.#values.has(name))
        this.#values.set(
          name,
          this.#times.map(() => null),
        );
    this.#times.push(timeMs / 1000);
    for (const [name, series] of this.#values) series.push(values[name] ?? null);
    if (this.#times.length > POINTS) {
      this.#times.shift();
      for (const series of this.#values.values()) series.shift();
    }
    // A line needs two points (one alone would stretch the time axis over years).
    if (this.#times.length < 2) return;
    const all = [...this.#values.keys()].sort();
    if (this.#plot === null || all.join('\0') !== this.#names.join('\0')) this.#build(all);
    else this.#plot.setData(this.#data());
  }

  #data(): uPlot.AlignedData {
    return [this.#times, ...this.#names.map((n) => this.#values.get(n)!)];
  }

  #build(names: string[]): void {
    this.#names = names;
    this.#plot?.destroy();
    const unit = this.#unit;
    this.#plot = new uPlot(
      {
        title: this.#title,
        width: Math.max(320, this.#root.clientWidth || 640),
        height: 220,
        series: [
          {},
          ...names.map((label, i) => ({
            label,
            stroke: COLORS[i % COLORS.length]!,
            width: 2,
            value: (_u: uPlot, v: number | null) => (v === null ? '-' : `${format(v)}${unit}`),
          })),
        ],
        axes: [{}, { values: (_u: uPlot, ticks: number[]) => ticks.map((t) => `${format(t)}${unit}`) }],
      },
      this.#data(),
      this.#root,
    );
  }
}

/** A number for people: 1234567 → 1.23M. */
export function format(n: number): string {
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (abs >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (abs >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  if (abs >= 100 || Number.isInteger(n)) return n.toFixed(0);
  return n.toFixed(abs >= 1 ? 1 : 3);
}
