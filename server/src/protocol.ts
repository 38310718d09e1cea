/**
 * The typed protocol between the VS Code client and the worker, and the result schema the CLI prints
 * with --json. Both sides import this module; at run time it needs only vscode-languageserver-protocol's
 * RequestType (which both the client and the worker bundle anyway), so the client stays free of server code.
 *
 * Times are milliseconds since the epoch (as in meta.json). Block ranges are [minTime, maxTime).
 */
import { NotificationType, RequestType } from 'vscode-languageserver-protocol';
import type { DiagnosticCode, FailureCode } from './errors';

export type Severity = 'error' | 'warning' | 'information' | 'hint';
export type VerifyDepth = 'quick' | 'full';
/**
 * `full` by default: a chunk with a bad CRC lets Prometheus start but fails every query touching it
 * (the chunk-crc scenario), so only the full check catches damage that breaks queries; it costs ~15 %
 * over quick and stays well above plain gunzip's throughput (README, Benchmarks).
 */
export const DEFAULT_VERIFY: VerifyDepth = 'full';

export interface TimeRange {
  from: number;
  to: number;
}

export interface TsdbDiagnostic {
  code: DiagnosticCode;
  severity: Severity;
  /** What is wrong, what Prometheus will do, what to do about it. */
  message: string;
  /** Path inside the dump (relative to the data dir), e.g. `01H…/meta.json` or `chunks_head/000005`. */
  path: string;
  /** The exact Prometheus log line this predicts, where there is one. */
  prometheusMessage?: string;
  /** Byte offset inside `path`, where the problem is at a known place. */
  offset?: number;
  /** Time range affected (lost, duplicated, uncovered). */
  range?: TimeRange;
  /** Block ULIDs concerned (both blocks of an overlap, for example). */
  blocks?: string[];
}

export interface BlockInfo {
  ulid: string;
  /** Directory name in the dump (normally equal to ulid). */
  dir: string;
  minTime: number;
  maxTime: number;
  level: number;
  numSamples: number;
  numSeries: number;
  numChunks: number;
  /** meta.json's split of numSamples (Prometheus 3.6+ writes it). */
  numFloatSamples?: number;
  numHistogramSamples?: number;
  numTombstones?: number;
  sources?: string[];
  parents?: string[];
  deletable?: boolean;
  sizeBytes: number;
  path: string;
  /** False when meta.json is missing or unreadable: Prometheus skips the block. */
  metaReadable: boolean;
  chunkFiles: string[];
}

export interface HeadChunkFileInfo {
  name: string;
  number: number;
  sizeBytes: number;
  records: number;
  minTime?: number;
  maxTime?: number;
}

export interface WalSegmentInfo {
  name: string;
  number: number;
  sizeBytes: number;
  records: number;
  samples: number;
  minTime?: number;
  maxTime?: number;
}

export interface WalCheckpointInfo {
  name: string;
  /** N in checkpoint.N: the last segment it covers. */
  number: number;
  segments: WalSegmentInfo[];
  series: number;
  samples: number;
}

/** One head chunk file or WAL segment, or a number missing from the sequence (analysis/fileMarks.ts). */
export interface FileMark {
  kind: 'file' | 'missing';
  number: number;
  /** Path in the dump; for a missing number the path the file would have. */
  path: string;
  minTime?: number;
  maxTime?: number;
  /** The worst diagnostic about it (for a missing number: the one about the gap). */
  severity?: Severity;
  code?: DiagnosticCode;
  /** The path of that diagnostic (what a click on the mark opens). */
  diagnosticPath?: string;
}

export interface AnalysisResult {
  source: string;
  verify: VerifyDepth;
  blocks: BlockInfo[];
  head: { chunksHeadFiles: HeadChunkFileInfo[]; minTime?: number; maxTime?: number };
  wal: {
    segments: WalSegmentInfo[];
    checkpoint?: WalCheckpointInfo;
    minTime?: number;
    maxTime?: number;
    samples: number;
  };
  wbl?: { segments: WalSegmentInfo[] };
  coverage: { minTime?: number; maxTime?: number; gaps: TimeRange[] };
  /** Head chunk files and WAL segments one by one, with missing numbers and their diagnostics (the timeline's marks). */
  files?: { head: FileMark[]; wal: FileMark[] };
  diagnostics: TsdbDiagnostic[];
  /** The oldest Prometheus that reads the whole dump without loss, and why (analysis/compat.ts). */
  compatibility?: CompatibilityInfo;
  /** Entries that are not TSDB data (queries.active, snapshots/, unknown files). */
  otherEntries: string[];
  totalBytes: number;
  durationMs: number;
}

