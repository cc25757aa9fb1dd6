/**
 * ONNX equivalence on real data: scikit-learn models trained on the weather data and exported with
 * skl2onnx (test/fixtures/onnx_models.py, run with the project's Python environment). For every model,
 * the probabilities Remedy computes in Node, when the file is adopted and when a stored version is
 * scored from the registry (the path every activity takes), equal onnxruntime's own in Python on the
 * same file within 1e-5. The logistic-regression pipeline also equals scikit-learn within 1e-5; for the
 * forest, the converter's gap to scikit-learn is recorded with the version and is the largest |Δp|.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson, type OnnxArtifact } from '../../core/model.js';
import { ModelDefinition, type Features } from '../../core/schemas.js';
import { putBlob } from '../../db/blobs.js';
import { getModelVersion, insertModelVersion, upsertModel } from '../../db/models.js';
import { loadWeather } from '../../dev/weather.js';
import type { Gateway } from '../../gateway/server.js';
import { registerModelWithChampion } from '../../ops/setup.js';
import { adoptOnnx } from '../../scoring/adopt.js';
import { scoreRows } from '../../scoring/index.js';
import { freshDatabase, startGateway } from '../helpers.js';
import {
  buildOnnxFixtures,
  LABELS,
  maxAbsDiff,
  NUMERIC_SPEC,
  WEATHER_SPEC,
  type OnnxFixtures,
} from './onnx-fixtures.js';

let fx: OnnxFixtures;
let pool: pg.Pool;
let gateway: Gateway | undefined;
const measured: Record<string, Record<string, number | null>> = {};

beforeAll(async () => {
  [fx, { pool }] = await Promise.all([buildOnnxFixtures(), freshDatabase('onnx_equivalence')]);
}, 600_000); // the first run creates the Python environment (pip install), which can take minutes

afterAll(async () => {
  console.log(`ONNX fixtures built in ${fx?.seconds.toFixed(1)} s; max |Δp| over the 2015 holdout:`);
  console.table(measured);
  await gateway?.close();
  await pool?.end();
  await fx?.remove();
});

/** Against scikit-learn: linear models agree within 1e-5; tree ensembles have a converter gap, recorded. */
const MODELS = [
  {
    name: 'rf',
    about: 'random forest, 60 trees, ZipMap in the file',
    spec: WEATHER_SPEC,
    zipMap: true,
    linear: false,
  },
  { name: 'gb', about: 'gradient boosting', spec: WEATHER_SPEC, zipMap: false, linear: false },
  {
    name: 'lr',
    about: 'logistic regression, one-hot categoricals',
    spec: WEATHER_SPEC,
    zipMap: false,
    linear: true,
  },
  {
    name: 'tensor',
    about: 'numeric-only, one float tensor input',
    spec: NUMERIC_SPEC,
    zipMap: false,
    linear: true,
  },
] as const;

/** Registers the file as a version the way an adopted champion is kept: blob plus artifact document. */
async function storeVersion(
  modelId: string,
  spec: typeof WEATHER_SPEC,
  bytes: Buffer,
  artifact: OnnxArtifact,
) {
  await upsertModel(pool, ModelDefinition.parse({ modelId, labelSet: LABELS, features: spec }));
  const sha256 = await putBlob(pool, bytes, 'application/onnx');
  expect(sha256).toBe(artifact.sha256);
  const version = await insertModelVersion(pool, {
    modelId,
    idempotencyKey: `${modelId}:adopted`,
    status: 'champion',
    datasetId: null,
    cycleId: null,
    configHash: sha256,
    codeVersion: 'onnx-equivalence-test',
    artifact: canonicalJson(artifact),
    artifactSha256: sha256,
    metrics: {},
  });
  return getModelVersion(pool, modelId, version);
}

