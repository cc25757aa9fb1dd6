/**
 * What Remedy needs from an ONNX file's graph that the runtime does not say: the class labels a
 * classifier was exported with, and the ZipMap node (a sequence of maps, which onnxruntime-node cannot
 * return) replaced by the probability tensor it wraps.
 *
 * Works on the protobuf wire format directly: every field is copied byte for byte except the ones
 * changed, so nothing an unknown opset or a newer ONNX version adds is lost. Field numbers are ONNX's
 * (onnx.proto): ModelProto.graph = 7; GraphProto.node = 1, output = 12; NodeProto.input = 1,
 * output = 2, op_type = 4, attribute = 5; AttributeProto.name = 1, ints = 8, strings = 9;
 * ValueInfoProto.name = 1, type = 2.
 */
import protobuf from 'protobufjs/minimal.js';

const { Reader, Writer } = protobuf;

interface Field {
  no: number;
  wire: number;
  /** The whole field, tag included. */
  start: number;
  end: number;
  /** For length-delimited fields: the payload. */
  data?: Uint8Array;
  /** For varint fields. */
  varint?: number;
}

function fields(buf: Uint8Array): Field[] {
  const r = Reader.create(buf);
  const out: Field[] = [];
  while (r.pos < r.len) {
    const start = r.pos;
    const tag = r.uint32();
    const no = tag >>> 3;
    const wire = tag & 7;
    if (no === 0) throw new OnnxFormatError('not an ONNX model: a protobuf field number 0');
    if (wire === 2) {
      const len = r.uint32();
      if (r.pos + len > r.len) throw new OnnxFormatError('not an ONNX model: a field runs past the end');
      out.push({ no, wire, start, end: r.pos + len, data: buf.subarray(r.pos, r.pos + len) });
      r.skip(len);
    } else if (wire === 0) {
      const v = r.int64();
      out.push({ no, wire, start, end: r.pos, varint: longToNumber(v) });
    } else {
      r.skipType(wire);
      out.push({ no, wire, start, end: r.pos });
    }
  }
  return out;
}

/** protobufjs gives 64-bit integers as numbers, or as Long objects when long.js is installed. */
const longToNumber = (v: number | { low: number; high: number }): number =>
  typeof v === 'number' ? v : v.high * 2 ** 32 + (v.low >>> 0);

const text = (b: Uint8Array | undefined): string => (b ? new TextDecoder().decode(b) : '');

export class OnnxFormatError extends Error {
  override name = 'OnnxFormatError';
}

export interface GraphNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  /** Class labels from classlabels_strings / classlabels_int64s / classlabels_ints, when the node has them. */
  classLabels: string[] | null;
}

function readNode(data: Uint8Array): GraphNode {
  const node: GraphNode = { opType: '', inputs: [], outputs: [], classLabels: null };
  for (const f of fields(data)) {
    if (f.no === 1 && f.data) node.inputs.push(text(f.data));
    else if (f.no === 2 && f.data) node.outputs.push(text(f.data));
    else if (f.no === 4 && f.data) node.opType = text(f.data);
    else if (f.no === 5 && f.data) {
      const labels = readClassLabels(f.data);
      if (labels) node.classLabels = labels;
    }
  }
  return node;
}

function readClassLabels(attribute: Uint8Array): string[] | null {
  const parts = fields(attribute);
  const name = text(parts.find((f) => f.no === 1)?.data);
  if (name === 'classlabels_strings') return parts.filter((f) => f.no === 9).map((f) => text(f.data));
  // ZipMap and the tree ensembles say classlabels_int64s; LinearClassifier and SVMClassifier, classlabels_ints.
  if (name !== 'classlabels_int64s' && name !== 'classlabels_ints') return null;
  const ints: string[] = [];
  for (const f of parts.filter((p) => p.no === 8)) {
    if (f.varint !== undefined) ints.push(String(f.varint));
    else if (f.data) {
      // packed
      const r = Reader.create(f.data);
      while (r.pos < r.len) ints.push(String(longToNumber(r.int64())));
    }
  }
  return ints;
}