/** One feature of the dump that an older Prometheus cannot read without loss. */
export interface CompatibilityRequirement {
  feature: string;
  /** Oldest Prometheus version (x.y.z) that reads it. */
  needs: string;
  /** Up to 5 paths in the dump where it occurs. */
  where: string[];
  /** What an older Prometheus does with it. */
  olderDoes: string;
}

export interface CompatibilityInfo {
  /** The largest `needs` of the requirements (2.0.0 when there are none). */
  minVersion: string;
  requirements: CompatibilityRequirement[];
}

/** A failure of the whole operation, as the worker and the CLI report it. */
export interface FailureInfo {
  code: FailureCode;
  message: string;
  /** The interrupted dump or restore can be continued: running the same request again resumes it. */
  resumable?: boolean;
}

// ---- Repair ---------------------------------------------------------------------------------

export type RepairActionKind =
  | 'drop-file'
  | 'drop-block'
  | 'rename-file'
  | 'rebuild-meta'
  | 'truncate-file'
  | 'drop-entry'
  /** Replace one damaged block chunk by an empty chunk of the same size (the block keeps everything else). */
  | 'blank-chunk'
  /** Write a block's index again from the series and chunk refs that read (the block writer's index). */
  | 'rewrite-index';

export interface RepairAction {
  kind: RepairActionKind;
  path: string;
  /** New path for rename-file. */
  to?: string;
  /** Diagnostic code this action fixes. */
  fixes: DiagnosticCode;
  reason: string;
  /** What this action costs, computed from the data: samples/series no longer held anywhere. */
  loss: { samples: number; series: number; ranges: TimeRange[] };
  /** Byte offset for truncate-file (bytes kept) and blank-chunk (chunk ref offset). */
  offset?: number;
  /** The series that lose samples (label set as `name{a="b"}`), at most a few dozen. */
  lostSeries?: { series: string; samples: number; ranges: TimeRange[] }[];
  /** The other candidate repairs considered for the same problem and what each would have lost. */
  alternatives?: { summary: string; samples: number; series: number; startable: boolean }[];
}

export interface RepairPlan {
  source: string;
  actions: RepairAction[];
  /** Diagnostics the plan cannot fix (reported, left as they are). */
  unfixable: TsdbDiagnostic[];
  nothingToRepair: boolean;
  /**
   * Sample accounting over the whole dump: every sample held by some file (block, head chunk file,
   * WAL segment), what Prometheus will serve after the repair, and what is lost (by the actions, plus
   * samples the dump holds that Prometheus would not serve whatever the repair).
   */
  totals?: {
    samplesHeld: number;
    samplesServedAfter: number;
    samplesLost: number;
    notServedAnyway: number;
    /** Of samplesServedAfter, the samples of histogram series (present when the dump has any). */
    histogramSamplesServedAfter?: number;
  };
}

export interface RepairResult extends RepairPlan {
  output?: string;
  dryRun: boolean;
  /** Analysis of the written output: should have no error diagnostics. */
  after?: AnalysisResult;
}

// ---- Cluster --------------------------------------------------------------------------------

export interface KubeTarget {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  pod?: string;
  container?: string;
  dataDir?: string;
}

export interface KubeContextInfo {
  name: string;
  cluster: string;
  user: string;
  namespace?: string;
  current: boolean;
}

export interface PodInfo {
  context: string;
  namespace: string;
  name: string;
  phase: string;
  ready: boolean;
  containers: string[];
  /** The container running Prometheus, when it could be told. */
  prometheusContainer?: string;
  labels: Record<string, string>;
}

/** The source of the volume that holds a pod's data dir (server/src/kube/volume.ts). */
export type DataVolumeKind = 'persistentVolumeClaim' | 'hostPath' | 'emptyDir' | 'ephemeral' | 'container' | 'other';

