/** Resilience for outgoing calls: cockatiel timeout, retry, circuit breaker and bulkhead. */
export {
  createCallPolicy,
  isRetryable,
  isPolicyRejection,
  type CallPolicy,
  type CallPolicyOptions,
  type ResilienceMode,
} from './policy.js';
