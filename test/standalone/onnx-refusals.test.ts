/**
 * ONNX files Remedy must refuse when a model is adopted or a version added: each bad file is turned away
 * by adoptOnnx with a message that names what is wrong. The bad files are real: built by
 * test/fixtures/onnx_models.py with scikit-learn, skl2onnx and onnx.helper (once, in beforeAll).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FeatureSpec, Features } from '../../core/schemas.js';
import { weatherModel } from '../../dev/weather.js';
import { adoptOnnx } from '../../scoring/adopt.js';
import { OnnxModelError } from '../../scoring/onnx.js';
import {
  buildOnnxFixtures,
  LABELS,
  NUMERIC_SPEC,
  WEATHER_SPEC,
  type OnnxFixtures,
} from '../python/onnx-fixtures.js';

let fx: OnnxFixtures;
let rows: Features[];

beforeAll(async () => {
  fx = await buildOnnxFixtures();
  rows = (await fx.doc('lr')).rows;
}, 600_000); // the first run creates the Python environment (pip install), which can take minutes

afterAll(async () => {
  await fx?.remove();
});

async function refusal(
  bytes: Uint8Array,
  spec: FeatureSpec = WEATHER_SPEC,
  labels: readonly string[] = LABELS,
  hints?: Parameters<typeof adoptOnnx>[4]['hints'],
): Promise<OnnxModelError> {
  const outcome = await adoptOnnx(bytes, spec, labels, rows, {
    producer: 'test',
    ...(hints ? { hints } : {}),
  })
    .then(() => null)
    .catch((err: unknown) => err);
  expect(outcome, 'the file was accepted').toBeInstanceOf(OnnxModelError);
  return outcome as OnnxModelError;
}

/** Deterministic bytes that are not a protobuf (a linear congruential generator, seeded). */
function noise(length: number, seed: number): Uint8Array {
  let s = seed;
  return Uint8Array.from({ length }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s >>> 24;
  });
}

describe('files that are not ONNX', () => {
  it('random bytes', async () => {
    for (const seed of [1, 2, 3]) {
      const err = await refusal(noise(4096, seed));
      expect(err.message).toMatch(/^not an ONNX model: /);
      expect(err.message).toContain('Export the model with an ONNX converter');
    }
  });

  it('a JSON file (a model definition given where the .onnx file goes)', async () => {
    const json = new TextEncoder().encode(JSON.stringify(weatherModel('weather'), null, 2));
    expect((await refusal(json)).message).toMatch(/^not an ONNX model: /);
  });

  it('an empty file', async () => {
    expect((await refusal(new Uint8Array(0))).message).toMatch(/^not an ONNX model: it has no graph/);
  });

  it('a real file cut short (an interrupted copy)', async () => {
    for (const name of ['rf', 'lr']) {
      const whole = await fx.bytes(name);
      for (const keep of [0.5, 0.9]) {
        const err = await refusal(whole.subarray(0, Math.floor(whole.length * keep)));
        expect(err.message).toMatch(/^not an ONNX model: a field runs past the end/);
      }
    }
  });
});

describe('inputs that do not match the features', () => {
  it('an input named after no feature', async () => {
    const err = await refusal(await fx.bytes('bad_input_x'));
    expect(err.message).toMatch(/^graph input "x" matches no feature of the model \(precipitation, /);
  });

  it('a categorical feature exported as a float input', async () => {
    const err = await refusal(await fx.bytes('bad_location_float'));
    expect(err.message).toBe(
      'graph input "location" is a float32 input, but "location" is a categorical feature: export it as a string tensor',
    );
  });

  it('a single tensor whose width is not the layout the definition describes', async () => {
    const tensor = await fx.bytes('tensor');
    // Five numeric features against the file's six columns: by default, and with an explicit layout.
    const five = { numeric: NUMERIC_SPEC.numeric.slice(0, 5), categorical: [] };
    expect((await refusal(tensor, five)).message).toBe(
      'graph input "float_input" has 6 columns, but onnx.tensor.layout describes 5',
    );
    const withLocation = await refusal(tensor, WEATHER_SPEC, LABELS, {
      tensor: {
        layout: [
          ...NUMERIC_SPEC.numeric.map((feature) => ({ feature })),
          { feature: 'location', oneHot: ['New York', 'Seattle'] },
        ],
      },
    });
    expect(withLocation.message).toBe(
      'graph input "float_input" has 6 columns, but onnx.tensor.layout describes 8',
    );
  });
});

describe('outputs that are not class probabilities', () => {
  it("a regressor's output", async () => {
    const err = await refusal(await fx.bytes('bad_regressor'));
    expect(err.message).toMatch(/^output "variable" is one number per row, not a probability per class/);
  });

  it('raw scores whose rows do not sum to 1', async () => {
    const err = await refusal(await fx.bytes('bad_scores'), NUMERIC_SPEC);
    expect(err.message).toMatch(
      /^output "scores" is not class probabilities: row 1 sums to -?\d+\.\d{4}\. Export probabilities \(a softmax\)/,
    );
  });

  it('a model that yields NaN (Log of a negative temperature)', async () => {
    const err = await refusal(await fx.bytes('bad_nan'), NUMERIC_SPEC);
    expect(err.message).toMatch(
      /^the model gave NaN as a probability for row \d+ \(\{"location":.*\}\): it yields NaN or infinity on these inputs$/,
    );
  });
});

describe('classes outside the label set', () => {
  it('a classifier trained on class codes 0..4', async () => {
    const err = await refusal(await fx.bytes('bad_int_classes'), NUMERIC_SPEC);
    expect(err.message).toMatch(
      /^the model predicts "0", "1", "2", "3", "4", which the label set \(drizzle, fog, rain, snow, sun\) does not have/,
    );
  });

  it('a label the model definition does not list', async () => {
    const err = await refusal(await fx.bytes('gb'), WEATHER_SPEC, ['drizzle', 'fog', 'rain', 'sun']);
    expect(err.message).toMatch(
      /^the model predicts "snow", which the label set \(drizzle, fog, rain, sun\)/,
    );
  });
});
