/**
 * The gateway's prediction log, written in batches off the request path. A prediction is answered as
 * soon as it is scored and queued here; a background writer commits the queue every `flushMs` (or at
 * once when `flushRows` are waiting) in one transaction: the records, their predictions and their
 * failure cases, each as one multi-row INSERT per model.
 *
 * Bounded: at most `maxRows` wait. When the queue is full a request waits for room (the writer is
 * behind), and after `maxWaitMs` it gets 503 and nothing is logged, so the client knows to retry: a row
 * is never dropped silently. A failed write keeps its rows queued and retries.
 *
 * What a crash can lose: the rows queued and not yet committed, at most one flush interval of traffic
 * while Postgres keeps up (more, up to `maxRows`, while it is slow or down). `close()` (a clean shutdown,
 * SIGTERM) writes everything first.
 */
import type pg from 'pg';
import type { Features } from '../core/schemas.js';
import * as db from '../db/index.js';
import { withTransaction } from '../db/pool.js';
import { HttpError } from '../infra/http.js';

export interface LoggedPrediction {
  modelId: string;
  recordKey: string;
  ts: Date;
  features: Features;
  prediction: {
    recordKey: string;
    version: number;
    predicted: string;
    confidence: number;
    latencyUs: number;
  };
  cases: db.FailureCaseInput[];
}

export interface LogOptions {
  batchKey: string;
  /** How long a row may wait before it is written (default 10 ms). */
  flushMs?: number;
  /** Write at once when this many rows wait (default 500). */
  flushRows?: number;
  /** The bound on queued rows (default 20,000). */
  maxRows?: number;
  /** How long a request waits for room in a full queue before 503 (default 2 s). */
  maxWaitMs?: number;
  onError?: (err: unknown) => void;
}

const key = (modelId: string, recordKey: string) => `${modelId}\u0000${recordKey}`;

export class PredictionLog {
  private queue: { seq: number; row: LoggedPrediction }[] = [];
  private readonly queued = new Map<string, number>();
  private seq = 0;
  private written = 0;
  private writing = false;
  private writingRows = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private waiters: { seq: number; resolve: () => void }[] = [];
  private roomWaiters: (() => void)[] = [];
  private readonly o: Required<Omit<LogOptions, 'onError'>> & Pick<LogOptions, 'onError'>;
  /** Rows committed since start, and write failures (each retried). */
  readonly stats = { written: 0, batches: 0, failures: 0 };

  constructor(
    private readonly pool: pg.Pool,
    opts: LogOptions,
  ) {
    this.o = { flushMs: 10, flushRows: 500, maxRows: 20_000, maxWaitMs: 2000, ...opts };
  }

  /** Rows answered and not yet committed: queued, or in the batch being written. */
  get size(): number {
    return this.queue.length + this.writingRows;
  }

  /** Whether a request of this model is still waiting to be written. */
  has(modelId: string, recordKey: string): boolean {
    return this.queued.has(key(modelId, recordKey));
  }

  /** Queues a row; waits while the queue is full, and refuses with 503 after `maxWaitMs` or once closing. */
  async add(row: LoggedPrediction): Promise<void> {
    if (this.size >= this.o.maxRows) await this.room();
    if (this.closed) throw new HttpError(503, 'the gateway is shutting down: retry on another replica');
    this.queue.push({ seq: ++this.seq, row });
    const k = key(row.modelId, row.recordKey);
    this.queued.set(k, (this.queued.get(k) ?? 0) + 1);
    this.schedule(this.queue.length >= this.o.flushRows ? 0 : this.o.flushMs);
  }

  private async room(): Promise<void> {
    const deadline = Date.now() + this.o.maxWaitMs;
    while (this.size >= this.o.maxRows && !this.closed) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new HttpError(
          503,
          `the prediction log is ${this.size} rows behind (Postgres is slow or down): nothing was logged, retry later`,
        );
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.roomWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private schedule(delay: number): void {
    if (this.writing) return;
    if (this.timer && delay > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.writeNext();
    }, delay);
  }

  private async writeNext(): Promise<void> {
    if (this.writing || this.queue.length === 0) return;
    this.writing = true;
    const batch = this.queue.splice(0, Math.max(this.o.flushRows * 4, 1000));
    this.writingRows = batch.length;
    try {
      await this.write(batch.map((b) => b.row));
      this.written = batch.at(-1)!.seq;
      this.stats.written += batch.length;
      this.stats.batches++;
      this.writingRows = 0;
      for (const b of batch) {
        const k = key(b.row.modelId, b.row.recordKey);
        const n = (this.queued.get(k) ?? 1) - 1;
        if (n === 0) this.queued.delete(k);
        else this.queued.set(k, n);
      }
      const done = this.waiters.filter((w) => w.seq <= this.written);
      this.waiters = this.waiters.filter((w) => w.seq > this.written);
      for (const w of done) w.resolve();
      const room = this.roomWaiters;
      this.roomWaiters = [];
      for (const r of room) r();
      this.writing = false;
      if (this.queue.length > 0) this.schedule(this.queue.length >= this.o.flushRows ? 0 : this.o.flushMs);
    } catch (err) {
      // Kept, in order, and retried: a row is never dropped.
      this.queue.unshift(...batch);
      this.writingRows = 0;
      this.stats.failures++;
      this.o.onError?.(err);
      this.writing = false;
      this.schedule(500);
    }
  }

  private async write(rows: readonly LoggedPrediction[]): Promise<void> {
    const byModel = new Map<string, LoggedPrediction[]>();
    for (const r of rows) {
      const list = byModel.get(r.modelId);
      if (list) list.push(r);
      else byModel.set(r.modelId, [r]);
    }
    await withTransaction(this.pool, async (client) => {
      for (const [modelId, list] of byModel) {
        await db.insertRecords(
          client,
          modelId,
          list.map((r) => ({ recordKey: r.recordKey, ts: r.ts, features: r.features, feedback: null })),
        );
        await db.insertPredictions(
          client,
          modelId,
          this.o.batchKey,
          // Served when the request was answered, not when the batch is written: a rollout step's
          // analysis counts the predictions served since the step began.
          list.map((r) => ({ ...r.prediction, servedAt: r.ts })),
        );
        await db.insertFailureCases(
          client,
          modelId,
          list.flatMap((r) => r.cases),
        );
      }
    });
  }

  /** Resolves once every row queued before the call is committed; 503 after `timeoutMs`. */
  async flush(timeoutMs = 5000): Promise<void> {
    const target = this.seq;
    if (this.written >= target) return;
    this.schedule(0);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(
          new HttpError(
            503,
            `the prediction log could not be written within ${timeoutMs} ms (Postgres is slow or down): retry later`,
          ),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(t);
        resolve();
      };
      this.waiters.push({ seq: target, resolve: done });
    });
  }

  /** Refuses new rows and writes every queued one; throws, naming how many, when it cannot. */
  async close(timeoutMs = 10_000): Promise<void> {
    this.closed = true;
    for (const r of this.roomWaiters.splice(0)) r();
    try {
      await this.flush(timeoutMs);
    } catch {
      throw new Error(
        `${this.size} logged predictions could not be written to Postgres within ${timeoutMs} ms and are lost`,
      );
    } finally {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
    }
  }
}
