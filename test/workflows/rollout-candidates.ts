/**
 * Candidates for the staged-rollout tests, on the weather model: one much worse than the champion on 2015
 * and one better (retrained after the April 2013 shift).
 */
import type pg from 'pg';
import { prepareWeatherModel, SCENARIO, type PreparedModel } from '../../dev/scenario.js';
import { canonicalJson, train, type ModelArtifact } from '../../core/model.js';
import * as db from '../../db/index.js';
import { insertTestCandidate } from '../helpers.js';

type Prepared = { prepared: PreparedModel; candidate: number };

export function rolloutCandidates(stack: { pool: pg.Pool }) {
  const register = (modelId: string, artifact: ModelArtifact): Promise<number> =>
    insertTestCandidate(stack.pool, modelId, `${modelId}:test-candidate`, canonicalJson(artifact));
  return {
    /** A candidate that answers "snow" to everything: much worse than the champion on 2015. */
    withBadCandidate: async (modelId: string): Promise<Prepared> => {
      const prepared = await prepareWeatherModel(stack.pool, modelId);
      const artifact = train(
        { numeric: ['temp_max'], categorical: [] },
        prepared.rows.slice(0, 50).map((r) => ({ features: r.features, label: 'snow' })),
        { epochs: 5, learningRate: 0.1, l2: 0 },
      );
      return { prepared, candidate: await register(modelId, artifact) };
    },
    /** A candidate retrained on labelled data after the April 2013 shift: better than the champion on 2015. */
    withGoodCandidate: async (modelId: string): Promise<Prepared> => {
      const prepared = await prepareWeatherModel(stack.pool, modelId);
      const def = (await db.getModel(stack.pool, modelId))!;
      const recent = prepared.rows.filter((r) => r.ts >= SCENARIO.window.start && r.ts < SCENARIO.window.end);
      const artifact = train(
        def.features,
        recent.map((r) => ({ features: r.features, label: r.label })),
        def.policy.training,
      );
      return { prepared, candidate: await register(modelId, artifact) };
    },
  };
}
