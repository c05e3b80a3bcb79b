// @ts-check
/**
 * Timing for the benchmark. Every figure is a ratio to a floor measured in the same process,
 * interleaved with the candidates in small chunks: in each cycle the floor and every candidate
 * run one chunk each, and a candidate's ratio is taken against the floor of the same cycle, so
 * that load from other processes on a shared machine lands on both alike.
 */

/** @param {number[]} values */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** @param {number[]} values */
export const spread = (values) => ({ median: median(values), min: Math.min(...values), max: Math.max(...values) });

/**
 * @typedef {{ name: string, run: () => Promise<unknown> | unknown }} Case
 * @typedef {{ median: number, min: number, max: number }} Spread
 * @typedef {{ name: string, perOp: Spread, ratio: Spread, rounds: number[] }} Result
 * @typedef {{ rounds?: number, cycles?: number, chunk?: number, warmup?: number }} Options
 */

/**
 * Runs `floor` and `cases` interleaved: `rounds` rounds of `cycles` cycles; in each cycle every
 * one of them runs `chunk` sequential awaited operations, in an order that rotates from cycle
 * to cycle. The first `warmup` rounds are thrown away (JIT, caches, connection pools).
 *
 * @param {Case} floor
 * @param {Case[]} cases
 * @param {Options} [options]
 * @returns {Promise<Result[]>} the floor first, then the cases. `perOp`: µs per operation, median
 *   over all cycles, min and max of the per-round medians. `ratio`: to the floor of the same
 *   cycle, the same way. `rounds`: the per-round median µs per operation.
 */
export async function compare(floor, cases, { rounds = 11, cycles = 8, chunk = 40, warmup = 2 } = {}) {
  const all = [floor, ...cases];
  /** @type {number[][][]} µs per operation: [case][round][cycle] */
  const times = all.map(() => []);
  for (let round = 0; round < warmup + rounds; round++) {
    const cycleTimes = all.map(() => /** @type {number[]} */ ([]));
    for (let cycle = 0; cycle < cycles; cycle++) {
      for (let k = 0; k < all.length; k++) {
        const index = (k + cycle + round) % all.length;
        const { run } = all[index];
        const start = performance.now();
        for (let i = 0; i < chunk; i++) await run();
        cycleTimes[index].push(((performance.now() - start) * 1000) / chunk);
      }
    }
    if (round >= warmup) cycleTimes.forEach((t, i) => times[i].push(t));
  }
  return all.map(({ name }, i) => {
    const ratios = times[i].map((round, r) => round.map((t, c) => t / times[0][r][c]));
    const roundMedians = times[i].map(median);
    const roundRatios = ratios.map(median);
    return {
      name,
      perOp: { median: median(times[i].flat()), min: Math.min(...roundMedians), max: Math.max(...roundMedians) },
      ratio: { median: median(ratios.flat()), min: Math.min(...roundRatios), max: Math.max(...roundRatios) },
      rounds: roundMedians,
    };
  });
}