function graphOf(model: Uint8Array): { graph: Field; all: Field[] } {
  let all: Field[];
  try {
    all = fields(model);
  } catch (err) {
    if (err instanceof OnnxFormatError) throw err;
    throw new OnnxFormatError(`not an ONNX model: ${(err as Error).message}`);
  }
  const graph = all.find((f) => f.no === 7 && f.data);
  if (!graph?.data) throw new OnnxFormatError('not an ONNX model: it has no graph');
  return { graph, all };
}

export interface GraphSummary {
  nodes: GraphNode[];
  /** Names of the graph's outputs, in order. */
  outputs: string[];
  /** The ZipMap node, if the classifier's probabilities are wrapped in one. */
  zipMap: GraphNode | null;
  /** The class labels the classifier was exported with (ZipMap's, else the first classifier node's). */
  classLabels: string[] | null;
}

export function summarizeGraph(model: Uint8Array): GraphSummary {
  const { graph } = graphOf(model);
  const parts = fields(graph.data!);
  const nodes = parts.filter((f) => f.no === 1).map((f) => readNode(f.data!));
  const outputs = parts
    .filter((f) => f.no === 12)
    .map((f) => text(fields(f.data!).find((g) => g.no === 1)?.data));
  const zipMap = nodes.find((n) => n.opType === 'ZipMap') ?? null;
  const classLabels = zipMap?.classLabels ?? nodes.find((n) => n.classLabels)?.classLabels ?? null;
  return { nodes, outputs, zipMap, classLabels };
}

/** A ValueInfoProto for a float tensor [N, width]. */
function floatMatrixInfo(name: string, width: number): Uint8Array {
  const dimN = Writer.create()
    .uint32((2 << 3) | 2)
    .string('N')
    .finish();
  const dimC = Writer.create()
    .uint32((1 << 3) | 0)
    .int64(width)
    .finish();
  const shape = Writer.create()
    .uint32((1 << 3) | 2)
    .bytes(dimN)
    .uint32((1 << 3) | 2)
    .bytes(dimC)
    .finish();
  const tensor = Writer.create()
    .uint32((1 << 3) | 0)
    .int32(1) // FLOAT
    .uint32((2 << 3) | 2)
    .bytes(shape)
    .finish();
  const type = Writer.create()
    .uint32((1 << 3) | 2)
    .bytes(tensor)
    .finish();
  return Writer.create()
    .uint32((1 << 3) | 2)
    .string(name)
    .uint32((2 << 3) | 2)
    .bytes(type)
    .finish();
}

function lengthDelimited(no: number, payload: Uint8Array): Uint8Array {
  return Writer.create()
    .uint32((no << 3) | 2)
    .bytes(payload)
    .finish();
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * The same model with its ZipMap removed: the ZipMap's output becomes the probability tensor it reads
 * (float [N, classes]). Returns the bytes unchanged when there is no ZipMap.
 */
export function withoutZipMap(model: Uint8Array): Uint8Array {
  const summary = summarizeGraph(model);
  const zip = summary.zipMap;
  if (!zip) return model;
  const probabilities = zip.inputs[0];
  const wrapped = zip.outputs[0];
  if (probabilities === undefined || wrapped === undefined || !zip.classLabels)
    throw new OnnxFormatError('the ZipMap node has no input, output or class labels');
  const { graph, all } = graphOf(model);
  const graphBytes = graph.data!;
  const chunks: Uint8Array[] = [];
  for (const f of fields(graphBytes)) {
    const raw = graphBytes.subarray(f.start, f.end);
    if (f.no === 1 && readNode(f.data!).opType === 'ZipMap') continue;
    if (f.no === 12 && text(fields(f.data!).find((g) => g.no === 1)?.data) === wrapped) {
      chunks.push(lengthDelimited(12, floatMatrixInfo(probabilities, zip.classLabels.length)));
      continue;
    }
    chunks.push(raw);
  }
  const newGraph = concat(chunks);
  return concat(
    all.map((f) => (f === graph ? lengthDelimited(7, newGraph) : model.subarray(f.start, f.end))),
  );
}