export interface DataVolume {
  kind: DataVolumeKind;
  /**
   * How Prometheus can be restarted without losing the data dir: `pod` (delete the pod; its
   * controller brings it back on the same volume), `container` (restart only the Prometheus
   * container: an emptyDir or ephemeral volume is emptied with the pod), `none` (no volume: lost
   * on any restart), `unknown` (a volume source whose lifetime tsdbdump does not know).
   */
  restart: 'pod' | 'container' | 'none' | 'unknown';
  /** The pod's volume name and where the container mounts it. */
  volume?: string;
  mountPath?: string;
  /** The PersistentVolumeClaim's name. */
  claim?: string;
  /** The volume source field of an `other` volume (nfs, csi, …). */
  source?: string;
  /** For people: "PersistentVolumeClaim data-prometheus-0 (volume data at /prometheus)". */
  description: string;
  /** For people: how a restore restarts Prometheus on this volume. */
  restartDescription: string;
}

export interface PodTsdbSummary {
  target: KubeTarget;
  dataDir: string;
  prometheusVersion?: string;
  retention?: string;
  /** Prometheus runs with --web.enable-admin-api: a consistent snapshot dump is possible. */
  adminApi?: boolean;
  /** The volume holding the data dir, from the pod spec. */
  dataVolume?: DataVolume;
  blocks: { ulid: string; minTime: number; maxTime: number; sizeBytes: number }[];
  headFiles: number;
  walSegments: number;
  sizeBytes: number;
  minTime?: number;
  maxTime?: number;
  error?: FailureInfo;
}

export interface DumpRequest {
  target: KubeTarget;
  from?: number;
  to?: number;
  /** The .tar.gz to write; needed unless dryRun. */
  output?: string;
  /** Use the admin API snapshot when enabled. */
  snapshot?: boolean;
  /**
   * Plan only: the pod's data dir is listed, nothing is streamed or written, no snapshot is taken;
   * the result carries the preview (files, bytes 0).
   */
  dryRun?: boolean;
  /** false: start over even when `<output>.partial` of an interrupted run could be continued (CLI `--no-resume`). */
  resume?: boolean;
}

/** What a dump kept of the interrupted run it continued (server/src/kube/dumpResume.ts). */
export interface DumpResumeInfo {
  /** Files kept: received before and their SHA-256 equal to the pod's now; not sent again. */
  files: number;
  /** Their bytes, plus the bytes of the file in flight that were kept. */
  bytes: number;
  keptFiles: string[];
  /** The file that was being received, continued from this byte. */
  inFlight?: { path: string; fromByte: number; size: number };
  /** Entries of the partial that were not kept, with why (changed in the pod, no longer in the range, …). */
  dropped: string[];
}

/** An interrupted dump into the same output that the next run would continue (the dry run's DumpPreview.resumable). */
export interface DumpResumable {
  partial: string;
  /** Tar bytes received and durable, and the complete files among them (checked again when the run starts). */
  bytes: number;
  files: number;
  updatedAt: string;
}

/** What a dump of [from, to) will hold, as planDump (server/src/kube/dump.ts) decides it. */
export interface DumpPreview {
  pod: { context: string; namespace: string; name: string; container: string };
  dataDir: string;
  requested: { from?: number; to?: number };
  /** Blocks included whole (their [minTime, maxTime) overlaps the request), by minTime. */
  blocks: { dir: string; ulid: string; minTime: number; maxTime: number; sizeBytes: number }[];
  /** Blocks of the data dir with a readable meta.json, included or not. */
  totalBlocks: number;
  /** Blocks left out (outside the range, or without a readable meta.json when a range was asked). */
  skippedBlocks: string[];
  /** What the dump will cover: the included blocks plus the head, which is always dumped. */
  effectiveRange?: TimeRange;
  /** Bytes of the files streamed (blocks and head), before compression. */
  estimatedBytes: number;
  /** Prometheus runs with --web.enable-admin-api: a consistent snapshot dump is possible. */
  adminApi: boolean;
  prometheusVersion?: string;
  /** Why the dump may hold more or less than asked (block granularity, unreadable blocks, no tar). */
  notes: string[];
  /** With an output: an interrupted dump of this pod into it, which the dump continues unless `resume: false`. */
  resumable?: DumpResumable;
}

