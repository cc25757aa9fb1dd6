/**
 * What the gateway keeps in memory so a prediction needs no query: each model's traffic split, kept
 * fresh by Postgres notifications (migrations/013_gateway_clients.sql fires `remedy_traffic` on every
 * change of `traffic_weights` or `model_aliases`), with a periodic re-read as a safety net.
 *
 * A rollback is a `setTraffic`: its notification arrives a few milliseconds after the commit and drops
 * the model's cached split, so the next request reads the new one. While the notification connection is
 * down (Postgres restarting), splits are re-read every `degradedRefreshMs` instead, and the whole cache
 * is dropped when it comes back, since notifications sent meanwhile are lost.
 */
import type pg from 'pg';
import * as db from '../db/index.js';

export const TRAFFIC_CHANNEL = 'remedy_traffic';
export const CLIENTS_CHANNEL = 'remedy_clients';

/** One connection LISTENing for changes; reconnects with backoff and says when it had to. */
export class ChangeFeed {
  private client: pg.PoolClient | null = null;
  private stopped = false;
  private retry: NodeJS.Timeout | null = null;
  private readonly handlers: ((channel: string, payload: string) => void)[] = [];
  private readonly resets: (() => void)[] = [];

  constructor(
    private readonly pool: pg.Pool,
    private readonly log: (msg: string) => void = () => undefined,
  ) {}

  get connected(): boolean {
    return this.client !== null;
  }

  onChange(fn: (channel: string, payload: string) => void): void {
    this.handlers.push(fn);
  }

  /** Called whenever notifications may have been missed: at (re)connection. */
  onReset(fn: () => void): void {
    this.resets.push(fn);
  }

  /** Connects once; a failure is retried in the background (callers then run on the periodic re-read). */
  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let client: pg.PoolClient | undefined;
    try {
      client = await this.pool.connect();
      const lost = (c: pg.PoolClient) => () => this.lost(c);
      client.on('notification', (n) => {
        for (const h of this.handlers) h(n.channel, n.payload ?? '');
      });
      client.once('end', lost(client));
      client.once('error', lost(client));
      await db.listenForChanges(client);
      if (this.stopped) return client.release(true);
      this.client = client;
      for (const r of this.resets) r();
    } catch (err) {
      client?.release(true);
      this.log(`gateway: cannot listen for traffic changes (${(err as Error).message}); retrying in 1 s`);
      this.schedule();
    }
  }

  private lost(client: pg.PoolClient): void {
    if (this.client !== client) return;
    this.client = null;
    client.release(true);
    for (const r of this.resets) r();
    this.log('gateway: lost the notification connection; re-reading traffic splits until it is back');
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.connect();
    }, 1000);
    this.retry.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    const c = this.client;
    this.client = null;
    c?.release(true);
  }
}

export interface CacheTimes {
  /** Safety net: a cached value is re-read after this long even without a notification (default 5 s). */
  refreshMs?: number;
  /** While notifications are down (default 200 ms). */
  degradedRefreshMs?: number;
}

/** A per-key cache of promises, dropped on notification, re-read after a while in any case. */
export class NotifiedCache<K, V> {
  private readonly entries = new Map<K, { value: Promise<V>; readAt: number }>();
  private readonly refreshMs: number;
  private readonly degradedRefreshMs: number;

  constructor(
    private readonly feed: ChangeFeed,
    private readonly load: (key: K) => Promise<V>,
    times: CacheTimes = {},
  ) {
    this.refreshMs = times.refreshMs ?? 5000;
    this.degradedRefreshMs = times.degradedRefreshMs ?? 200;
  }

  get(key: K): Promise<V> {
    const now = Date.now();
    const ttl = this.feed.connected ? this.refreshMs : this.degradedRefreshMs;
    const hit = this.entries.get(key);
    if (hit && now - hit.readAt < ttl) return hit.value;
    // Stored before it resolves: a notification arriving during the read drops this entry too, so a read
    // that began before a change is never kept after it.
    const entry = { value: this.load(key), readAt: now };
    this.entries.set(key, entry);
    entry.value.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    return entry.value;
  }

  drop(key: K): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}

/** Each model's traffic split, as `db.getTraffic` reads it, kept by notification. */
export function trafficCache(
  pool: pg.Pool,
  feed: ChangeFeed,
  times?: CacheTimes,
): NotifiedCache<string, db.TrafficRow | null> {
  const cache = new NotifiedCache(feed, (modelId: string) => db.getTraffic(pool, modelId), times);
  feed.onChange((channel, modelId) => {
    if (channel === TRAFFIC_CHANNEL) cache.drop(modelId);
  });
  feed.onReset(() => cache.clear());
  return cache;
}
