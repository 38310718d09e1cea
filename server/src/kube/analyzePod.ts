/**
 * Analyse a pod's data dir in place: the pod's tar stream goes straight into the analysis engine
 * (the source reader parses it entry by entry, the parsers consume each body as it passes), so
 * nothing is saved and memory stays bounded. Cancelling stops the exec.
 */
import { analyzeEntries } from '../analysis/analyze';
import { openTarStream, type SourceProgress } from '../dump/source';
import { ToolError, toToolError } from '../errors';
import type { AnalysisResult, KubeTarget, VerifyDepth } from '../protocol';
import { planDump, podTar } from './dump';

export interface AnalyzePodOptions {
  verify?: VerifyDepth;
  signal?: AbortSignal;
  onProgress?: (p: SourceProgress) => void;
}

/** A label for the analysed pod: `pod:<context>/<namespace>/<pod>`. */
export function podSourceLabel(t: KubeTarget): string {
  return `pod:${t.context ?? ''}/${t.namespace ?? ''}/${t.pod ?? ''}`;
}

export async function analyzePod(target: KubeTarget, o: AnalyzePodOptions = {}): Promise<AnalysisResult> {
  const started = Date.now();
  const plan = await planDump({ target, signal: o.signal, allEntries: true });
  // Everything in the data dir that belongs to the TSDB, including blocks without a readable meta.json.
  const ac = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, ac.signal]) : ac.signal;
  const src = podTar(plan, signal);
  const label = podSourceLabel(plan.target);
  const opened = openTarStream(src.stream, { signal, label, totalBytes: plan.estimatedBytes, onProgress: o.onProgress });
  try {
    const result = await analyzeEntries(opened.entries, { verify: o.verify, signal, source: label, sourceProblems: () => opened.problems });
    await src.done;
    result.durationMs = Date.now() - started;
    return result;
  } catch (e) {
    ac.abort();
    src.kill();
    if (o.signal?.aborted) throw new ToolError('cancelled', 'in-place analysis cancelled');
    throw toToolError(e, 'kube-exec-failed');
  }
}