export interface DumpResult {
  output: string;
  manifest: string;
  files: number;
  bytes: number;
  blocks: string[];
  changedDuringDump: string[];
  /** Tar bytes received from the pod by this run (less than the dump when it continued an interrupted one). */
  transferredBytes?: number;
  /** What this run kept of the interrupted run it continued. */
  resumed?: DumpResumeInfo;
  /** Why an interrupted run's partial was not continued, when it was not. */
  notes?: string[];
  /** Files that vanished or shrank, blocks compacted away while the dump ran (also in the manifest). */
  warnings: string[];
  /** What interrupted tsdbdump runs had left in the pod (stale snapshots, staging dirs), removed first. */
  cleanedUp: string[];
  durationMs: number;
  /** On a dry run: what the dump would hold (output and manifest empty, files and bytes 0). */
  preview?: DumpPreview;
}

export type RestoreMode = 'replace' | 'merge';

export interface RestoreRequest {
  source: string;
  target: KubeTarget;
  mode: RestoreMode;
  backup?: string;
  /** Proceed despite error diagnostics in the source. */
  force?: boolean;
  /**
   * Analysis and preflight only: nothing in the pod changes, nothing is backed up; the result
   * carries the preview (restoredBlocks empty). The dump's error diagnostics do not refuse a dry
   * run, they are in preview.errors; the target's refusals (not Ready, no space, …) still fail it.
   */
  dryRun?: boolean;
}

/** How the files get into the pod: one tar stream, one `cat > file` per file (no tar), or one `head -c size > file` per file (exec v4). */
export type UploadMethod = 'tar' | 'cat' | 'head';

/** What a restore will do to its target, known after the preflight and before anything changes. */
export interface RestorePreview {
  pod: { context: string; namespace: string; name: string; container: string };
  dataDir: string;
  mode: RestoreMode;
  prometheusVersion?: string;
  /** The volume holding the data dir, and how the restore restarts Prometheus on it. */
  dataVolume: DataVolume;
  /** What is replaced (replace mode: everything now in the data dir). */
  replaces: string[];
  /** Block dirs written. */
  adds: string[];
  /** Entries of the dump left out, with why. */
  skipped: string[];
  uploadBytes: number;
  freeBytes?: number;
  /** The exec subprotocol the API server speaks (v5 can close stdin, v4 cannot). */
  execProtocol?: string;
  uploadMethod: UploadMethod;
  /** Where the backup of the target's current data goes (pass it as RestoreRequest.backup to keep it). */
  backup: string;
  /** Retention, overlaps, version, unknown free space. */
  warnings: string[];
  /** Error diagnostics of the dump (restored anyway only with force). */
  errors: string[];
  /**
   * What the restored data needs that the target's Prometheus is too old to read (the analysis's
   * compatibility requirements of the uploaded entries; restored anyway only with force).
   */
  tooNewForTarget: CompatibilityRequirement[];
  /** The restore goes ahead only forced: the dump has errors, or it is too new for the target. */
  needsForce: boolean;
}

export interface RestoreResult {
  target: KubeTarget;
  backup: string;
  /** Empty on a dry run. */
  restoredBlocks: string[];
  verifiedRange?: TimeRange;
  durationMs: number;
  /** What the restore did (or, on a dry run, would do). */
  preview?: RestorePreview;
  /** What interrupted tsdbdump runs had left in the pod (stale snapshots, staging dirs), removed first. */
  cleanedUp?: string[];
}

// ---- PromQL over a dump (server/src/query/) ----------------------------------------------------

/** Where a PromQL expression stops parsing (Prometheus's grammar, @prometheus-io/lezer-promql). */
export interface PromqlSyntaxError {
  /** 0-based character offset into the expression. */
  offset: number;
  /** 1-based line and column, as Prometheus prints them. */
  line: number;
  column: number;
  message: string;
}

/** A float sample [unix seconds, value as Prometheus prints it] or a native histogram sample. */
export type PromSample = [number, string];
export interface PromHistogram {
  count: string;
  sum: string;
  /** [boundaryRule, lower, upper, count] as in Prometheus's API. */
  buckets?: [number, string, string, string][];
}
export type PromHistogramSample = [number, PromHistogram];

/** One series of a query result, exactly as Prometheus's HTTP API returns it. */
export interface PromSeries {
  metric: Record<string, string>;
  value?: PromSample;
  values?: PromSample[];
  histogram?: PromHistogramSample;
  histograms?: PromHistogramSample[];
}

