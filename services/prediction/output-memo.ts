/**
 * The model output of each feature vector already scored, per loaded model: a prediction asked
 * again for the same input (a symbol's latest vector, until its next FeaturesComputed) answers
 * without another inference run. This is Triton's response cache, keyed by identity instead of a
 * hash of the input tensor.
 *
 * Why identity is a sound key: a vector the feature cache holds is never changed in place (a new
 * FeaturesComputed or answer replaces it with a new object), and neither is a loaded model (a new
 * version, or the same one loaded again, is a new object with a new session). So the pair names one
 * input to one session, and ONNX Runtime's CPU kernels give one output for one input. A vector
 * fetched for a single request (an `as_of` day, a miss) is a new object each time: it is scored
 * every time, as before.
 *
 * Why it pays: NEPSE vectors change once a trading day, and most Predicts ask for a symbol whose
 * vector has not moved since the last one. An inference run is the largest share of a Predict's
 * cost at low concurrency (about 60 µs of CPU for a one-row run here, against 10 µs in a tight
 * loop: its code and data are cold between requests), and a request that needs none also skips
 * the micro-batcher's event-loop turn.
 *
 * Memory: entries are held weakly, so they go with their vector or model and there is nothing to
 * evict. At most one number per (loaded model, cached vector): for 10,000 symbols and two served
 * versions, about 20,000 entries of well under 100 bytes each.
 */
import type { FeatureVector } from '../../gen/nepse/feature/v1/feature_pb.js';
import type { LoadedModel } from './model-cache.js';

/** Model outputs by (model, vector) identity. */
export class OutputMemo {
  private readonly byModel = new WeakMap<LoadedModel, WeakMap<FeatureVector, number>>();

  /** The output `model` gave for `vector`, if it has scored this very vector object. */
  get(model: LoadedModel, vector: FeatureVector): number | undefined {
    return this.byModel.get(model)?.get(vector);
  }

  /** Records the output `model` gave for `vector`. */
  set(model: LoadedModel, vector: FeatureVector, output: number): void {
    let outputs = this.byModel.get(model);
    if (!outputs) this.byModel.set(model, (outputs = new WeakMap()));
    outputs.set(vector, output);
  }
}
