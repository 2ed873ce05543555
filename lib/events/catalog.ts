import {
  AlertRaisedSchema,
  BarsIngestedSchema,
  FeaturesComputedSchema,
  ModelActivationSchema,
  ModelAliasSetSchema,
  ModelPromotedSchema,
  ModelRegisteredSchema,
  ModelRolledBackSchema,
  ModelWithdrawnSchema,
  PredictionsMadeSchema,
  TrainingFinishedSchema,
} from '../../gen/nepse/events/v1/events_pb.js';
import { defineEvent } from './event-type.js';

/**
 * Every event of the mesh, each tied to its protobuf payload (docs/architecture.md says who
 * publishes and consumes each). Subjects are `nepse.v1.<name>.<SYMBOL or _>`; publishers and
 * consumers name events only through these.
 */
export const MeshEvents = {
  barsIngested: defineEvent({ name: 'bars.ingested', schema: BarsIngestedSchema }),
  featuresComputed: defineEvent({ name: 'features.computed', schema: FeaturesComputedSchema }),
  trainingFinished: defineEvent({ name: 'training.finished', schema: TrainingFinishedSchema }),
  modelRegistered: defineEvent({ name: 'models.registered', schema: ModelRegisteredSchema }),
  modelPromoted: defineEvent({ name: 'models.promoted', schema: ModelPromotedSchema }),
  modelActivation: defineEvent({ name: 'models.activation', schema: ModelActivationSchema }),
  modelRolledBack: defineEvent({ name: 'models.rolled_back', schema: ModelRolledBackSchema }),
  modelWithdrawn: defineEvent({ name: 'models.withdrawn', schema: ModelWithdrawnSchema }),
  modelAliasSet: defineEvent({ name: 'models.alias_set', schema: ModelAliasSetSchema }),
  predictionsMade: defineEvent({ name: 'predictions.made', schema: PredictionsMadeSchema }),
  alertRaised: defineEvent({ name: 'alerts.raised', schema: AlertRaisedSchema }),
} as const;