/** `data` of a successful /api/v1/query or /api/v1/query_range answer. */
export interface PromQueryData {
  resultType: 'vector' | 'matrix' | 'scalar' | 'string';
  result: PromSeries[] | PromSample;
}

/** Why a query gave no result: the syntax (with its position), a limit of the local Prometheus, or Prometheus's error. */
export interface QueryProblem {
  kind: 'syntax' | 'limit' | 'prometheus';
  message: string;
  /** kind syntax: where the expression stops parsing. */
  syntax?: PromqlSyntaxError;
  /** kind limit: which limit stopped the query and its value (`--query.max-samples=50000000`). */
  limit?: { flag: 'query.max-samples' | 'query.timeout'; value: string };
  /** kind prometheus (and limit): Prometheus's errorType (`bad_data`, `execution`, `timeout`, …). */
  errorType?: string;
}

export interface QueryAnswer {
  expr: string;
  /** Instant query at `time`, or range query over [from, to] every `step` (all ms). */
  time?: number;
  from?: number;
  to?: number;
  step?: number;
  data?: PromQueryData;
  problem?: QueryProblem;
  warnings?: string[];
  infos?: string[];
}

/** A local Prometheus serving a private copy of a dump. */
export interface QuerySessionInfo {
  id: string;
  source: string;
  /** The Prometheus binary and its version (`2.42.0`). */
  prometheus: string;
  version: string;
  /** What the dump holds: blocks' meta.json and the head as Prometheus reports it (ms). */
  minTime?: number;
  maxTime?: number;
}

export interface QueryStartParams extends WorkDoneParams {
  source: string;
  /** The setting tsdbdump.prometheusPath; empty: PATH. */
  prometheusPath?: string;
}

export interface QueryParams {
  session: string;
  expr: string;
  time?: number;
  from?: number;
  to?: number;
  step?: number;
}

/** What the editor completes: names served by the dump's local Prometheus. */
export interface QueryNamesParams {
  session: string;
  /** labelNames: every label name (of `metric` when given); labelValues: values of `label` (`__name__`: metric names). */
  kind: 'labelNames' | 'labelValues' | 'series';
  label?: string;
  /** A series selector restricting the names (`up{job="x"}`). */
  match?: string;
}

export interface QueryNamesResult {
  names?: string[];
  series?: Record<string, string>[];
}

// ---- LSP requests (client → worker) ------------------------------------------------------------

/** LSP work-done progress: the client passes a token, the worker reports `$/progress` on it. */
export interface WorkDoneParams {
  workDoneToken?: string | number;
}

export interface AnalyzeParams extends WorkDoneParams {
  source: string;
  verify?: VerifyDepth;
}

export interface RepairParams extends WorkDoneParams {
  source: string;
  output?: string;
  dryRun?: boolean;
}

export interface ListContextsParams {
  kubeconfig?: string;
}

export type DumpParams = DumpRequest & WorkDoneParams;
export type RestoreParams = RestoreRequest & WorkDoneParams;
export type AnalyzePodParams = KubeTarget & WorkDoneParams & { verify?: VerifyDepth };

export interface ReportResult {
  text: string;
  /** Dump path (`<ULID>`, `chunks_head/000005`, …) → 0-based line in text. */
  lines: Record<string, number>;
}

export interface ParseTimesParams {
  /** What the user typed; empty means no bound. */
  texts: string[];
  /** The instant `now` stands for (default: the worker's clock). */
  now?: number;
}

/** One parsed time: `ms` (absent for an empty text: no bound) or why the text is not a time. */
export interface ParsedTime {
  text: string;
  ms?: number;
  error?: string;
}

export interface ListPodsParams {
  kubeconfig?: string;
  context?: string;
  labelSelector?: string;
}

export interface ReportParams {
  source: string;
}

export interface ProbeParams {
  /** Absolute paths of files or directories. */
  sources: string[];
}

/** Whether a file or directory looks like a TSDB dump, from its first entries only (cheap). */
export interface ProbeResult {
  source: string;
  kind: 'archive' | 'dir' | 'none';
  /** Why it is not a dump, for tooltips. */
  reason?: string;
}

// ---- Series and samples read from the dump itself (server/src/data/) ----------------------------

export type LabelMatcherOp = '=' | '!=' | '=~' | '!~';
export interface LabelMatcher {
  name: string;
  op: LabelMatcherOp;
  value: string;
}