describe.each(MODELS)('$name ($about)', ({ name, spec, zipMap, linear }) => {
  it('Node equals onnxruntime in Python within 1e-5, adopted and scored from the registry; the gap to scikit-learn is recorded', async () => {
    const [bytes, doc] = await Promise.all([fx.bytes(name), fx.doc(name)]);
    const original = doc.sklearn.map((row) => Object.fromEntries(doc.classes.map((c, j) => [c, row[j]!])));
    const adopted = await adoptOnnx(bytes, spec, LABELS, doc.rows, { producer: 'skl2onnx 1.20.0', original });
    expect(adopted.artifact.classes).toEqual(doc.classes);
    expect(adopted.artifact.outputs.zipMap).toBe(zipMap);
    expect(adopted.artifact.inputs.mode).toBe(name === 'tensor' ? 'tensor' : 'columns');
    expect(adopted.predictions).toHaveLength(doc.rows.length);

    const adoptedProbs = adopted.predictions.map((p) => p.probabilities);
    const nodeVsPython = maxAbsDiff(adoptedProbs, doc.onnxruntime, doc.classes);

    const stored = await storeVersion(`onnx_${name}`, spec, bytes, adopted.artifact);
    const served = await scoreRows(pool, stored.artifact, doc.rows);
    const storedVsPython = maxAbsDiff(
      served.map((p) => p.probabilities),
      doc.onnxruntime,
      doc.classes,
    );
    const nodeVsSklearn = maxAbsDiff(adoptedProbs, doc.sklearn, doc.classes);
    measured[name] = {
      'adopted vs ORT-Python': nodeVsPython,
      'stored vs ORT-Python': storedVsPython,
      'Node vs scikit-learn': nodeVsSklearn,
      'recorded converter gap': (stored.artifact as OnnxArtifact).source.converterGap,
    };

    expect(nodeVsPython).toBeLessThan(1e-5);
    expect(storedVsPython).toBeLessThan(1e-5);
    // One runtime, one file: the registry path gives the very same predictions as adoption did.
    expect(served).toEqual(adopted.predictions);
    expect(served.map((p) => p.label)).toEqual(
      doc.onnxruntime.map((row) => doc.classes[row.findIndex((p) => p >= Math.max(...row) - 1e-6)]),
    );
    // The converter's gap, kept with the version, is the largest |Δp| against scikit-learn.
    const gap = (stored.artifact as OnnxArtifact).source.converterGap;
    expect(gap).toBe(nodeVsSklearn);
    expect(gap).toBeGreaterThan(0);
    if (linear) expect(nodeVsSklearn).toBeLessThan(1e-5);
  });
});

/** Only the features the model has (the gateway refuses others). */
const pick = (features: Features, spec: typeof WEATHER_SPEC): Features =>
  Object.fromEntries([...spec.numeric, ...spec.categorical].map((f) => [f, features[f]!]));

describe('through the gateway', () => {
  it.each([
    { name: 'rf', spec: WEATHER_SPEC },
    { name: 'tensor', spec: NUMERIC_SPEC },
  ])(
    'an adopted ONNX champion ($name) answers POST /predict with the probabilities onnxruntime gives in Python',
    async ({ name, spec }) => {
      const modelId = `onnx_gateway_${name}`;
      const [bytes, doc, weather] = await Promise.all([fx.bytes(name), fx.doc(name), loadWeather()]);
      // The champion as given (no training): the 2012-2014 data is its reference.
      const reference = weather
        .filter((r) => r.date < '2015-01-01')
        .map((r) => ({ recordKey: r.recordKey, ts: r.ts, features: pick(r.features, spec), label: r.label }));
      const def = ModelDefinition.parse({ modelId, labelSet: LABELS, features: spec });
      const registered = await registerModelWithChampion(pool, def, reference, {
        onnx: { bytes, producer: `${name}.onnx` },
      });
      expect(registered.version).toBe(1);
      gateway ??= await startGateway(pool);

      const answers: { version: number; label: string; probabilities: Record<string, number> }[] = [];
      for (const [i, row] of doc.rows.entries()) {
        const res = await fetch(`${gateway.url}/v1/models/${modelId}/predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ requestId: `holdout-${i}`, features: pick(row, spec) }),
        });
        expect(res.status).toBe(200);
        answers.push((await res.json()) as (typeof answers)[number]);
      }
      const gatewayVsPython = maxAbsDiff(
        answers.map((a) => a.probabilities),
        doc.onnxruntime,
        doc.classes,
      );
      measured[`${name} via gateway`] = { 'gateway vs ORT-Python': gatewayVsPython };
      expect(gatewayVsPython).toBeLessThan(1e-5);
      expect(answers.every((a) => a.version === 1)).toBe(true);
      // The label is the most probable class; probabilities within 1e-6 are a tie, won by the first class.
      // A forest's probabilities are k/60 and often tie exactly, but one row alone and a batch sum the
      // trees in a different order (the last float bit differs): the label must not depend on that.
      const ties = doc.onnxruntime.filter((row) => {
        const [first, second] = [...row].sort((a, b) => b - a);
        return first! - second! <= 1e-6;
      }).length;
      measured[`${name} via gateway`]!['rows with a tie'] = ties;
      expect(answers.map((a) => a.label)).toEqual(
        doc.onnxruntime.map((row) => doc.classes[row.findIndex((p) => p >= Math.max(...row) - 1e-6)]),
      );
    },
  );
});
