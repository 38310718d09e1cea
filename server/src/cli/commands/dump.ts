/** `tsdbdump dump <pod> --from T --to T -o out.tar.gz`: stream a pod's TSDB into a verified dump. */
import path from 'node:path';
import { humanBytes, utc } from '../../analysis/goFormat';
import { ToolError } from '../../errors';
import { executeDump, planDump, type DumpOutcome } from '../../kube/dump';
import { removedLeftoverLine } from '../../kube/leftovers';
import { KUBE_OPTIONS, KUBE_USAGE, targetFrom } from '../kubeArgs';
import { parseTimeBound } from '../../timeInput';
import { parseCommandArgs } from '../args';
import type { CliCommand, CliContext } from '../types';
import { existsSync } from 'node:fs';
import { exactDump } from '../../block/exactDump';

/** --from/--to as instants, by the parser the worker's `parseTimes` request uses too. */
export function requestedRange(values: { from?: unknown; to?: unknown }, now: number): { from?: number; to?: number } {
  return { from: parseTimeBound(values.from as string | undefined, now), to: parseTimeBound(values.to as string | undefined, now) };
}

export const dumpCommand: CliCommand = {
  name: 'dump',
  summary: 'dump a pod\'s TSDB for a time range into a .tar.gz with a checksum manifest',
  usage: `Usage: tsdbdump dump <pod> [--from T] [--to T] [-o out.tar.gz] [--snapshot] [--json]
       tsdbdump dump <dump.tar.gz|data-dir> --exact --from T --to T -o out.tar.gz [--json]

Streams \`tar\` from the pod through gzip into <out>.partial and renames it to <out> only when the
SHA-256 of every file, computed in the pod and on the received bytes, matches; writes
<out>.manifest.json beside it. Blocks are chosen whole: every block overlapping [from, to) is
included (block-granular, so the dump can hold samples outside the range); the head
(chunks_head/, wal/) is always included. Files that grow or vanish while the dump runs (WAL
appends, compaction) are reported, not fatal. Without tar in the pod, files are read one by one.

Resume: an interrupted or cancelled dump keeps <out>.partial and <out>.partial.resume.json (its
progress, fsynced every second). Running the same command again continues it: the files received
before are checked again (decoded from the partial, and their SHA-256 against the pod's) and not
sent again, the file in flight continues from its last durable byte (\`tail -c +N\` in the pod),
and what changed in the pod since (a WAL segment written to, a block compacted away, another
range) is read again or left out, as a fresh dump would. The result is the same dump.

--exact (local dumps and data dirs for now): the output's blocks hold only the samples in
[from, to): blocks wholly inside are kept byte for byte, blocks across an edge are cut into new
blocks (edge chunks re-encoded), the rest is left out. The head becomes blocks from its WAL, cut
alike (histogram samples and the out-of-order WBL are not converted yet: counted in the output).

Times: RFC 3339 with a zone (2025-01-03T06:00:00Z), epoch milliseconds, or now-6h / now.

Options:
  --from T, --to T    time range (default: everything)
  -o, --output FILE   output .tar.gz (default: <context>-<namespace>-<pod>-<time>.tar.gz)
  --snapshot          use Prometheus's admin API snapshot (consistent; needs --web.enable-admin-api)
  --gzip-level N      fixed gzip level 0-9 (default: level 1 where it saves space, stored where the
                      data is already compressed, like chunk segments; always a valid gzip)
  --rate-limit MB     at most MB megabytes per second from the pod (spares a busy cluster)
  --no-resume         start over even when <out>.partial of an interrupted run could be continued
  --exact             only the samples in [from, to) (see above; needs --from, --to and -o)
  --json              print the result as JSON
${KUBE_USAGE}
  -h, --help          show this help`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs('dump', argv, {
      ...KUBE_OPTIONS,
      from: { type: 'string' },
      to: { type: 'string' },
      output: { type: 'string', short: 'o' },
      snapshot: { type: 'boolean' },
      'gzip-level': { type: 'string' },
      'rate-limit': { type: 'string' },
      json: { type: 'boolean' },
      exact: { type: 'boolean' },
      'no-resume': { type: 'boolean' },
    });
    if (values.help) {
      ctx.stdout.write(`${this.usage}\n`);
      return 0;
    }
    if (positionals.length !== 1) throw new ToolError('usage', 'dump: expected exactly one <pod> (see `tsdbdump dump --help`)');
    const now = Date.now();
    const { from, to } = requestedRange(values, now);
    if (values.exact) return runExact(positionals[0], from, to, values.output as string | undefined, !!values.json, ctx);
    const level = values['gzip-level'] !== undefined ? Number(values['gzip-level']) : undefined;
    if (level !== undefined && !(Number.isInteger(level) && level >= 0 && level <= 9))
      throw new ToolError('usage', 'dump: --gzip-level must be 0-9');
    const rate = values['rate-limit'] !== undefined ? Number(values['rate-limit']) : undefined;
    if (rate !== undefined && !(rate > 0)) throw new ToolError('usage', 'dump: --rate-limit must be a positive number of MB/s');
    const target = targetFrom(positionals[0], values);
    const plan = await planDump({ target, from, to, snapshot: !!values.snapshot, signal: ctx.signal });
    const stamp = new Date(now).toISOString().replace(/[:.]/g, '').replace(/\d{3}Z$/, 'Z');
    const output = path.resolve(
      (values.output as string | undefined) ?? `${plan.pod.conn.context}-${plan.pod.namespace}-${plan.pod.name}-${stamp}.tar.gz`,
    );
    const log = (s: string) => ctx.stderr.write(`${s}\n`);
    log(
      `dumping ${plan.pod.conn.context}/${plan.pod.namespace}/${plan.pod.name}:${plan.root} ` +
        `(Prometheus ${plan.status.version ?? 'unknown'})`,
    );
    if (from !== undefined || to !== undefined) log(`requested ${utc(from)} – ${utc(to)}`);
    log(
      `blocks: ${plan.blocks.length} included${plan.skippedBlocks.length ? `, ${plan.skippedBlocks.length} outside the range` : ''}; ` +
        `effective block range ${utc(plan.effectiveRange.minTime)} – ${utc(plan.effectiveRange.maxTime)}, plus the head`,
    );
    for (const b of plan.blocks) log(`  ${b.dir}  ${utc(b.minTime)} – ${utc(b.maxTime)}`);
    for (const n of plan.notes) log(`note: ${n}`);
    log(
      `estimated size ${humanBytes(plan.estimatedBytes)} before ` +
        `compression${plan.useTar ? '' : ' (no tar in the pod: reading files one by one)'}`,
    );
    const progress = ctx.progress('dumping');
    let result;
    try {
      result = await executeDump(plan, output, {
        signal: ctx.signal,
        gzipLevel: level,
        maxBytesPerSecond: rate ? rate * 1e6 : undefined,
        resume: !values['no-resume'],
        onProgress: (p) => progress.update(p.bytes, p.totalBytes, p.message ?? p.entry),
      });
    } finally {
      progress.done();
    }
    if (values.json) {
      const { manifestData, plan: _plan, ...rest } = result;
      ctx.stdout.write(
        `${JSON.stringify({ ...rest, prometheusVersion: manifestData.prometheusVersion, warnings: manifestData.warnings }, null, 2)}\n`,
      );
    } else {
      ctx.stdout.write(
        `wrote ${result.output} ` +
          `(${humanBytes(result.bytes)}, ${result.files} files, checksums verified) and ${path.basename(result.manifest)}\n`,
      );
      for (const line of resumeLines(result)) ctx.stdout.write(`${line}\n`);
      if (result.changedDuringDump.length)
        ctx.stdout.write(`changed during the dump (hash of what was sent recorded): ${result.changedDuringDump.join(', ')}\n`);
      for (const w of result.manifestData.warnings) ctx.stdout.write(`warning: ${w}\n`);
      for (const c of result.cleanedUp) ctx.stdout.write(`${removedLeftoverLine(c)}\n`);
    }
    return 0;
  },
};

