/**
 * ONNX export of the trained models, built with the ONNX IR messages generated from
 * proto/onnx/onnx.proto (protobuf-es, the mesh's one protobuf runtime), so the prediction service serves
 * them like any other ONNX model. Contract of every exported graph: one input `features`
 * (float32, [N, F], N symbolic) and one output `log_return` (float32, [N, 1]).
 *
 * Versions: IR 8 with ai.onnx opset 17 and ai.onnx.ml opset 3, the set ONNX 1.12/1.13 writes;
 * onnxruntime-node 1.30 loads it (checked by onnx-export.test.ts).
 */
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import {
  AttributeProto_AttributeType,
  type GraphProtoSchema,
  ModelProtoSchema,
  type TensorProtoSchema,
  TensorProto_DataType,
  type TensorShapeProto_DimensionSchema,
  type ValueInfoProtoSchema,
} from '../../../gen/onnx/onnx_pb.js';
import { InvalidTrainingDataError } from './dataset.js';
import type { GbrtModel } from './gbrt.js';
import type { RidgeModel } from './ridge.js';

/** ONNX IR version written into every model. */
export const ONNX_IR_VERSION = 8;
/** Default-domain (ai.onnx) opset: MatMul and Add are unchanged since 13. */
export const ONNX_OPSET = 17;
/** ai.onnx.ml opset: TreeEnsembleRegressor as in ml opset 3 (float attributes). */
export const ONNX_ML_OPSET = 3;
/** Name of the single graph input. */
export const INPUT_NAME = 'features';
/** Name of the single graph output. */
export const OUTPUT_NAME = 'log_return';
/** What every exported model predicts, also written to the `target` metadata entry. */
export const TARGET_DEFINITION = 'next-session log return ln(close_{t+1} / close_t)';

/** Options of {@link exportOnnx}. */
export interface OnnxExportOptions {
  /** Input width F; must equal the model's feature count (a guard against exporting for the wrong feature set). */
  featureCount: number;
  /** ModelProto.producer_name. Default `nepse-training`. */
  producer?: string;
  /** ModelProto.doc_string, free text for humans. */
  docString?: string;
  /** Feature names in input column order, stored as JSON in the `feature_names` metadata entry. */
  featureNames?: readonly string[];
  /** Extra metadata_props entries, e.g. `feature_set: 'ohlcv'`, `feature_set_version: '1'`. */
  metadata?: Readonly<Record<string, string>>;
}

/**
 * Serialises a ridge or boosted-tree model as an ONNX ModelProto.
 * Ridge becomes MatMul + Add with the standardisation folded in (weights w/σ, bias b − Σ w·μ/σ);
 * trees become one ai.onnx.ml TreeEnsembleRegressor (BRANCH_LEQ, SUM, base value = model base).
 *
 * @returns the ModelProto bytes, ready for `InferenceSession.create(bytes)` or the registry.
 */
export function exportOnnx(model: RidgeModel | GbrtModel, options: OnnxExportOptions): Uint8Array {
  const { featureCount, producer = 'nepse-training', docString = '', featureNames, metadata = {} } = options;
  if (featureCount !== model.featureCount) {
    throw new InvalidTrainingDataError(`featureCount ${featureCount} does not match the model's ${model.featureCount} features`);
  }
  if (featureNames && featureNames.length !== featureCount) {
    throw new InvalidTrainingDataError(`${featureNames.length} feature names for ${featureCount} features`);
  }
  const graph = model.kind === 'ridge' ? ridgeGraph(model) : treeGraph(model);
  const props: Record<string, string> = { model_kind: model.kind, target: TARGET_DEFINITION, ...metadata };
  if (featureNames) props.feature_names = JSON.stringify(featureNames);
  const message = create(ModelProtoSchema, {
    irVersion: BigInt(ONNX_IR_VERSION),
    opsetImport: [
      { domain: '', version: BigInt(ONNX_OPSET) },
      ...(model.kind === 'gbrt' ? [{ domain: 'ai.onnx.ml', version: BigInt(ONNX_ML_OPSET) }] : []),
    ],
    producerName: producer,
    docString,
    graph: {
      ...graph,
      input: [tensorInfo(INPUT_NAME, [symbolic('N'), sized(featureCount)])],
      output: [tensorInfo(OUTPUT_NAME, [symbolic('N'), sized(1)])],
    },
    metadataProps: Object.entries(props).map(([key, value]) => ({ key, value })),
  });
  return toBinary(ModelProtoSchema, message);
}

type GraphBody = Pick<MessageInitShape<typeof GraphProtoSchema>, 'name' | 'node' | 'initializer'>;
type Dimension = MessageInitShape<typeof TensorShapeProto_DimensionSchema>;

/** A dimension of a fixed size. */
const sized = (size: number): Dimension => ({ value: { case: 'dimValue', value: BigInt(size) } });
/** A dimension named, not sized: the batch size, fixed per call. */
const symbolic = (name: string): Dimension => ({ value: { case: 'dimParam', value: name } });

