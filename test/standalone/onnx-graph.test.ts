/**
 * scoring/onnx-graph.ts on real skl2onnx files (test/fixtures/onnx_models.py): the class labels read
 * from the graph, and ZipMap removal: the stripped graph outputs a float [N, C] probability tensor that
 * onnxruntime-node serves and the onnx package's full checker accepts, with every other byte of the
 * file unchanged; a file without ZipMap is returned as it is.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ort from 'onnxruntime-node';
import protobuf from 'protobufjs/minimal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { summarizeGraph, withoutZipMap } from '../../scoring/onnx-graph.js';
import { buildOnnxFixtures, LABELS, type OnnxFixtures } from '../python/onnx-fixtures.js';

let fx: OnnxFixtures;

beforeAll(async () => {
  fx = await buildOnnxFixtures();
}, 600_000); // the first run creates the Python environment (pip install), which can take minutes

afterAll(async () => {
  await fx?.remove();
});

/** A protobuf message's top-level fields, each as its number and its bytes (tag included). */
function wireFields(buf: Uint8Array): { no: number; raw: Uint8Array; payload: Uint8Array | null }[] {
  const r = protobuf.Reader.create(buf);
  const out: { no: number; raw: Uint8Array; payload: Uint8Array | null }[] = [];
  while (r.pos < r.len) {
    const start = r.pos;
    const tag = r.uint32();
    let payload: Uint8Array | null = null;
    if ((tag & 7) === 2) {
      const len = r.uint32();
      payload = buf.subarray(r.pos, r.pos + len);
      r.skip(len);
    } else r.skipType(tag & 7);
    out.push({ no: tag >>> 3, raw: buf.subarray(start, r.pos), payload });
  }
  return out;
}

const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;
const ascii = (b: Uint8Array) => Buffer.from(b).toString('latin1');

describe('class labels', () => {
  it('are read from the ZipMap of a forest exported with it', async () => {
    const summary = summarizeGraph(await fx.bytes('rf'));
    expect(summary.zipMap?.opType).toBe('ZipMap');
    expect(summary.classLabels).toEqual((await fx.doc('rf')).classes);
    expect(summary.classLabels).toEqual(LABELS);
  });

  it('are read from the classifier node when there is no ZipMap (trees, linear, integer codes)', async () => {
    for (const name of ['gb', 'lr', 'tensor']) {
      const summary = summarizeGraph(await fx.bytes(name));
      expect(summary.zipMap, name).toBeNull();
      expect(summary.classLabels, name).toEqual((await fx.doc(name)).classes);
    }
    expect(summarizeGraph(await fx.bytes('bad_int_classes')).classLabels).toEqual(['0', '1', '2', '3', '4']);
    expect(summarizeGraph(await fx.bytes('bad_regressor')).classLabels).toBeNull();
  });
});

describe('ZipMap removal', () => {
  it("makes the ZipMap's output the float [N, classes] tensor it wraps, and onnxruntime-node serves it", async () => {
    const original = await fx.bytes('rf');
    const doc = await fx.doc('rf');
    // As given, onnxruntime-node cannot return a sequence of maps.
    const raw = await ort.InferenceSession.create(original);
    await expect(raw.run(feeds(doc.rows.slice(0, 3)), ['output_probability'])).rejects.toThrow();

    const wrapped = summarizeGraph(original).zipMap!.inputs[0]!;
    const session = await ort.InferenceSession.create(withoutZipMap(original));
    expect(session.outputNames).not.toContain('output_probability');
    const i = session.outputNames.indexOf(wrapped);
    expect(i).toBeGreaterThanOrEqual(0);
    expect(session.outputMetadata[i]).toMatchObject({ isTensor: true, type: 'float32', shape: ['N', 5] });
    const out = (await session.run(feeds(doc.rows), [wrapped]))[wrapped]!;
    expect(out.type).toBe('float32');
    expect(out.dims).toEqual([doc.rows.length, 5]);
    const data = out.data as Float32Array;
    let max = 0;
    doc.onnxruntime.forEach((row, r) =>
      row.forEach((p, c) => (max = Math.max(max, Math.abs(p - data[r * 5 + c]!)))),
    );
    expect(max).toBeLessThan(1e-6);
  });

  it('changes nothing else: every other field of the file and of the graph is the same bytes', async () => {
    const original = await fx.bytes('rf');
    const stripped = withoutZipMap(original);
    const [a, b] = [wireFields(original), wireFields(stripped)];
    expect(b.map((f) => f.no)).toEqual(a.map((f) => f.no));
    a.forEach((f, k) => {
      if (f.no !== 7) expect(same(f.raw, b[k]!.raw), `top-level field ${f.no}`).toBe(true);
    });
    const graphA = wireFields(a.find((f) => f.no === 7)!.payload!);
    const graphB = wireFields(b.find((f) => f.no === 7)!.payload!);
    // One node gone (the ZipMap), one graph output rewritten; every other field identical and in order.
    const zipAt = graphA.findIndex((f) => f.no === 1 && ascii(f.raw).includes('ZipMap'));
    expect(zipAt).toBeGreaterThanOrEqual(0);
    const kept = graphA.filter((_, k) => k !== zipAt);
    expect(graphB.map((f) => f.no)).toEqual(kept.map((f) => f.no));
    const changed = kept.flatMap((f, k) =>
      same(f.raw, graphB[k]!.raw) ? [] : [{ before: f, after: graphB[k]! }],
    );
    expect(changed).toHaveLength(1);
    expect(changed[0]!.before.no).toBe(12);
    expect(ascii(changed[0]!.before.raw)).toContain('output_probability');
    const wrapped = summarizeGraph(original).zipMap!.inputs[0]!;
    expect(ascii(changed[0]!.after.raw)).toContain(wrapped);
    expect(ascii(changed[0]!.after.raw)).not.toContain('output_probability');
    // The onnx package's own checker, with shape inference, accepts the stripped file.
    const path = join(fx.dir, 'rf-stripped.onnx');
    await writeFile(path, stripped);
    const { stdout } = await promisify(execFile)(fx.python, [
      '-c',
      'import onnx, sys; m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); ' +
        'print(sorted(n.op_type for n in m.graph.node if n.op_type == "ZipMap"), [o.name for o in m.graph.output])',
      path,
    ]);
    expect(stdout.trim()).toBe(`[] ['output_label', '${wrapped}']`);
  });

  it('returns a file without ZipMap as it is', async () => {
    for (const name of ['gb', 'lr', 'tensor', 'bad_regressor']) {
      const bytes = await fx.bytes(name);
      const out = withoutZipMap(bytes);
      expect(out, name).toBe(bytes);
    }
  });
});

function feeds(rows: Record<string, unknown>[]): Record<string, ort.Tensor> {
  const n = rows.length;
  const out: Record<string, ort.Tensor> = {};
  for (const f of ['precipitation', 'temp_max', 'temp_min', 'wind', 'season_sin', 'season_cos'])
    out[f] = new ort.Tensor('float32', Float32Array.from(rows.map((r) => r[f] as number)), [n, 1]);
  out['location'] = new ort.Tensor(
    'string',
    rows.map((r) => String(r['location'])),
    [n, 1],
  );
  return out;
}
