/**
 * The engine functions the worker calls, in one place. A function whose module has not landed yet
 * fails with a clear ToolError instead of crashing the worker.
 */
import { analyzeSource } from '../analysis/analyze';
import { renderReport } from '../analysis/report';
import { ToolError } from '../errors';
import type {
  AnalysisResult,
  DumpRequest,
  DumpResult,
  KubeContextInfo,
  KubeTarget,
  ListPodsParams,
  PodInfo,
  PodTsdbSummary,
  RepairParams,
  RepairResult,
  RestoreRequest,
  RestoreResult,
  VerifyDepth,
} from '../protocol';

export interface JobOptions {
  signal: AbortSignal;
  onProgress?: (p: { message?: string; percentage?: number }) => void;
}

export interface Report {
  text: string;
  /** Dump path (`<ULID>`, `chunks_head/000005`, …) → 0-based line in text. */
  lines: Record<string, number>;
}

function notAvailable(what: string): never {
  throw new ToolError('internal', `${what} is not available yet in this build`);
}

export const engine = {
  analyze(source: string, verify: VerifyDepth, opts: JobOptions): Promise<AnalysisResult> {
    return analyzeSource(source, {
      verify,
      signal: opts.signal,
      onProgress: (p) =>
        opts.onProgress?.({
          message: p.entry,
          percentage: p.totalBytes ? (100 * p.bytes) / p.totalBytes : undefined,
        }),
    });
  },
  renderReport(result: AnalysisResult): Report {
    return renderReport(result);
  },
  async repair(_params: RepairParams, _opts: JobOptions): Promise<RepairResult> {
    return notAvailable('repair');
  },
  async listContexts(_kubeconfig: string | undefined): Promise<KubeContextInfo[]> {
    return notAvailable('listing kube contexts');
  },
  async listPods(_params: ListPodsParams, _opts: JobOptions): Promise<PodInfo[]> {
    return notAvailable('listing pods');
  },
  async podSummary(_target: KubeTarget, _opts: JobOptions): Promise<PodTsdbSummary> {
    return notAvailable('the pod summary');
  },
  async dump(_req: DumpRequest, _opts: JobOptions): Promise<DumpResult> {
    return notAvailable('dumping from a pod');
  },
  async restore(_req: RestoreRequest, _opts: JobOptions): Promise<RestoreResult> {
    return notAvailable('restoring to a pod');
  },
  async analyzePod(_target: KubeTarget, _verify: VerifyDepth, _opts: JobOptions): Promise<AnalysisResult> {
    return notAvailable('analysing a pod');
  },
};
