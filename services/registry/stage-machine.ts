/**
 * The stage machine of a model version, as registry.proto's Stage states it. TransitionStage
 * checks every move against it; the promotion saga's compensation (restoring the previous
 * Production version) is not a move asked for and does not pass through here.
 */
import { FailedPreconditionError } from '../../lib/grpc/index.js';
import type { StageName } from './store.js';

/**
 * Where each stage may move (besides staying where it is). An archived version was retired or
 * replaced: it returns through Staging to be looked at again before it may serve. None may go
 * straight to Production because every promotion is checked by the saga (each prediction instance
 * loads and smoke-tests the version, a failed activation is rolled back).
 */
export const ALLOWED_MOVES: Readonly<Record<StageName, readonly StageName[]>> = Object.freeze({
  none: ['staging', 'production', 'archived'],
  staging: ['none', 'production', 'archived'],
  production: ['none', 'staging', 'archived'],
  archived: ['staging'],
});

/** The precondition type a refused move carries in its google.rpc.PreconditionFailure. */
export const STAGE_TRANSITION = 'STAGE_TRANSITION';

const word = (stage: StageName) => stage.toUpperCase();

/**
 * Refuses a move the stage machine does not allow: FAILED_PRECONDITION (reason
 * STAGE_TRANSITION_NOT_ALLOWED) with a PreconditionFailure violation naming the model version and
 * the move. Staying in the same stage is always allowed.
 */
export function requireAllowedMove(name: string, version: number, from: StageName, to: StageName): void {
  if (from === to || ALLOWED_MOVES[from].includes(to)) return;
  const allowed = ALLOWED_MOVES[from].map(word).join(' or ');
  const hint = from === 'archived' ? `; move it to STAGING first to look at it again before it serves` : '';
  const move = `${word(from)} -> ${word(to)}`;
  throw new FailedPreconditionError(
    `${name} version ${version} may not move ${move}: from ${word(from)} it may move only to ${allowed}${hint}`,
    'STAGE_TRANSITION_NOT_ALLOWED',
    [{ type: STAGE_TRANSITION, subject: `${name}/${version}`, description: `${move} is not allowed (from ${word(from)}: ${allowed})` }],
  );
}