export interface SeriesParams {
  source: string;
  /** A series selector (`up{job="x"}`, `{__name__=~"go_.*"}`); all series when absent. */
  match?: string;
  /** How many entries each "heaviest" list keeps (default 10). */
  top?: number;
  workDoneToken?: string | number;
}

/** One series as stored: its labels (sorted by name) and what the dump holds of it. */
export interface SeriesInfo {
  labels: Record<string, string>;
  /** Samples stored over all blocks and the head (overlapping copies counted each time). */
  samples: number;
  /** Of which histogram samples. */
  histogramSamples: number;
  minTime: number;
  maxTime: number;
  /** Where it is stored: block ULIDs and `head`. */
  in: string[];
}

export interface MetricInfo {
  name: string;
  series: number;
  samples: number;
  /** The metric holds histogram samples. */
  histogram: boolean;
}

export interface LabelNameInfo {
  name: string;
  /** Distinct values (cardinality). */
  values: number;
  /** Series carrying this label. */
  series: number;
}

export interface SeriesResult {
  source: string;
  match?: string;
  totals: { series: number; samples: number; metrics: number; labelNames: number; labelPairs: number };
  /** Every metric name with its series and sample counts, by name. */
  metrics: MetricInfo[];
  /** Every label name with its cardinality, by name. */
  labels: LabelNameInfo[];
  /** Each label name's values (sorted), capped at 1000 per name (`truncated` then true). */
  labelValues: Record<string, { values: string[]; truncated: boolean }>;
  /** Like `promtool tsdb analyze`: the heaviest first. */
  heaviest: {
    metricsBySeries: MetricInfo[];
    labelNamesByValues: LabelNameInfo[];
    /** Label pairs by the number of series carrying them. */
    labelPairsBySeries: { name: string; value: string; series: number }[];
  };
  /** The matched series (capped at `seriesLimit`; `seriesTruncated` then true), in label order. */
  series: SeriesInfo[];
  seriesLimit: number;
  seriesTruncated: boolean;
  /** Parts that could not be read (a block whose index is damaged…), with why. */
  skipped: { path: string; reason: string }[];
}

export interface SamplesParams {
  source: string;
  match: string;
  /** Epoch ms, inclusive; all when absent. */
  from?: number;
  /** Epoch ms, inclusive. */
  to?: number;
  workDoneToken?: string | number;
}

/** A histogram sample: absolute bucket counts (integer histograms' deltas summed up). */
export interface HistogramSample {
  schema: number;
  count: number;
  sum: number;
  zeroThreshold: number;
  zeroCount: number;
  positiveSpans: { offset: number; length: number }[];
  negativeSpans: { offset: number; length: number }[];
  positiveBuckets: number[];
  negativeBuckets: number[];
  /** Upper bounds of the custom buckets (schema −53 only). */
  customValues?: number[];
  counterResetHint?: number;
}

/** One series' samples after merging blocks, head and WAL as Prometheus merges them. */
export interface SeriesSamples {
  labels: Record<string, string>;
  /**
   * Float samples: [t ms, value]; a staleness marker has value null and `stale` lists its t. Over
   * the LSP connection (JSON) other NaN and ±Inf values arrive as null too; the CLI's --json writes
   * them as the strings "NaN", "+Inf", "-Inf" as Prometheus's API does.
   */
  floats: [number, number | null][];
  histograms: [number, HistogramSample][];
  /** Timestamps of staleness markers (Prometheus's special NaN; range queries leave them out). */
  stale: number[];
}

export interface SamplesResult {
  source: string;
  match: string;
  from?: number;
  to?: number;
  series: SeriesSamples[];
  totals: { series: number; floats: number; histograms: number; stale: number; duplicatesDropped: number; tombstoned: number };
  skipped: { path: string; reason: string }[];
}

/**
 * The report document of a source as a VS Code virtual document: `tsdbdump-report:<path>.tsdb-report`.
 * The worker publishes diagnostics on this URI; the client serves its text with the `report` request.
 */
export const REPORT_SCHEME = 'tsdbdump-report';
export const REPORT_SUFFIX = '.tsdb-report';

