// @ts-check
/**
 * Timing for the benchmark. Every figure is a ratio to a floor measured in the same process
 * and the same round, interleaved with the candidates in small chunks, so that load from other
 * processes on a shared machine lands on the floor and the candidates alike.
 */

/** @param {number[]} values */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** @param {number[]} values */
const spread = (values) => ({ median: median(values), min: Math.min(...values), max: Math.max(...values) });

/**
 * @typedef {{ name: string, run: () => Promise<unknown> | unknown }} Case
 * @typedef {{ median: number, min: number, max: number }} Spread
 * @typedef {{ name: string, perOp: Spread, ratio: Spread, rounds: number[] }} Result
 * @typedef {{ rounds?: number, cycles?: number, chunk?: number, warmup?: number }} Options
 */

/**
 * Runs `floor` and `cases` interleaved. Each round cycles through all of them `cycles` times,
 * `chunk` sequential awaited operations at a time, in an order that rotates with every cycle.
 * The first `warmup` rounds are run and thrown away (JIT, caches, connection pools).
 *
 * @param {Case} floor
 * @param {Case[]} cases
 * @param {Options} [options]
 * @returns {Promise<Result[]>} the floor first, then the cases: time per operation in µs, its
 *   ratio to the floor of the same round (median, min, max over the rounds), and the per-round times.
 */
export async function compare(floor, cases, { rounds = 11, cycles = 8, chunk = 40, warmup = 2 } = {}) {
  const all = [floor, ...cases];
  /** @type {number[][]} µs per operation, per case, per kept round */
  const perRound = all.map(() => []);
  for (let round = 0; round < warmup + rounds; round++) {
    const total = all.map(() => 0);
    for (let cycle = 0; cycle < cycles; cycle++) {
      for (let k = 0; k < all.length; k++) {
        const index = (k + cycle + round) % all.length;
        const { run } = all[index];
        const start = performance.now();
        for (let i = 0; i < chunk; i++) await run();
        total[index] += performance.now() - start;
      }
    }
    if (round >= warmup) total.forEach((ms, i) => perRound[i].push((ms * 1000) / (cycles * chunk)));
  }
  return all.map(({ name }, i) => ({
    name,
    perOp: spread(perRound[i]),
    ratio: spread(perRound[i].map((t, r) => t / perRound[0][r])),
    rounds: perRound[i],
  }));
}
