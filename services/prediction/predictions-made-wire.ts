/**
 * PredictionsMade written straight to protobuf wire format. The reflective `toBinary` of
 * @bufbuild/protobuf walks the schema field by field for every prediction and every one of its
 * 25 features; measured under Predict load, encoding these events took about a third of the
 * prediction service's CPU, more than serving the predictions. This writer emits the same
 * message (events.proto: PredictionsMade, PredictionMade, market.v1.Date, google.protobuf.Timestamp)
 * field by field with {@link WireWriter}; its test decodes what it writes with the generated schema
 * and compares it with `toBinary`'s output.
 *
 * A PredictionsMade is a sequence of its predictions (field 1, repeated), so an event can be written
 * one prediction at a time as they are served ({@link writePredictionMade}), and its bytes are ready
 * when it is published.
 */
import type { Prediction } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { WireWriter } from './wire-writer.js';

/** One served prediction as PredictionsMade carries it. */
export interface MadeEntry {
  prediction: Prediction;
  /** Time from the request's arrival to its answer, in ms. */
  latencyMs: number;
  /** The feature vector the model was given. */
  features: readonly number[];
  /** A shadow model's prediction, never answered (field 14). */
  shadow?: boolean;
}

/**
 * Appends one PredictionMade (field 1 of PredictionsMade) for `entry`, stamped with `instanceId`.
 * @param now the occurred_at of a prediction that carries no predicted_at (epoch ms).
 */
export function writePredictionMade(w: WireWriter, entry: MadeEntry, instanceId: string, now = Date.now()): void {
  const p = entry.prediction;
  const made = w.begin(1);
  w.string(1, p.predictionId);
  w.string(2, p.modelName);
  w.int32(3, p.modelVersion);
  w.string(4, p.symbol);
  w.date(5, p.featureDate);
  w.double(6, p.predictedReturn);
  w.double(7, p.predictedClose);
  w.double(8, p.baseClose);
  w.double(9, entry.latencyMs);
  w.bool(10, p.degraded);
  w.string(11, instanceId);
  w.timestamp(12, p.predictedAt ?? { seconds: BigInt(Math.floor(now / 1000)), nanos: (now % 1000) * 1_000_000 });
  w.doubles(13, entry.features);
  w.bool(14, entry.shadow === true);
  w.end(made);
}

/** The wire bytes of a PredictionsMade holding `entries`; `now` as in {@link writePredictionMade}. */
export function encodePredictionsMade(entries: readonly MadeEntry[], instanceId: string, now = Date.now()): Uint8Array {
  const w = new WireWriter();
  for (const entry of entries) writePredictionMade(w, entry, instanceId, now);
  return w.bytes();
}
