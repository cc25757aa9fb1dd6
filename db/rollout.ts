/**
 * Staged rollout: traffic weights and the per-version serving statistics a step is judged on.
 * One small function per SQL statement over an injected queryable; parameters are always bound.
 */
import type { StepAnalysis } from '../core/policy.js';
import { type Queryable } from './pool.js';

export interface TrafficRow {
  championVersion: number;
  candidateVersion: number | null;
  candidateWeight: number;
}

export async function setTraffic(q: Queryable, modelId: string, t: TrafficRow): Promise<void> {
  await q.query(
    `INSERT INTO traffic_weights (model_id, champion_version, candidate_version, candidate_weight) VALUES ($1, $2, $3, $4)
     ON CONFLICT (model_id) DO UPDATE SET champion_version = EXCLUDED.champion_version,
       candidate_version = EXCLUDED.candidate_version, candidate_weight = EXCLUDED.candidate_weight, updated_at = now()`,
    [modelId, t.championVersion, t.candidateVersion, t.candidateWeight],
  );
}

export async function getTraffic(q: Queryable, modelId: string): Promise<TrafficRow | null> {
  const { rows } = await q.query<{
    champion_version: number;
    candidate_version: number | null;
    candidate_weight: number;
  }>(
    'SELECT champion_version, candidate_version, candidate_weight FROM traffic_weights WHERE model_id = $1',
    [modelId],
  );
  const r = rows[0];
  return r
    ? {
        championVersion: r.champion_version,
        candidateVersion: r.candidate_version,
        candidateWeight: r.candidate_weight,
      }
    : null;
}

export interface ArmStats {
  served: number;
  n: number;
  correct: number;
  meanConfidence: number | null;
  p95LatencyMs: number | null;
}

/**
 * A fixed sample of an arm: the rows with feedback numbered in serving order (prediction id), and of
 * them those after `offset`, at most `limit` (rollout.stepSamples).
 */
export interface ArmSample {
  offset: number;
  limit: number;
}

/**
 * Per-version serving and feedback statistics for predictions served since `since`; with `sample`, of
 * that fixed sample of each version's predictions with feedback only.
 */
export async function armStatsSince(
  q: Queryable,
  modelId: string,
  since: string,
  versions: readonly number[],
  sample?: ArmSample,
): Promise<Map<number, ArmStats>> {
  type Row = {
    version: number;
    served: string;
    n: string;
    correct: string;
    mean_conf: number | null;
    p95_us: number | null;
  };
  // With a sample: the rows with feedback numbered in serving order, those after the offset, at most the
  // limit. Without: every prediction since `since` (no numbering, so the default analysis sorts nothing).
  const { rows } = sample
    ? await q.query<Row>(
        `SELECT version, COUNT(*) AS served,
                COUNT(*) AS n,
                COUNT(*) FILTER (WHERE feedback = predicted) AS correct,
                AVG(confidence) AS mean_conf,
                percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_us) AS p95_us
         FROM (SELECT p.version, p.predicted, p.confidence, p.latency_us, r.feedback,
                      row_number() OVER (PARTITION BY p.version ORDER BY p.prediction_id) AS rn
               FROM predictions p JOIN records r ON r.model_id = p.model_id AND r.record_key = p.record_key
               WHERE p.model_id = $1 AND p.served_at >= $2 AND p.version = ANY($3::int[])
                     AND r.feedback IS NOT NULL) s
         WHERE rn > $4 AND rn <= $4 + $5
         GROUP BY version`,
        [modelId, since, versions, sample.offset, sample.limit],
      )
    : await q.query<Row>(
        `SELECT p.version, COUNT(*) AS served,
                COUNT(*) FILTER (WHERE r.feedback IS NOT NULL) AS n,
                COUNT(*) FILTER (WHERE r.feedback = p.predicted) AS correct,
                AVG(p.confidence) FILTER (WHERE r.feedback IS NOT NULL) AS mean_conf,
                percentile_cont(0.95) WITHIN GROUP (ORDER BY p.latency_us) AS p95_us
         FROM predictions p JOIN records r ON r.model_id = p.model_id AND r.record_key = p.record_key
         WHERE p.model_id = $1 AND p.served_at >= $2 AND p.version = ANY($3::int[])
         GROUP BY p.version`,
        [modelId, since, versions],
      );
  return new Map(
    rows.map((r) => [
      r.version,
      {
        served: Number(r.served),
        n: Number(r.n),
        correct: Number(r.correct),
        meanConfidence: r.mean_conf === null ? null : Number(r.mean_conf),
        p95LatencyMs: r.p95_us === null ? null : Number(r.p95_us) / 1000,
      },
    ]),
  );
}

/**
 * A regressor's served predictions with feedback since `since`, per version: the predicted and the true
 * value (both kept as decimal text; a row whose text is not a number is left out); with `sample`, that
 * fixed sample of each version's rows in serving order.
 */