export function reportUri(source: string): string {
  // Sources that are not absolute paths (e.g. `pod:ctx/ns/name`) live under `/-/`.
  const p = (source.startsWith('/') ? source : `/-/${source}`) + REPORT_SUFFIX;
  return `${REPORT_SCHEME}:${p.split('/').map(encodeURIComponent).join('/')}`;
}

/** The source a report URI's path stands for (inverse of reportUri, given the decoded path). */
export function sourceOfReportPath(decodedPath: string): string {
  const p = decodedPath.endsWith(REPORT_SUFFIX) ? decodedPath.slice(0, -REPORT_SUFFIX.length) : decodedPath;
  return p.startsWith('/-/') ? p.slice(3) : p;
}

/**
 * The requests, one typed constant each: method, params, result and error data bound together
 * (as vscode-eslint's shared messages do). The client's `Worker.request` and the worker's
 * `connection.onRequest` both take these constants, so a renamed field breaks the build of both
 * (test/unit/protocol.typecheck.ts pins that).
 */
export const Requests = {
  analyze: new RequestType<AnalyzeParams, AnalysisResult, FailureInfo>('tsdbdump/analyze'),
  /** The report text and the line of each dump path in it. */
  report: new RequestType<ReportParams, ReportResult, FailureInfo>('tsdbdump/report'),
  repair: new RequestType<RepairParams, RepairResult, FailureInfo>('tsdbdump/repair'),
  listContexts: new RequestType<ListContextsParams, KubeContextInfo[], FailureInfo>('tsdbdump/listContexts'),
  listPods: new RequestType<ListPodsParams, PodInfo[], FailureInfo>('tsdbdump/listPods'),
  podSummary: new RequestType<KubeTarget, PodTsdbSummary, FailureInfo>('tsdbdump/podSummary'),
  /** dryRun: the plan only (DumpResult.preview), nothing read from the pod but its listing. */
  dump: new RequestType<DumpParams, DumpResult, FailureInfo>('tsdbdump/dump'),
  /** dryRun: the preview only, nothing changed. */
  restore: new RequestType<RestoreParams, RestoreResult, FailureInfo>('tsdbdump/restore'),
  /** Streams the pod's data dir into the analyser, nothing saved. */
  analyzePod: new RequestType<AnalyzePodParams, AnalysisResult, FailureInfo>('tsdbdump/analyzePod'),
  /** Which files/dirs are TSDB dumps; reads only their first bytes. */
  probe: new RequestType<ProbeParams, ProbeResult[], FailureInfo>('tsdbdump/probe'),
  /** Time texts typed by the user → instants, by the same parser as the CLI's --from/--to. */
  parseTimes: new RequestType<ParseTimesParams, ParsedTime[], FailureInfo>('tsdbdump/parseTimes'),
  /** Metric names, series, label cardinality of a dump, read from the dump itself (no Prometheus). */
  series: new RequestType<SeriesParams, SeriesResult, FailureInfo>('tsdbdump/series'),
  /** One selector's samples from blocks, head and WAL, merged as Prometheus merges them. */
  samples: new RequestType<SamplesParams, SamplesResult, FailureInfo>('tsdbdump/samples'),
  /** Starts a local Prometheus on a private copy of the dump (server/src/query/localPrometheus.ts). */
  queryStart: new RequestType<QueryStartParams, QuerySessionInfo, FailureInfo>('tsdbdump/queryStart'),
  /** A PromQL query on a session; a bad expression or a limit is an answer with `problem`, not a failure. */
  query: new RequestType<QueryParams, QueryAnswer, FailureInfo>('tsdbdump/query'),
  /** Metric and label names (and series) for the editor's completion. */
  queryNames: new RequestType<QueryNamesParams, QueryNamesResult, FailureInfo>('tsdbdump/queryNames'),
  /** Stops the session's Prometheus and removes its copy of the dump. */
  queryStop: new RequestType<{ session: string }, void, FailureInfo>('tsdbdump/queryStop'),
} as const;

/** Notification worker → client: an analysis finished (drives the trees and the Problems panel). */
export const Notifications = {
  analyzed: new NotificationType<AnalyzedNotification>('tsdbdump/analyzed'),
} as const;

export interface AnalyzedNotification {
  source: string;
  result?: AnalysisResult;
  failure?: FailureInfo;
}

/** Error codes of LSP ResponseErrors carrying a FailureInfo in `data`. */
export const TOOL_ERROR_CODE = -32001;
