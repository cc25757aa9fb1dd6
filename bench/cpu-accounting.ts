/**
 * Where a benchmark's CPU goes, read from /proc (Linux): seconds of CPU per process name (this Node
 * process, the Temporal dev server, Postgres's backends, …) and per thread of this process (its main
 * thread, the workflow threads, the SDK's native core), between two readings. It needs no profiler and
 * costs nothing while the benchmark runs; elsewhere than Linux it reads nothing and says so.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** CPU seconds by name at one moment. */
export type CpuReading = Map<string, number>;

// USER_HZ: the unit of utime and stime in /proc/<pid>/stat; 100 on every Linux Node supports.
const TICKS = 100;

/** utime + stime (seconds) and the name of one /proc/<pid>/stat or …/task/<tid>/stat file. */
function readStat(file: string): { name: string; seconds: number } | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null; // the process or thread ended between the listing and the read
  }
  // The name is in parentheses and may hold spaces; the fields after it are space-separated.
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const name = text.slice(open + 1, close);
  const fields = text.slice(close + 2).split(' ');
  // Fields 14 and 15 of the file (utime, stime) are the 12th and 13th after the name.
  const seconds = (Number(fields[11]) + Number(fields[12])) / TICKS;
  return Number.isFinite(seconds) ? { name, seconds } : null;
}

function add(reading: CpuReading, name: string, seconds: number): void {
  reading.set(name, (reading.get(name) ?? 0) + seconds);
}

/** CPU seconds of every process on the machine, summed by process name (`/proc/<pid>/stat`). */
export function processCpu(): CpuReading {
  const reading: CpuReading = new Map();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return reading;
  }
  for (const pid of pids) {
    const stat = readStat(`/proc/${pid}/stat`);
    if (stat) add(reading, Number(pid) === process.pid ? 'this process' : stat.name, stat.seconds);
  }
  return reading;
}

/** CPU seconds of this process's threads, summed by thread name (`/proc/self/task/<tid>/stat`). */
export function threadCpu(): CpuReading {
  const reading: CpuReading = new Map();
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return reading;
  }
  for (const tid of tids) {
    const stat = readStat(`/proc/self/task/${tid}/stat`);
    if (stat) add(reading, stat.name, stat.seconds);
  }
  return reading;
}

/** What each name used between two readings, largest first, leaving out names that used under `min` s. */
export function cpuBetween(before: CpuReading, after: CpuReading, min = 0.05): [string, number][] {
  const used: [string, number][] = [];
  for (const [name, seconds] of after) {
    const delta = seconds - (before.get(name) ?? 0);
    if (delta >= min) used.push([name, delta]);
  }
  return used.sort((a, b) => b[1] - a[1]);
}

/** Sums several intervals' usage by name (e.g. every timed round of one side). */
export function sumUsage(intervals: [string, number][][]): [string, number][] {
  const total = new Map<string, number>();
  for (const interval of intervals)
    for (const [name, s] of interval) total.set(name, (total.get(name) ?? 0) + s);
  return [...total].sort((a, b) => b[1] - a[1]);
}