export async function armFeedbackValuesSince(
  q: Queryable,
  modelId: string,
  since: string,
  versions: readonly number[],
  sample?: ArmSample,
): Promise<Map<number, { predicted: number; actual: number }[]>> {
  type Row = { version: number; predicted: string; feedback: string };
  const { rows } = sample
    ? await q.query<Row>(
        `SELECT version, predicted, feedback FROM (
           SELECT p.version, p.predicted, r.feedback, p.prediction_id,
                  row_number() OVER (PARTITION BY p.version ORDER BY p.prediction_id) AS rn
           FROM predictions p JOIN records r ON r.model_id = p.model_id AND r.record_key = p.record_key
           WHERE p.model_id = $1 AND p.served_at >= $2 AND p.version = ANY($3::int[]) AND r.feedback IS NOT NULL) s
         WHERE rn > $4 AND rn <= $4 + $5
         ORDER BY version, prediction_id`,
        [modelId, since, versions, sample.offset, sample.limit],
      )
    : await q.query<Row>(
        `SELECT p.version, p.predicted, r.feedback
         FROM predictions p JOIN records r ON r.model_id = p.model_id AND r.record_key = p.record_key
         WHERE p.model_id = $1 AND p.served_at >= $2 AND p.version = ANY($3::int[]) AND r.feedback IS NOT NULL
         ORDER BY p.version, p.prediction_id`,
        [modelId, since, versions],
      );
  const out = new Map<number, { predicted: number; actual: number }[]>(versions.map((v) => [v, []]));
  for (const r of rows) {
    const predicted = Number(r.predicted);
    const actual = Number(r.feedback);
    if (
      Number.isFinite(predicted) &&
      Number.isFinite(actual) &&
      r.predicted.trim() !== '' &&
      r.feedback.trim() !== ''
    )
      out.get(r.version)!.push({ predicted, actual });
  }
  return out;
}

/** A rollout step's analysis and decision (a retry overwrites its own attempt); returns when it was decided. */
export async function upsertRolloutStep(
  q: Queryable,
  s: { cycleId: string; stepIndex: number; attempt: number; weight: number; analysis: { decision: string } },
): Promise<Date> {
  const { rows } = await q.query<{ decided_at: Date }>(
    `INSERT INTO rollout_steps (cycle_id, step_index, attempt, weight, analysis, decision) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (cycle_id, step_index, attempt) DO UPDATE SET analysis = EXCLUDED.analysis, decision = EXCLUDED.decision
     RETURNING decided_at`,
    [s.cycleId, s.stepIndex, s.attempt, s.weight, JSON.stringify(s.analysis), s.analysis.decision],
  );
  return rows[0]!.decided_at;
}

export interface RolloutStepRow {
  step_index: number;
  attempt: number;
  weight: number;
  decision: string;
  decided_at: Date;
  analysis: StepAnalysis;
}

/** A cycle's rollout steps in the order they were decided. */
export async function rolloutSteps(q: Queryable, cycleId: string): Promise<RolloutStepRow[]> {
  const { rows } = await q.query<RolloutStepRow>(
    'SELECT step_index, attempt, weight, decision, decided_at, analysis FROM rollout_steps WHERE cycle_id = $1 ORDER BY decided_at, step_index, attempt',
    [cycleId],
  );
  return rows;
}

/** The router the cycle's latest traffic move went through, as its audit event recorded it (null: none). */
export async function lastTrafficRouter(q: Queryable, cycleId: string): Promise<unknown> {
  const { rows } = await q.query<{ router: unknown }>(
    `SELECT details->'router' AS router FROM audit_events WHERE cycle_id = $1 AND action = 'traffic.set'
     ORDER BY event_id DESC LIMIT 1`,
    [cycleId],
  );
  return rows[0]?.router ?? null;
}

/**
 * Where a cycle's rollout stands, from its audit trail: the latest traffic move (candidate and weight)
 * and whether the candidate was promoted. Null when the cycle never moved traffic.
 */
export async function rolloutProgress(
  q: Queryable,
  cycleId: string,
): Promise<{ candidateVersion: number; weight: number; promoted: boolean } | null> {
  const { rows } = await q.query<{ candidate_version: number; weight: number; promoted: boolean }>(
    `SELECT (details->>'candidateVersion')::int AS candidate_version, (details->>'weight')::int AS weight,
            EXISTS (SELECT 1 FROM audit_events p WHERE p.cycle_id = $1 AND p.action = 'rollout.promoted') AS promoted
     FROM audit_events WHERE cycle_id = $1 AND action = 'traffic.set' ORDER BY event_id DESC LIMIT 1`,
    [cycleId],
  );
  const r = rows[0];
  return r ? { candidateVersion: r.candidate_version, weight: r.weight, promoted: r.promoted } : null;
}

/** How many analyses of a cycle's step before `attempt` failed (rollout.stepSamples: the next sample's offset). */
export async function failedAnalysesBefore(
  q: Queryable,
  cycleId: string,
  stepIndex: number,
  attempt: number,
): Promise<number> {
  const { rows } = await q.query<{ n: string }>(
    `SELECT COUNT(*) AS n FROM rollout_steps
     WHERE cycle_id = $1 AND step_index = $2 AND attempt < $3 AND decision = 'fail'`,
    [cycleId, stepIndex, attempt],
  );
  return Number(rows[0]!.n);
}

/**
 * A cycle's latest traffic move and when it was recorded (a step's start as its analysis counts it), and
 * whether its rollout has ended (promoted or rolled back). Null when it never moved traffic.
 */
export async function latestTrafficMove(
  q: Queryable,
  cycleId: string,
): Promise<{ weight: number; at: Date; ended: boolean } | null> {
  const { rows } = await q.query<{ weight: number; at: Date; ended: boolean }>(
    `SELECT (details->>'weight')::int AS weight, at,
            EXISTS (SELECT 1 FROM audit_events e WHERE e.cycle_id = $1
                    AND e.action IN ('rollout.promoted', 'rollout.rolled_back')) AS ended
     FROM audit_events WHERE cycle_id = $1 AND action = 'traffic.set' ORDER BY event_id DESC LIMIT 1`,
    [cycleId],
  );
  return rows[0] ?? null;
}
