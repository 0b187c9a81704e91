import type { Command } from 'commander';
import { listSource } from '../../api/read.js';
import { openSource } from '../../api/source.js';
import { PstoreError } from '../../errors.js';
import { checkGeometry } from '../../mtdpstore/geometry.js';
import { validateConfig, type Verdict } from '../../zone/config.js';
import { isoTime, table } from '../format.js';
import { addSourceOptions, printJson, sourceOptions, type SourceFlags } from '../options.js';
import { action } from '../run.js';

export function registerInfo(program: Command): void {
  addSourceOptions(
    program
      .command('info')
      .description('what an image holds: geometry, detected format / ABI / byte order / zone size, the zone table, validation verdicts (read-only)')
      .argument('<image>', 'image file or device node')
      .option('--json', 'print everything as JSON'),
  ).action(
    action((image: string, flags: SourceFlags) => {
      const opts = sourceOptions(image, flags);
      const src = openSource(image, opts);
      try {
        const det = src.detection;
        let listing: ReturnType<typeof listSource> | undefined;
        let listError: string | undefined;
        try {
          listing = det.kind === 'empty' && !opts.format ? undefined : listSource(src, opts);
        } catch (e) {
          if (!(e instanceof PstoreError)) throw e;
          listError = e.message;
        }
        const g = src.device?.geometry;
        const verdicts: Verdict[] = [];
        const zoneSize = listing?.zoneSize ?? opts.zoneSize ?? det.zoneSize;
        if (listing?.format === 'pstore' && zoneSize) {
          const rep = validateConfig({ totalSize: src.dataSize, kmsgSize: zoneSize });
          verdicts.push(...rep.verdicts.filter((v) => v.reached));
          if (g) {
            for (const policy of ['kernel', 'hardened'] as const) {
              const v = checkGeometry(g, zoneSize, policy);
              verdicts.push({
                id: `mtdpstore.attach.${policy}`,
                rule: `mtdpstore attach checks (${policy} policy)`,
                ok: v.ok,
                reached: true,
                severity: 'error',
                ...(v.ok ? {} : { message: v.message, errno: 'EINVAL' as const, hint: v.advice }),
              });
            }
          }
        }
        const zones =
          listing?.layout?.kmsg.map((z) => {
            const f = listing!.files.find((x) => x.type === 0 && x.id === z.index && !x.removed);
            const d = listing!.diagnostics.find((x) => x.type === 0 && x.index === z.index);
            return { index: z.index, offset: z.offset, size: z.size, state: f ? 'record' : d ? d.reason : 'empty', file: f?.name, time: f?.time ?? null, detail: d?.detail };
          }) ?? [];
        const out = {
          image,
          fileSize: src.fileSize,
          dataSize: src.dataSize,
          read: src.device ? { as: 'mtd', geometry: g, badBlocks: (src.device as unknown as { badBlocks(): number[] }).badBlocks?.() ?? [] } : { as: 'linear' },
          detection: { kind: det.kind, endian: det.endian, abi: det.abi, zoneSize: det.zoneSize, confidence: det.confidence, detail: det.detail, given: det.given, evidence: det.evidence, candidates: det.candidates, equivalentAbis: det.equivalentAbis },
          format: listing?.format ?? (det.kind === 'empty' ? 'empty' : 'unknown'),
          zones,
          mtdoops: listing?.mtdoops ? { recordSize: listing.mtdoops.recordSize, next: listing.mtdoops.next, records: listing.mtdoops.records.length } : undefined,
          verdicts,
          notes: [...(listing?.notes ?? src.notes), ...(listError ? [listError] : [])],
        };
        if (flags.json) {
          printJson(out);
          return;
        }
        const w = (s: string) => process.stdout.write(s + '\n');
        w(`image:      ${image} (${src.fileSize} bytes; ${src.dataSize} bytes of data)`);
        if (g) w(`geometry:   ${g.type} size ${g.size}, erasesize ${g.erasesize}, writesize ${g.writesize}, oobsize ${g.oobsize}; bad blocks: ${out.read.badBlocks?.join(', ') || 'none'}`);
        else w('geometry:   not given (read as a linear image; pass --erasesize/--writesize/--oob/--bad-blocks to read it as flash)');
        w(`format:     ${out.format}${det.kind === 'pstore-zone' ? ` (pstore/zone, ${det.endian === 'be' ? 'big' : 'little'}-endian, ABI ${det.abi}${det.equivalentAbis?.length ? ` = ${det.equivalentAbis.join(', ')}` : ''}, kmsg zone ${det.zoneSize !== undefined ? `${det.zoneSize} bytes` : 'size not detected: pass --kmsg-size'})` : ''}`);
        const overrides = det.kind === 'mtdoops' ? '--record-size, --endian, --format' : '--kmsg-size, --abi, --endian, --format';
        w(`detection:  ${det.confidence}${Object.values(det.given).some(Boolean) ? ' (some values given on the command line)' : ''}; override with ${overrides}`);
        for (const e of det.evidence) w(`  - ${e}`);
        if (det.candidates?.zoneSize?.length) w(`  other zone sizes that fit: ${det.candidates.zoneSize.join(', ')}`);
        if (zones.length) {
          w('zones:');
          process.stdout.write(
            table(
              ['ZONE', 'OFFSET', 'SIZE', 'STATE', 'FILE', 'TIME'],
              zones.map((z) => [String(z.index), '0x' + z.offset.toString(16), String(z.size), z.state, z.file ?? '', isoTime(z.time)]),
            ),
          );
        }
        if (out.mtdoops) w(`mtdoops:    ${out.mtdoops.records} record(s) of ${out.mtdoops.recordSize} bytes; next write: slot ${out.mtdoops.next.slot}, seq ${out.mtdoops.next.seq}`);
        if (verdicts.length) {
          w('validation:');
          for (const v of verdicts) w(`  ${v.ok ? 'ok  ' : v.severity === 'error' ? 'FAIL' : 'warn'} ${v.id}: ${v.rule}${!v.ok && v.message ? ` — "${v.message}"` : ''}${!v.ok && v.hint ? ` → ${v.hint}` : ''}`);
        }
        for (const n of out.notes) w(`note: ${n}`);
      } finally {
        src.close();
      }
    }),
  );
}
