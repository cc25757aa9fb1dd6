/**
 * Training: the checkpoints a retried training resumes from, and the model cards it writes.
 * One small function per SQL statement over an injected queryable; parameters are always bound.
 */
import type { Tree } from '../core/forest.js';
import type { ModelCardInput } from '../core/model-card.js';
import type { RegressionCardInput } from '../core/regression-card.js';
import type { Queryable } from './pool.js';

/** Stores trees `from`.. of a forest under a checkpoint key; trees already stored are kept. */
export async function insertCheckpointTrees(
  q: Queryable,
  key: string,
  from: number,
  trees: readonly Tree[],
): Promise<void> {
  await q.query(
    `INSERT INTO training_checkpoints (checkpoint_key, tree_index, tree)
     SELECT $1, i, t FROM unnest($2::int[], $3::jsonb[]) AS u(i, t) ON CONFLICT DO NOTHING`,
    [key, trees.map((_, i) => from + i), trees.map((t) => JSON.stringify(t))],
  );
}

/** The first `count` stored trees of a checkpoint, in order (fewer when some are missing). */
export async function checkpointTrees(q: Queryable, key: string, count: number): Promise<Tree[]> {
  const { rows } = await q.query<{ tree: Tree }>(
    'SELECT tree FROM training_checkpoints WHERE checkpoint_key = $1 AND tree_index < $2 ORDER BY tree_index',
    [key, count],
  );
  return rows.map((r) => r.tree);
}

/** Drops a cycle's training checkpoints (keys `<cycleId>:…`). */
export async function deleteCycleCheckpoints(q: Queryable, cycleId: string): Promise<void> {
  await q.query("DELETE FROM training_checkpoints WHERE left(checkpoint_key, length($1) + 1) = $1 || ':'", [
    cycleId,
  ]);
}

/** A version's model card; writing it again replaces it. */
export async function upsertModelCard(
  q: Queryable,
  c: {
    modelId: string;
    version: number;
    cycleId: string;
    go: boolean;
    markdown: string;
    html: string;
    input: ModelCardInput | RegressionCardInput;
  },
): Promise<void> {
  await q.query(
    `INSERT INTO model_cards (model_id, version, cycle_id, go, markdown, html, input) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (model_id, version) DO UPDATE SET go = EXCLUDED.go, markdown = EXCLUDED.markdown, html = EXCLUDED.html, input = EXCLUDED.input`,
    [c.modelId, c.version, c.cycleId, c.go, c.markdown, c.html, JSON.stringify(c.input)],
  );
}

/** A version's model card as written. */
export async function getModelCard(
  q: Queryable,
  modelId: string,
  version: number,
): Promise<{ markdown: string; html: string } | undefined> {
  const { rows } = await q.query<{ markdown: string; html: string }>(
    'SELECT markdown, html FROM model_cards WHERE model_id = $1 AND version = $2',
    [modelId, version],
  );
  return rows[0];
}

/** The newest model card a cycle wrote: its go decision and the data it was built from. */
export async function latestCycleModelCard(
  q: Queryable,
  cycleId: string,
): Promise<{ go: boolean; input: ModelCardInput | RegressionCardInput | null } | undefined> {
  const { rows } = await q.query<{ go: boolean; input: ModelCardInput | RegressionCardInput | null }>(
    'SELECT go, input FROM model_cards WHERE cycle_id = $1 ORDER BY version DESC LIMIT 1',
    [cycleId],
  );
  return rows[0];
}
