/** One benchmark figure, printed as one JSON line; every benchmark prints the same fields. */
export interface BenchResult {
  bench: string;
  case: string;
  metric: string;
  value: number;
  unit: string;
  baseline?: string;
  baseline_value?: number;
  /** ours ÷ baseline: higher is better for throughput. */
  ratio?: number;
  lower_is_better?: true;
}

export interface BenchOptions {
  quick: boolean;
}

export type Bench = (options: BenchOptions) => AsyncIterable<BenchResult>;

export function result(
  bench: string,
  name: string,
  metric: string,
  value: number,
  unit: string,
  baseline?: { name: string; value: number; lowerIsBetter?: boolean },
): BenchResult {
  const out: BenchResult = { bench, case: name, metric, value: round(value), unit };
  if (baseline) {
    out.baseline = baseline.name;
    out.baseline_value = round(baseline.value);
    out.ratio =
      Math.round((baseline.lowerIsBetter ? baseline.value / value : value / baseline.value) * 1000) / 1000;
    if (baseline.lowerIsBetter) out.lower_is_better = true;
  }
  return out;
}

function round(n: number): number {
  return n >= 100 ? Math.round(n) : Math.round(n * 100) / 100;
}
