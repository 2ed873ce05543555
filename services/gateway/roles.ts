/**
 * Roles and which role each public RPC needs: the gateway's whole authorisation policy in one
 * place. A role includes every role before it (viewer < operator < admin).
 */
import { Role } from '../../gen/nepse/gateway/v1/gateway_pb.js';

/** Role names as written in key files, JWT claims and messages. */
export const ROLE_NAMES = { [Role.VIEWER]: 'viewer', [Role.OPERATOR]: 'operator', [Role.ADMIN]: 'admin' } as const;

/** A role a caller can hold. */
export type GrantedRole = Role.VIEWER | Role.OPERATOR | Role.ADMIN;

/** The role named `name` (case-insensitive), or undefined for anything else. */
export function parseRole(name: unknown): GrantedRole | undefined {
  if (typeof name !== 'string') return undefined;
  const wanted = name.trim().toLowerCase();
  for (const [value, label] of Object.entries(ROLE_NAMES)) if (label === wanted) return Number(value) as GrantedRole;
  return undefined;
}

/** The name of a role, e.g. `operator`. */
export function roleName(role: GrantedRole): string {
  return ROLE_NAMES[role];
}

/** Whether `held` includes `needed`. */
export function allows(held: GrantedRole, needed: GrantedRole): boolean {
  return held >= needed;
}

/**
 * The role each public RPC needs, by `<service type name>/<method>`. Anything not listed is not
 * exposed at all. TransitionStage needs operator to promote and admin to take a version out of
 * Production (see transition-stage.ts).
 */
export const METHOD_ROLES: Readonly<Record<string, GrantedRole>> = {
  'nepse.gateway.v1.GatewayService/WhoAmI': Role.VIEWER,
  'nepse.gateway.v1.GatewayService/GetMeshStatus': Role.VIEWER,
  'nepse.gateway.v1.GatewayService/GetDashboard': Role.VIEWER,
  'nepse.gateway.v1.GatewayService/GetSymbolOverview': Role.VIEWER,
  'nepse.gateway.v1.GatewayService/UploadCsv': Role.OPERATOR,
  'nepse.gateway.v1.GatewayService/ListApiKeys': Role.ADMIN,
  'nepse.prediction.v1.PredictionService/Predict': Role.VIEWER,
  'nepse.prediction.v1.PredictionService/PredictBatch': Role.VIEWER,
  'nepse.prediction.v1.PredictionService/WatchPredictions': Role.VIEWER,
  'nepse.ingestion.v1.IngestionService/ListSymbols': Role.VIEWER,
  'nepse.ingestion.v1.IngestionService/GetBars': Role.VIEWER,
  'nepse.ingestion.v1.IngestionService/ImportCsv': Role.OPERATOR,
  'nepse.feature.v1.FeatureService/GetFeatures': Role.VIEWER,
  'nepse.registry.v1.RegistryService/ListModels': Role.VIEWER,
  'nepse.registry.v1.RegistryService/GetModel': Role.VIEWER,
  'nepse.registry.v1.RegistryService/GetModelHistory': Role.VIEWER,
  'nepse.registry.v1.RegistryService/TransitionStage': Role.OPERATOR,
  'nepse.registry.v1.RegistryService/SetAlias': Role.ADMIN,
  'nepse.monitoring.v1.MonitoringService/GetModelPerformance': Role.VIEWER,
  'nepse.monitoring.v1.MonitoringService/ListAlerts': Role.VIEWER,
  'nepse.monitoring.v1.MonitoringService/WatchAlerts': Role.VIEWER,
  'nepse.monitoring.v1.MonitoringService/ListScoredPredictions': Role.VIEWER,
  'nepse.monitoring.v1.MonitoringService/GetErrorSeries': Role.VIEWER,
  'nepse.training.v1.TrainingService/StartTraining': Role.OPERATOR,
  'nepse.training.v1.TrainingService/GetJob': Role.VIEWER,
  'nepse.training.v1.TrainingService/WatchJob': Role.VIEWER,
  'nepse.training.v1.TrainingService/ListJobs': Role.VIEWER,
};

/** Services anyone may call without credentials: health and reflection, as probes and grpcurl need. */
export const OPEN_SERVICES: ReadonlySet<string> = new Set([
  'grpc.health.v1.Health',
  'grpc.reflection.v1.ServerReflection',
  'grpc.reflection.v1alpha.ServerReflection',
]);
