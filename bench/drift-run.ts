/**
 * One timed drift report with a cached reference profile, in a process of its own so its peak memory is
 * the report's. `stream`: each feature's reference values and window column are read from the cache when
 * tested (a window scanned from storage); `memory`: both are loaded into memory first. Prints JSON.
 *
 *   tsx bench/drift-run.ts DIR THREADS REPEATS stream|memory
 */
import { Policy } from '../core/schemas.js';
import { driftReportParallel } from '../drift/parallel.js';
import type { DriftReport } from '../core/drift.js';
import { lazyCurrent, lazyProfile, loadCurrent, loadProfile } from './drift-cache.js';

const [dir, threadsArg, repeatsArg, mode = 'stream'] = process.argv.slice(2);
if (!dir) throw new Error('usage: drift-run.ts DIR THREADS REPEATS stream|memory');
const threads = Number(threadsArg ?? 2);
const repeats = Number(repeatsArg ?? 3);
const policy = Policy.parse({}).drift;
const seconds: number[] = [];
let report: DriftReport | undefined;
const t0 = performance.now();
if (mode === 'stream') {
  const [{ profile, slices: reference }, { columns, slices: current }] = await Promise.all([
    lazyProfile(dir),
    lazyCurrent(dir),
  ]);
  const loadSeconds = (performance.now() - t0) / 1000;
  for (let r = 0; r < repeats; r++) {
    const t = performance.now();
    report = await driftReportParallel(profile, columns, [], policy, {
      threads,
      lazy: { reference, current },
    });
    seconds.push((performance.now() - t) / 1000);
  }
  print(loadSeconds);
} else {
  const profile = await loadProfile(dir);
  const current = await loadCurrent(dir);
  const loadSeconds = (performance.now() - t0) / 1000;
  for (let r = 0; r < repeats; r++) {
    const t = performance.now();
    report = await driftReportParallel(profile, current, [], policy, { threads });
    seconds.push((performance.now() - t) / 1000);
  }
  print(loadSeconds);
}

function print(loadSeconds: number): void {
  process.stdout.write(
    JSON.stringify({
      mode,
      threads,
      loadSeconds,
      seconds,
      // ru_maxrss of this process (KiB on Linux): the peak resident memory of load + report.
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
      dataset: { drifted: report!.datasetDrifted, share: report!.driftedShare },
      features: report!.features.map((f) => ({
        feature: f.feature,
        test: f.test,
        statistic: f.statistic,
        pValue: f.pValue,
        drifted: f.drifted,
      })),
    }),
  );
}
