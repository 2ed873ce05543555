/**
 * PredictResponse written straight to protobuf wire format, for Predict's answer. The reflective
 * `toBinary` of @bufbuild/protobuf walks the schema field by field for each of the 14 fields of a
 * Prediction and builds its output in chunks; under Predict load that, with the garbage it leaves,
 * was a visible share of the service's CPU per call beside gRPC itself. This writer fills one
 * buffer with {@link WireWriter}; its test decodes what it writes with the generated schema and
 * compares it with `toBinary`'s output.
 */
import type { PredictResponse } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { WireWriter } from './wire-writer.js';

/** Room for a usual answer: a Prediction takes about 150 bytes, more with a degraded detail. */
const USUAL_BYTES = 256;

/** The wire bytes of a PredictResponse, as `toBinary(PredictResponseSchema, response)` gives them. */
export function encodePredictResponse(response: PredictResponse): Uint8Array {
  const w = new WireWriter(USUAL_BYTES);
  const p = response.prediction;
  if (!p) return w.bytes();
  const prediction = w.begin(1);
  w.string(1, p.predictionId);
  w.string(2, p.symbol);
  w.date(3, p.featureDate);
  w.double(4, p.predictedReturn);
  w.double(5, p.predictedClose);
  w.double(6, p.baseClose);
  w.string(7, p.modelName);
  w.int32(8, p.modelVersion);
  w.bool(9, p.degraded);
  w.int32(10, p.degradedReason);
  w.string(11, p.degradedDetail);
  w.timestamp(12, p.predictedAt);
  w.bool(13, p.defaultModelUsed);
  w.string(14, p.modelAlias);
  w.end(prediction);
  return w.bytes();
}
