import { InvalidDurationError } from './errors.ts';

/** A length of time: milliseconds, or a string such as '250ms', '30s', '5m', '2h', '7d', '1h30m'. */
export type Duration = number | string;

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/y;

/** Parses a Duration to whole milliseconds; throws InvalidDurationError on anything else. */
export function toMillis(input: Duration): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new InvalidDurationError(input);
    return Math.round(input);
  }
  if (typeof input !== 'string' || input.length === 0 || input.length > 64)
    throw new InvalidDurationError(input);
  const text = input.trim();
  if (/^\d+$/.test(text)) return Number(text);
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const at = PART.lastIndex;
    const match = PART.exec(text);
    if (!match || match.index !== at) throw new InvalidDurationError(input);
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
  }
  if (!Number.isFinite(total)) throw new InvalidDurationError(input);
  return Math.round(total);
}

/** Formats milliseconds the way people write them: 90000 → '1m30s'. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0ms';
  let rest = Math.round(ms);
  let out = '';
  for (const unit of ['d', 'h', 'm', 's', 'ms'] as const) {
    const size = UNIT_MS[unit]!;
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return out;
}
