/** The default resolution of a range query: about 250 points over the range (as Prometheus's web UI picks), whole seconds. */
export function defaultStep(from: number, to: number): number {
  return Math.max(1000, Math.ceil((to - from) / 250 / 1000) * 1000);
}
