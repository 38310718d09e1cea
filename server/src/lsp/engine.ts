/**
 * The engine functions the worker calls, in one place, adapted to one job shape (AbortSignal +
 * progress as message/percentage). Cluster and repair modules are loaded on first use: the
 * Kubernetes client is most of the bundle, and the worker must answer `initialize` fast.
 */
import { analyzeSource } from '../analysis/analyze';
import { renderReport } from '../analysis/report';
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

/** Byte progress → percentage, with what is being read as the message. */
function bytesProgress(opts: JobOptions, prefix?: string) {
  return (p: { bytes?: number; totalBytes?: number; entry?: string; message?: string; phase?: string }): void =>
    opts.onProgress?.({
      message: [prefix ?? p.phase, p.message ?? p.entry].filter(Boolean).join(': ') || undefined,
      percentage: p.totalBytes && p.bytes !== undefined ? (100 * p.bytes) / p.totalBytes : undefined,
    });
}

export const engine = {
  analyze(source: string, verify: VerifyDepth, opts: JobOptions): Promise<AnalysisResult> {
    return analyzeSource(source, { verify, signal: opts.signal, onProgress: bytesProgress(opts, '') });
  },
  renderReport(result: AnalysisResult): Report {
    return renderReport(result);
  },
  async repair(params: RepairParams, opts: JobOptions): Promise<RepairResult> {
    // A dry run writes nothing; repairDump still wants an output path distinct from the source.
    const output = params.output ?? `${params.source}.repaired.tar.gz`;
    const { repairDump } = await import('../repair/repair.js');
    return repairDump(params.source, output, { dryRun: params.dryRun ?? !params.output, signal: opts.signal, onProgress: bytesProgress(opts) });
  },
  async listContexts(kubeconfig: string | undefined): Promise<KubeContextInfo[]> {
    const { listContexts } = await import('../kube/kubeconfig.js');
    return listContexts(kubeconfig);
  },
  async listPods(params: ListPodsParams, opts: JobOptions): Promise<PodInfo[]> {
    const { listPrometheusPods } = await import('../kube/pods.js');
    return listPrometheusPods({ kubeconfig: params.kubeconfig, context: params.context, labelSelector: params.labelSelector, signal: opts.signal });
  },
  async podSummary(target: KubeTarget, opts: JobOptions): Promise<PodTsdbSummary> {
    const { podSummary } = await import('../kube/summary.js');
    return podSummary(target, opts.signal);
  },
  async dump(req: DumpRequest, opts: JobOptions): Promise<DumpResult> {
    const { dumpFromPod } = await import('../kube/dump.js');
    const { manifestData: _manifest, ...result } = await dumpFromPod(req, { signal: opts.signal, onProgress: bytesProgress(opts) });
    return result;
  },
  async restore(req: RestoreRequest, opts: JobOptions): Promise<RestoreResult> {
    const { restoreToPod } = await import('../kube/restore.js');
    const outcome = await restoreToPod(req, { signal: opts.signal, onProgress: bytesProgress(opts) });
    return {
      target: outcome.target,
      backup: outcome.backup,
      restoredBlocks: outcome.restoredBlocks,
      verifiedRange: outcome.verifiedRange,
      durationMs: outcome.durationMs,
    };
  },
  async analyzePod(target: KubeTarget, verify: VerifyDepth, opts: JobOptions): Promise<AnalysisResult> {
    const { analyzePod } = await import('../kube/analyzePod.js');
    return analyzePod(target, { verify, signal: opts.signal, onProgress: bytesProgress(opts, '') });
  },
};
