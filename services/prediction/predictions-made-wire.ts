/**
 * PredictionsMade written straight to protobuf wire format. The reflective `toBinary` of
 * @bufbuild/protobuf walks the schema field by field for every prediction and every one of its
 * 25 features; measured under Predict load, encoding these events took about a third of the
 * prediction service's CPU, more than serving the predictions. This writer emits the same
 * message (events.proto: PredictionsMade, PredictionMade, market.v1.Date, google.protobuf.Timestamp)
 * field by field with BinaryWriter, skipping default values as proto3 does; its test decodes
 * what it writes with the generated schema and compares it with `toBinary`'s output.
 */
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import type { Prediction } from '../../gen/nepse/prediction/v1/prediction_pb.js';

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
 * The wire bytes of a PredictionsMade holding `entries`, each stamped with `instanceId`.
 * @param now the occurred_at of a prediction that carries no predicted_at (epoch ms).
 */
export function encodePredictionsMade(entries: readonly MadeEntry[], instanceId: string, now = Date.now()): Uint8Array {
  const w = new BinaryWriter();
  for (const { prediction: p, latencyMs, features, shadow } of entries) {
    w.tag(1, WireType.LengthDelimited).fork();
    if (p.predictionId !== '') w.tag(1, WireType.LengthDelimited).string(p.predictionId);
    if (p.modelName !== '') w.tag(2, WireType.LengthDelimited).string(p.modelName);
    if (p.modelVersion !== 0) w.tag(3, WireType.Varint).int32(p.modelVersion);
    if (p.symbol !== '') w.tag(4, WireType.LengthDelimited).string(p.symbol);
    const date = p.featureDate;
    if (date) {
      w.tag(5, WireType.LengthDelimited).fork();
      if (date.year !== 0) w.tag(1, WireType.Varint).int32(date.year);
      if (date.month !== 0) w.tag(2, WireType.Varint).int32(date.month);
      if (date.day !== 0) w.tag(3, WireType.Varint).int32(date.day);
      w.join();
    }
    double(w, 6, p.predictedReturn);
    double(w, 7, p.predictedClose);
    double(w, 8, p.baseClose);
    double(w, 9, latencyMs);
    if (p.degraded) w.tag(10, WireType.Varint).bool(true);
    if (instanceId !== '') w.tag(11, WireType.LengthDelimited).string(instanceId);
    timestamp(w, 12, p.predictedAt, now);
    if (features.length > 0) {
      w.tag(13, WireType.LengthDelimited).fork();
      for (let i = 0; i < features.length; i++) w.double(features[i]);
      w.join();
    }
    if (shadow) w.tag(14, WireType.Varint).bool(true);
    w.join();
  }
  return w.finish();
}

/** A proto3 double field: written unless it is 0, as toBinary does. */
function double(w: BinaryWriter, field: number, value: number): void {
  if (value !== 0) w.tag(field, WireType.Bit64).double(value);
}

function timestamp(w: BinaryWriter, field: number, at: Timestamp | undefined, nowMs: number): void {
  const seconds = at ? at.seconds : BigInt(Math.floor(nowMs / 1000));
  const nanos = at ? at.nanos : (nowMs % 1000) * 1_000_000;
  w.tag(field, WireType.LengthDelimited).fork();
  if (seconds !== 0n) w.tag(1, WireType.Varint).int64(seconds);
  if (nanos !== 0) w.tag(2, WireType.Varint).int32(nanos);
  w.join();
}
