/** What a test reads off a call or a service from outside: the error of a failed call, a metric's value. */
import { statusDetails } from '../lib/grpc/index.js';

/** The status code, the first violated field (or resource type) and the message of a failed call. */
export async function failure(call: Promise<unknown>): Promise<{ code: number | undefined; field: string | undefined; message: string }> {
  try {
    await call;
  } catch (error) {
    const details = statusDetails(error);
    return {
      code: details?.code ?? (error as { code?: number }).code,
      field: details?.fieldViolations[0]?.field ?? details?.resource?.type,
      message: details?.message ?? (error as Error).message,
    };
  }
  return { code: undefined, field: undefined, message: 'no error' };
}

/** A metric's value from a service's Prometheus text exposition on `metricsPort`, 0 when absent. */
export async function metricValue(metricsPort: number, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (wanted.every((w) => line.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}