/** What a resumed dump kept, which file continued from which byte, and what this run transferred. */
export function resumeLines(r: Pick<DumpOutcome, 'resumed' | 'notes' | 'transferredBytes'>): string[] {
  const lines = (r.notes ?? []).map((n) => `note: ${n}`);
  const k = r.resumed;
  if (!k) return lines;
  const tops = new Map<string, number>();
  for (const f of k.keptFiles) tops.set(f.split('/')[0], (tops.get(f.split('/')[0]) ?? 0) + 1);
  lines.push(
    `resumed an interrupted dump: kept ${k.files} files (${humanBytes(k.bytes)}) verified by SHA-256, not sent again: ` +
      [...tops].map(([t, n]) => `${t} (${n})`).join(', '),
  );
  if (k.inFlight) lines.push(`continued ${k.inFlight.path} from byte ${k.inFlight.fromByte} of ${k.inFlight.size}`);
  for (const d of k.dropped) lines.push(`not kept: ${d}`);
  lines.push(`transferred ${humanBytes(r.transferredBytes ?? 0)} from the pod in this run`);
  return lines;
}

async function runExact(
  source: string,
  from: number | undefined,
  to: number | undefined,
  output: string | undefined,
  json: boolean,
  ctx: CliContext,
): Promise<number> {
  if (from === undefined || to === undefined || output === undefined)
    throw new ToolError('usage', 'dump --exact: needs --from, --to and -o');
  if (!existsSync(source))
    throw new ToolError('usage', `dump --exact: ${source} is not a local dump or data dir (exact dumps from a pod are not supported yet)`);
  const r = await exactDump(source, output, { from, to }, { signal: ctx.signal });
  if (json) {
    ctx.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    return 0;
  }
  ctx.stdout.write(`wrote ${r.output}: ${r.samples} samples in [${utc(from)}, ${utc(to)}) (${humanBytes(r.bytes)})\n`);
  for (const b of r.blocks) {
    const what = b.action === 'cut' ? (b.cutUlid ? `cut into ${b.cutUlid}` : 'cut: no sample in the window') : b.action;
    const name = b.fromHead ? 'head (from the WAL)       ' : b.ulid;
    ctx.stdout.write(`  ${name}  ${utc(b.minTime)} – ${utc(b.maxTime)}  ${what}, ${b.samples} samples\n`);
  }
  for (const d of r.unreadableBlocks) ctx.stdout.write(`left out: block ${d} (no readable meta.json)\n`);
  for (const c of r.droppedEdgeChunks) {
    ctx.stdout.write(
      `dropped: encoding-${c.encoding} chunk of {${c.labels.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}} ${utc(c.minTime)} ` +
        `– ${utc(c.maxTime)} (${c.samples} samples) crosses an edge and cannot be re-encoded\n`,
    );
  }
  if (r.head) {
    const l = r.head.left;
    const lost = Object.entries(l)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${n} ${k}`);
    if (lost.length) ctx.stdout.write(`head samples not converted: ${lost.join(', ')}\n`);
    for (const p of r.head.problems) ctx.stdout.write(`head: ${p}\n`);
  }
  return 0;
}
