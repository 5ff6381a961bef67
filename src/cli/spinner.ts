/**
 * A spinner on stderr for work that may take more than a second: it appears only after a second,
 * and never off a terminal (scripts and CI see only the result). Hand-written: a timer and `\r`.
 */
export async function withSpinner<T>(label: string, work: Promise<T>): Promise<T> {
  if (process.stderr.isTTY !== true) return work;
  const frames = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏';
  const started = performance.now();
  let frame = 0;
  let timer: NodeJS.Timeout | undefined;
  const start = setTimeout(() => {
    timer = setInterval(() => {
      const seconds = Math.floor((performance.now() - started) / 1000);
      process.stderr.write(`\r\u001b[2K${frames[frame++ % frames.length]} ${label} (${seconds} s)`);
    }, 100);
  }, 1000);
  try {
    return await work;
  } finally {
    clearTimeout(start);
    if (timer !== undefined) {
      clearInterval(timer);
      process.stderr.write('\r\u001b[2K');
    }
  }
}
