/**
 * The engine functions the worker calls, in one place, adapted to one job shape (AbortSignal +
 * progress as message/percentage). The cluster functions live in ./cluster, loaded on first use.
 */
import path from 'node:path';
import { analyzeSource } from '../analysis/analyze';
import { renderReport } from '../analysis/report';
import { repairDump } from '../repair/repair';
import { parseTimes } from '../timeInput';
import type {
  AnalysisResult,
  DumpRequest,
  DumpResult,
  KubeContextInfo,
  KubeTarget,
  ListPodsParams,
  PodInfo,
  ParsedTime,
  ParseTimesParams,
  PodTsdbSummary,
  RepairParams,
  RepairResult,
  ReportResult,
  RestoreRequest,
  RestoreResult,
  VerifyDepth,
} from '../protocol';

export interface JobOptions {
  signal: AbortSignal;
  onProgress?: (p: { message?: string; percentage?: number }) => void;
}

/** Byte progress → percentage, with what is being read as the message. */
function bytesProgress(opts: JobOptions, prefix?: string) {
  return (p: { bytes?: number; totalBytes?: number; entry?: string; message?: string; phase?: string }): void =>
    opts.onProgress?.({
      message: [prefix ?? p.phase, p.message ?? p.entry].filter(Boolean).join(': ') || undefined,
      percentage: p.totalBytes && p.bytes !== undefined ? (100 * p.bytes) / p.totalBytes : undefined,
    });
}

type Cluster = typeof import('./cluster');
let cluster: Cluster | undefined;

/**
 * ./cluster, required at run time by path: beside dist/server.js it is its own bundle
 * (dist/cluster.js); beside out/…/lsp/engine.js (tsc output) it is the compiled module.
 */
function clusterModule(): Cluster {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a run-time path, on purpose not bundled here
  cluster ??= require(path.join(__dirname, 'cluster.js')) as Cluster;
  return cluster;
}

export const engine = {
  analyze(source: string, verify: VerifyDepth, opts: JobOptions): Promise<AnalysisResult> {
    return analyzeSource(source, { verify, signal: opts.signal, onProgress: bytesProgress(opts, '') });
  },
  renderReport(result: AnalysisResult): ReportResult {
    return renderReport(result);
  },
  async repair(params: RepairParams, opts: JobOptions): Promise<RepairResult> {
    // A dry run writes nothing; repairDump still wants an output path distinct from the source.
    const output = params.output ?? `${params.source}.repaired.tar.gz`;
    return repairDump(params.source, output, {
      dryRun: params.dryRun ?? !params.output,
      signal: opts.signal,
      onProgress: bytesProgress(opts),
    });
  },
  async listContexts(kubeconfig: string | undefined): Promise<KubeContextInfo[]> {
    const { listContexts } = clusterModule();
    return listContexts(kubeconfig);
  },
  async listPods(params: ListPodsParams, opts: JobOptions): Promise<PodInfo[]> {
    const { listPrometheusPods } = clusterModule();
    return listPrometheusPods({
      kubeconfig: params.kubeconfig,
      context: params.context,
      labelSelector: params.labelSelector,
      signal: opts.signal,
    });
  },
  async podSummary(target: KubeTarget, opts: JobOptions): Promise<PodTsdbSummary> {
    const { podSummary } = clusterModule();
    return podSummary(target, opts.signal);
  },
  /** With req.dryRun: the plan only (DumpResult.preview), nothing streamed or written. */
  async dump(req: DumpRequest, opts: JobOptions): Promise<DumpResult> {
    const { dumpFromPod, previewDump } = clusterModule();
    if (req.dryRun) {
      const t0 = Date.now();
      const preview = await previewDump(req, opts.signal);
      const blocks = preview.blocks.map((b) => b.dir);
      const durationMs = Date.now() - t0;
      return {
        output: '',
        manifest: '',
        files: 0,
        bytes: 0,
        blocks,
        changedDuringDump: [],
        warnings: [],
        cleanedUp: [],
        durationMs,
        preview,
      };
    }
    const outcome = await dumpFromPod(req, { signal: opts.signal, onProgress: bytesProgress(opts) });
    // Only the result fields: the outcome's plan holds the kube connection (credentials included).
    const { output, manifest, files, bytes, blocks, changedDuringDump, warnings, cleanedUp, durationMs } = outcome;
    const { transferredBytes, resumed, notes } = outcome;
    return { output, manifest, files, bytes, blocks, changedDuringDump, warnings, cleanedUp, durationMs, transferredBytes, resumed, notes };
  },
  /** With req.dryRun: the preview only (restoredBlocks empty), nothing changed in the pod. */
  async restore(req: RestoreRequest, opts: JobOptions): Promise<RestoreResult> {
    const { restoreToPod } = clusterModule();
    const outcome = await restoreToPod(req, { signal: opts.signal, onProgress: bytesProgress(opts) });
    return {
      target: outcome.target,
      backup: outcome.backup,
      restoredBlocks: outcome.restoredBlocks,
      verifiedRange: outcome.verifiedRange,
      durationMs: outcome.durationMs,
      preview: outcome.preview,
    };
  },
  parseTimes(params: ParseTimesParams): ParsedTime[] {
    return parseTimes(params.texts, params.now);
  },
  async analyzePod(target: KubeTarget, verify: VerifyDepth, opts: JobOptions): Promise<AnalysisResult> {
    const { analyzePod } = clusterModule();
    return analyzePod(target, { verify, signal: opts.signal, onProgress: bytesProgress(opts, '') });
  },
};