/** features·W + b with W = w/σ and b = intercept − Σ w·μ/σ, folded in float64 and stored as float32. */
function ridgeGraph(model: RidgeModel): GraphBody {
  const f = model.featureCount;
  const weights = new Float32Array(f);
  let bias = model.intercept;
  for (let j = 0; j < f; j++) {
    const w = model.weights[j] / model.scales[j];
    weights[j] = w;
    bias -= w * model.means[j];
  }
  return {
    name: 'ridge',
    initializer: [floatTensor('weights', [f, 1], weights), floatTensor('bias', [1], Float32Array.of(bias))],
    node: [
      { opType: 'MatMul', name: 'matmul', input: [INPUT_NAME, 'weights'], output: ['linear'] },
      { opType: 'Add', name: 'add_bias', input: ['linear', 'bias'], output: [OUTPUT_NAME] },
    ],
  };
}

/** One TreeEnsembleRegressor holding every tree; node ids are the trees' own (root 0). */
function treeGraph(model: GbrtModel): GraphBody {
  const nodes = {
    treeIds: [] as number[],
    nodeIds: [] as number[],
    featureIds: [] as number[],
    modes: [] as Uint8Array[],
    values: [] as number[],
    trueIds: [] as number[],
    falseIds: [] as number[],
  };
  const targets = { treeIds: [] as number[], nodeIds: [] as number[], ids: [] as number[], weights: [] as number[] };
  const branch = new TextEncoder().encode('BRANCH_LEQ');
  const leaf = new TextEncoder().encode('LEAF');
  model.trees.forEach((tree, t) => {
    for (let k = 0; k < tree.isLeaf.length; k++) {
      const isLeaf = tree.isLeaf[k];
      nodes.treeIds.push(t);
      nodes.nodeIds.push(k);
      nodes.featureIds.push(isLeaf ? 0 : tree.featureIds[k]);
      nodes.modes.push(isLeaf ? leaf : branch);
      nodes.values.push(isLeaf ? 0 : tree.thresholds[k]);
      // onnxruntime ignores the child ids of a leaf but still range-checks them; 0 is always valid.
      nodes.trueIds.push(isLeaf ? 0 : tree.left[k]);
      nodes.falseIds.push(isLeaf ? 0 : tree.right[k]);
      if (isLeaf) {
        targets.treeIds.push(t);
        targets.nodeIds.push(k);
        targets.ids.push(0);
        targets.weights.push(tree.values[k]);
      }
    }
  });
  if (model.trees.length === 0) {
    // A tree-less ensemble is legal for us (predicts the base) but not for the operator: add one leaf.
    nodes.treeIds.push(0);
    nodes.nodeIds.push(0);
    nodes.featureIds.push(0);
    nodes.modes.push(leaf);
    nodes.values.push(0);
    nodes.trueIds.push(0);
    nodes.falseIds.push(0);
    targets.treeIds.push(0);
    targets.nodeIds.push(0);
    targets.ids.push(0);
    targets.weights.push(0);
  }
  const { INTS, FLOATS, STRINGS, INT, STRING } = AttributeProto_AttributeType;
  const text = (s: string) => new TextEncoder().encode(s);
  // int64 attributes are bigint in protobuf-es.
  const ints = (values: number[]) => values.map(BigInt);
  return {
    name: 'gbrt',
    node: [
      {
        opType: 'TreeEnsembleRegressor',
        domain: 'ai.onnx.ml',
        name: 'trees',
        input: [INPUT_NAME],
        output: [OUTPUT_NAME],
        attribute: [
          { name: 'nodes_treeids', type: INTS, ints: ints(nodes.treeIds) },
          { name: 'nodes_nodeids', type: INTS, ints: ints(nodes.nodeIds) },
          { name: 'nodes_featureids', type: INTS, ints: ints(nodes.featureIds) },
          { name: 'nodes_modes', type: STRINGS, strings: nodes.modes },
          { name: 'nodes_values', type: FLOATS, floats: nodes.values },
          { name: 'nodes_truenodeids', type: INTS, ints: ints(nodes.trueIds) },
          { name: 'nodes_falsenodeids', type: INTS, ints: ints(nodes.falseIds) },
          { name: 'target_treeids', type: INTS, ints: ints(targets.treeIds) },
          { name: 'target_nodeids', type: INTS, ints: ints(targets.nodeIds) },
          { name: 'target_ids', type: INTS, ints: ints(targets.ids) },
          { name: 'target_weights', type: FLOATS, floats: targets.weights },
          { name: 'n_targets', type: INT, i: 1n },
          { name: 'base_values', type: FLOATS, floats: [model.base] },
          { name: 'aggregate_function', type: STRING, s: text('SUM') },
          { name: 'post_transform', type: STRING, s: text('NONE') },
        ],
      },
    ],
  };
}

/** A float32 tensor value-info with the given dims (a dimParam makes the dimension symbolic). */
function tensorInfo(name: string, dims: Dimension[]): MessageInitShape<typeof ValueInfoProtoSchema> {
  return { name, type: { value: { case: 'tensorType', value: { elemType: TensorProto_DataType.FLOAT, shape: { dim: dims } } } } };
}

/** A float32 initializer; raw_data is little-endian by the ONNX spec, whatever the host. */
function floatTensor(name: string, dims: number[], values: Float32Array): MessageInitShape<typeof TensorProtoSchema> {
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return { name, dims: dims.map(BigInt), dataType: TensorProto_DataType.FLOAT, rawData: raw };
}
