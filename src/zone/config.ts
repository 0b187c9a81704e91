/**
 * Configuration of the pstore/blk + pstore/zone stack: pstore/blk's module
 * parameters (KiB) and their conversion to zone sizes, pstore/zone's
 * registration checks in the kernel's order, and the zone layout they
 * produce (spec/config.md §1–§3, spec/zone-policy.md §1–§2).
 *
 * Kernel-exact on purpose: the KiB rounding bug, the 128 MiB cap (v5.14+),
 * the order of the checks and their messages are reproduced, so that a
 * configuration can be validated and simulated before it is flashed onto a
 * board. Where the kernel would crash instead of failing cleanly, this module
 * reports an EINVAL error that says so.
 *
 * Two API styles over one rule set:
 *  - {@link computeLayout} throws a {@link ConfigError} at the first failing
 *    rule, exactly where the kernel would stop;
 *  - {@link validateConfig} evaluates every rule and returns one verdict per
 *    rule (for the CLI's `info` command and board bring-up).
 */
import { PstoreError, hex, type ErrnoName } from '../errors.js';
import { DEFAULT_ABI, type Abi } from './abi.js';
import { PstoreType, ZONE_HEADER_SIZE, kmsgHeaderSize, reasonString } from './format.js';
import type { ZoneInfo, ZoneLayout } from './layout.js';

// ---------------------------------------------------------------------------
// Kernel messages and versions

/** Kernel module that prints a message (the `<module>: ` log prefix). */
export type KernelModule = 'pstore_blk' | 'pstore_zone' | 'pstore' | 'mtdpstore';

/** One line the kernel would log, without its module prefix in `text`. */
export interface ConfigMessage {
  readonly level: 'info' | 'warn' | 'err';
  readonly module: KernelModule;
  readonly text: string;
}

/** The log line as the kernel prints it (`pstore_zone: capping size to 128MiB`). */
export function formatMessage(m: ConfigMessage): string {
  return `${m.module}: ${m.text}`;
}

/** A parsed kernel release (only major and minor matter here). */
export interface KernelVersion {
  readonly major: number;
  readonly minor: number;
  /** "6.1" style text. */
  readonly text: string;
}

/** The newest kernel behaviour this module models (spec range v5.8–v6.17). */
export const NEWEST_KERNEL = '6.17';
/** First release with pstore/zone, pstore/blk and mtdpstore. */
export const OLDEST_KERNEL = '5.8';

/**
 * Releases where modelled behaviour changes (spec/versions.md).
 * `zeroZoneCheck`: the spec only says "after v6.6, present in v6.17"; the
 * first release after v6.6 (6.7) is assumed.
 */
export const KERNEL_CHANGES = {
  /** pstore/zone caps total_size at 128 MiB ("believed" v5.14). */
  sizeCap: '5.14',
  /** pstore/blk registration logs its device checks. */
  blkRegisterMessages: '5.14',
  /** compression through the zlib library; new limits. */
  zlibCompression: '6.6',
  /** "zone <name> total_size too small" instead of a crash. */
  zeroZoneCheck: '6.7',
} as const;

/**
 * Parse "6.1", "v5.10", "6.1.0-57-amd64" into a version.
 * @throws PstoreError EINVAL for text that is not a kernel release, or one
 *   older than v5.8 (no pstore/zone there).
 */
export function parseKernelVersion(text: string): KernelVersion {
  const m = /^\s*v?(\d+)\.(\d+)(?:[.\-+~].*)?\s*$/.exec(text);
  if (!m) throw new PstoreError('EINVAL', `kernel version '${text}' not understood: give it as <major>.<minor>, e.g. 6.1`);
  const v = { major: Number(m[1]), minor: Number(m[2]), text: `${Number(m[1])}.${Number(m[2])}` };
  if (versionBefore(v, OLDEST_KERNEL)) {
    throw new PstoreError('EINVAL', `kernel ${v.text} has no pstore/zone (it appeared in v${OLDEST_KERNEL}): choose ${OLDEST_KERNEL} or newer`);
  }
  return v;
}

function versionBefore(v: KernelVersion, other: string): boolean {
  const [maj, min] = other.split('.').map(Number) as [number, number];
  return v.major < maj || (v.major === maj && v.minor < min);
}

/** True if kernel `v` includes the change that appeared in release `since`. */
export function kernelHas(v: KernelVersion, since: string): boolean {
  return !versionBefore(v, since);
}

// ---------------------------------------------------------------------------
// Errors

/**
 * A configuration the kernel would refuse (or crash on). `message` is the
 * kernel's own text where it prints one; `log` holds every line the kernel
 * would print on the way (e.g. "no room for …" then "alloc zones failed");
 * `rule` names the check (config.md §3 row, e.g. "zone.17"); `hint` says what
 * to change.
 */
export class ConfigError extends PstoreError {
  constructor(
    code: ErrnoName,
    message: string,
    readonly rule: string,
    readonly log: readonly string[],
    readonly hint?: string,
  ) {
    super(code, message);
    this.name = 'ConfigError';
  }
}

// ---------------------------------------------------------------------------
// Integer parsing (kstrtoint and friends)

/** Options of {@link parseKernelInt}. */
export interface KernelIntOptions {
  /** Accept a leading '-' (kstrtoint/kstrtol). Default true. */
  signed?: boolean;
  /** Width of the target type. Default 32 (int). */
  bits?: 32 | 64;
}

/**
 * Parse an integer the way the kernel's kstrto* helpers do with base 0:
 * optional '+' (or '-' when signed), then `0x`/`0X` followed by a hex digit
 * selects hex, a leading `0` selects octal, otherwise decimal; exactly one
 * trailing newline is tolerated; no spaces; the value must fit the type.
 * Used for mtdpstore's `blkdev` (test vector M12: "0x3" → 3) and mtdoops'
 * `mtddev`.
 *
 * @returns the value, or undefined where the kernel's parse fails (the caller
 *   then falls back to name matching).
 */
export function parseKernelInt(text: string, opts: KernelIntOptions = {}): number | undefined {
  const signed = opts.signed ?? true;
  const bits = opts.bits ?? 32;
  let s = text;
  let negative = false;
  if (signed && s.startsWith('-')) {
    negative = true;
    s = s.slice(1); // the magnitude parse does not accept a second sign
  } else if (s.startsWith('+')) {
    s = s.slice(1);
  }
  let base = 10;
  if (s[0] === '0' && (s[1] === 'x' || s[1] === 'X') && /^[0-9a-fA-F]$/.test(s[2] ?? '')) {
    base = 16;
    s = s.slice(2);
  } else if (s[0] === '0') {
    base = 8;
  }
  const digitsRe = base === 16 ? /^[0-9a-fA-F]+/ : base === 8 ? /^[0-7]+/ : /^[0-9]+/;
  const m = digitsRe.exec(s);
  if (!m) return undefined;
  let rest = s.slice(m[0].length);
  if (rest.startsWith('\n')) rest = rest.slice(1);
  if (rest !== '') return undefined;
  let mag = 0n;
  const limit64 = 1n << 64n;
  for (const ch of m[0]) {
    mag = mag * BigInt(base) + BigInt(parseInt(ch, base));
    if (mag >= limit64) return undefined; // the unsigned 64-bit parse overflows (-ERANGE)
  }
  const value = negative ? -mag : mag;
  const [lo, hi] = signed
    ? [-(1n << BigInt(bits - 1)), (1n << BigInt(bits - 1)) - 1n]
    : [0n, (1n << BigInt(bits)) - 1n];
  if (value < lo || value > hi) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

// ---------------------------------------------------------------------------
// pstore/blk: module parameters → zone sizes

/** The pstore frontends a device can support (pstore/blk device flags). */
export type Frontend = 'dmesg' | 'pmsg' | 'console' | 'ftrace';
export const FRONTENDS: readonly Frontend[] = ['dmesg', 'pmsg', 'console', 'ftrace'];

/** What the registering device supports. Nothing given = all frontends (flags 0). */
export interface DeviceFlags {
  /** mtdpstore registers with flags = dmesg only. */
  dmesgOnly?: boolean;
  /** Explicit list; empty or absent means all (the kernel's flags = 0). */
  frontends?: readonly Frontend[];
}

/** mtdpstore's flags: dmesg only. */
export const MTDPSTORE_FLAGS: DeviceFlags = { dmesgOnly: true };

/** pstore_blk module parameters as a user writes them (sizes in KiB; −1 or 0 disables). */
export interface PstoreBlkParams {
  /** `pstore_blk.kmsg_size` (KiB). Default 64. */
  kmsgSize?: number;
  /** `pstore_blk.pmsg_size` (KiB). Default −1 (64 when CONFIG_PSTORE_PMSG is built: pass it). */
  pmsgSize?: number;
  /** `pstore_blk.console_size` (KiB). Default −1 (64 when CONFIG_PSTORE_CONSOLE is built). */
  consoleSize?: number;
  /** `pstore_blk.ftrace_size` (KiB, all CPUs). Default −1 (64 when CONFIG_PSTORE_FTRACE is built). */
  ftraceSize?: number;
  /** `pstore_blk.max_reason`. Default 2 (Oops). */
  maxReason?: number;
  /** `pstore_blk.blkdev`: for mtdpstore the MTD name or number. Default "". */
  blkdev?: string;
  /** `pstore_blk.best_effort`. Default false. */
  bestEffort?: boolean;
}

/** Defaults of the pstore_blk parameters (Kconfig defaults, optional frontends not built). */
export const PSTORE_BLK_DEFAULTS: Readonly<Required<PstoreBlkParams>> = {
  kmsgSize: 64,
  pmsgSize: -1,
  consoleSize: -1,
  ftraceSize: -1,
  maxReason: 2,
  blkdev: '',
  bestEffort: false,
};

/** Longest `blkdev` string (the parameter buffer holds 80 bytes with the NUL). */
export const BLKDEV_MAX = 79;

/** Zone sizes in bytes as pstore/zone receives them. */
export interface ZoneSizes {
  kmsgSize: number;
  pmsgSize: number;
  consoleSize: number;
  ftraceSize: number;
}

/** Where a pstore_blk parameter conversion happened. */
export type BlkPhase = 'get_config' | 'register';

export interface BlkMessage extends ConfigMessage {
  readonly phase: BlkPhase;
}

/** Result of {@link pstoreBlkConfig}. */
export interface PstoreBlkConfig {
  /** The parameters with defaults filled in. */
  readonly params: Readonly<Required<PstoreBlkParams>>;
  /** What `pstore_blk_get_config` hands a driver (mtdpstore takes its kmsg_size from here); no flags applied. */
  readonly getConfig: Readonly<ZoneSizes & { maxReason: number }>;
  /** The sizes pstore/blk registers with pstore/zone (unsupported frontends 0), plus max_reason and the zone name. */
  readonly zone: Readonly<ZoneSizes & { maxReason: number; name: string }>;
  /** `/sys/module/pstore_blk/parameters/*` after registration (KiB = bytes ÷ 1024). */
  readonly readback: Readonly<{ kmsg_size: number; pmsg_size: number; console_size: number; ftrace_size: number; max_reason: number }>;
  /** Log lines, in order (both conversions log their alignment complaints). */
  readonly messages: readonly BlkMessage[];
  /** Project notes about risky settings (not kernel messages). */
  readonly notes: readonly string[];
}

const MAX_KIB = Math.floor(Number.MAX_SAFE_INTEGER / 1024);

/**
 * pstore/blk's KiB → bytes conversion (config.md §1.2), with its bug: when
 * p·1024 is not a multiple of 4096, the *KiB value* p is rounded up to a
 * multiple of 4096 and used as the byte count (p = 6 → 4096, not 8192).
 *
 * @param name parameter name for the message, e.g. "kmsg_size"
 * @param p value in KiB; ≤ 0 disables (0 bytes)
 * @throws PstoreError EINVAL if p is not a whole number or absurdly large
 */
export function kibToBytes(name: string, p: number): { bytes: number; warning?: string } {
  if (!Number.isInteger(p)) {
    throw new PstoreError('EINVAL', `${name}=${p}: pstore_blk sizes are whole numbers of KiB (module parameter of type long)`);
  }
  if (p > MAX_KIB) throw new PstoreError('EINVAL', `${name}=${p} KiB is too large to represent: use a realistic size`);
  const bytes = p <= 0 ? 0 : p * 1024;
  if (bytes % 4096 !== 0) {
    return { bytes: Math.ceil(p / 4096) * 4096, warning: `${name} must align to 4096` };
  }
  return { bytes };
}

function supported(flags: DeviceFlags | undefined, f: Frontend): boolean {
  if (!flags) return true;
  if (flags.dmesgOnly) return f === 'dmesg';
  if (!flags.frontends || flags.frontends.length === 0) return true;
  return flags.frontends.includes(f);
}

/**
 * Evaluate pstore_blk's parameters the way the kernel does: the conversion in
 * `pstore_blk_get_config` (all sizes, no flags) and at device registration
 * (frontends the device does not support become 0, and each module parameter
 * is overwritten with bytes ÷ 1024 — test vectors S6, S7).
 *
 * @param device the registering device's frontend flags; mtdpstore: {@link MTDPSTORE_FLAGS}
 * @throws PstoreError EINVAL for non-integer sizes or max_reason;
 *   ENOSPC when blkdev is longer than 79 characters (the kernel refuses the parameter)
 */
export function pstoreBlkConfig(params: PstoreBlkParams = {}, device?: DeviceFlags): PstoreBlkConfig {
  const p: Required<PstoreBlkParams> = {
    kmsgSize: params.kmsgSize ?? PSTORE_BLK_DEFAULTS.kmsgSize,
    pmsgSize: params.pmsgSize ?? PSTORE_BLK_DEFAULTS.pmsgSize,
    consoleSize: params.consoleSize ?? PSTORE_BLK_DEFAULTS.consoleSize,
    ftraceSize: params.ftraceSize ?? PSTORE_BLK_DEFAULTS.ftraceSize,
    maxReason: params.maxReason ?? PSTORE_BLK_DEFAULTS.maxReason,
    blkdev: params.blkdev ?? PSTORE_BLK_DEFAULTS.blkdev,
    bestEffort: params.bestEffort ?? PSTORE_BLK_DEFAULTS.bestEffort,
  };
  if (!Number.isInteger(p.maxReason) || Math.abs(p.maxReason) > 2 ** 31) {
    throw new PstoreError('EINVAL', `max_reason=${p.maxReason}: must be an integer (0 = default filtering, 1 Panic, 2 Oops, 3 Emergency, 4 Shutdown)`);
  }
  if (p.blkdev.length > BLKDEV_MAX) {
    throw new PstoreError('ENOSPC', `blkdev: string doesn't fit in ${BLKDEV_MAX} chars. (shorten the device name; name the MTD partition "pstore")`);
  }
  const names = [
    ['dmesg', 'kmsg_size', 'kmsgSize'],
    ['pmsg', 'pmsg_size', 'pmsgSize'],
    ['console', 'console_size', 'consoleSize'],
    ['ftrace', 'ftrace_size', 'ftraceSize'],
  ] as const;
  const messages: BlkMessage[] = [];
  const getConfig = { kmsgSize: 0, pmsgSize: 0, consoleSize: 0, ftraceSize: 0, maxReason: p.maxReason };
  for (const [, param, key] of names) {
    const r = kibToBytes(param, p[key]);
    getConfig[key] = r.bytes;
    if (r.warning) messages.push({ level: 'info', module: 'pstore_blk', text: r.warning, phase: 'get_config' });
  }
  const zone = { kmsgSize: 0, pmsgSize: 0, consoleSize: 0, ftraceSize: 0, maxReason: p.maxReason, name: 'pstore_blk' };
  const readback = { kmsg_size: 0, pmsg_size: 0, console_size: 0, ftrace_size: 0, max_reason: p.maxReason };
  for (const [frontend, param, key] of names) {
    let bytes = 0;
    if (supported(device, frontend)) {
      const r = kibToBytes(param, p[key]);
      bytes = r.bytes;
      if (r.warning) messages.push({ level: 'info', module: 'pstore_blk', text: r.warning, phase: 'register' });
    }
    zone[key] = bytes;
    readback[param] = Math.trunc(bytes / 1024);
  }
  const notes: string[] = [];
  if (p.bestEffort && p.blkdev !== '' && !p.blkdev.startsWith('/dev/') && device?.dmesgOnly) {
    notes.push(
      `best_effort=Y with blkdev '${p.blkdev}': pstore_blk will try to open it as a block device at init and fail; as a module it then fails to load, and mtdpstore with it (config.md §1.3). Leave best_effort off for MTD.`,
    );
  }
  return { params: p, getConfig, zone, readback, messages, notes };
}

// ---------------------------------------------------------------------------
// pstore/zone registration and layout

/** Largest device pstore/zone uses since v5.14 (SZ_128M). */
export const ZONE_SIZE_CAP = 128 * 1024 * 1024;
const SECTOR_SIZE = 512;
/** 2^64: size_t arithmetic of a 64-bit kernel. */
const SIZE_T_WRAP = 1n << 64n;

/** Inputs of {@link computeLayout} / the zone part of {@link validateConfig}. Sizes in bytes. */
export interface LayoutParams {
  /** Device (partition) size in bytes, before the 128 MiB cap. */
  totalSize: number;
  /** Size of one kmsg zone (0 = no dmesg). */
  kmsgSize: number;
  pmsgSize?: number;
  consoleSize?: number;
  /** Total ftrace size (all CPUs). */
  ftraceSize?: number;
  /** nr_cpu_ids of the running kernel (ftrace zones). Default 1. */
  nrCpus?: number;
  /** Backend name. Default "pstore_blk". */
  name?: string;
  /** Kernel release whose behaviour to model, e.g. "6.1". Default {@link NEWEST_KERNEL}. */
  kernelVersion?: string;
  /** Alias of kernelVersion. */
  kernel?: string;
  /** Whether the backend has read / write operations (rule 15). Default true. */
  hasRead?: boolean;
  hasWrite?: boolean;
  /** Whether it has a panic write (only changes the success log line). Default true (mtdpstore has one). */
  hasPanicWrite?: boolean;
  /** Name of a backend already registered with pstore/zone (rule 16 → EBUSY). */
  registered?: string;
  /** max_reason passed on (only for the success log line). Default 2. */
  maxReason?: number;
}

/** A layout with the kernel's log lines and a few derived figures. */
export interface LayoutResult {
  readonly layout: ZoneLayout;
  /** Log lines in order: warnings (cap) and the "registered … as backend" line. */
  readonly messages: readonly ConfigMessage[];
  /** The kernel release modelled. */
  readonly kernel: string;
  /** Bytes of the (capped) device never used by any zone. */
  readonly unusedBytes: number;
  /** Offset where the kmsg zones start (may be unaligned when ftrace_size is not a multiple of nr_cpus: L3). */
  readonly kmsgStart: number;
}

/** One checked rule. */
export interface Verdict {
  /** Stable id: "zone.1" … "zone.17" follow config.md §3 rows; "blk.*", "mtdpstore.*" and "derived.*" the other sources. */
  readonly id: string;
  /** What the rule checks, in words. */
  readonly rule: string;
  readonly ok: boolean;
  /** False when the kernel stops at an earlier failure before reaching this rule (the verdict is then informative). */
  readonly reached: boolean;
  /** 'error' fails registration; 'warning' is logged but continues; 'info' is a remark. */
  readonly severity: 'error' | 'warning' | 'info';
  /** Kernel message (without module prefix) where one is printed, else our explanation. */
  readonly message?: string;
  /** Kernel errno name of a failure. */
  readonly errno?: ErrnoName;
  /** What to change. */
  readonly hint?: string;
}

interface RuleOutcome {
  verdicts: Verdict[];
  layout?: ZoneLayout;
  messages: ConfigMessage[];
  unusedBytes: number;
  kmsgStart: number;
  kernel: KernelVersion;
  /** Log lines leading to the first failure. */
  failLog: string[];
}

function assertSize(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new PstoreError('EINVAL', `${name}=${v}: must be a whole, non-negative number of bytes`);
  }
}

function zoneMsg(level: ConfigMessage['level'], text: string): ConfigMessage {
  return { level, module: 'pstore_zone', text };
}

/**
 * Every pstore/zone registration rule in the kernel's order (config.md §3),
 * evaluated completely: after the first failure the remaining rules are still
 * evaluated (marked `reached: false`) so a report can show every problem.
 */
function evaluateZoneRules(params: LayoutParams): RuleOutcome {
  const kernel = parseKernelVersion(params.kernelVersion ?? params.kernel ?? NEWEST_KERNEL);
  assertSize('total_size', params.totalSize);
  const kmsgSize = params.kmsgSize;
  const pmsgSize = params.pmsgSize ?? 0;
  const consoleSize = params.consoleSize ?? 0;
  const ftraceSize = params.ftraceSize ?? 0;
  assertSize('kmsg_size', kmsgSize);
  assertSize('pmsg_size', pmsgSize);
  assertSize('console_size', consoleSize);
  assertSize('ftrace_size', ftraceSize);
  const nrCpus = params.nrCpus ?? 1;
  if (!Number.isSafeInteger(nrCpus) || nrCpus < 1) {
    throw new PstoreError('EINVAL', `nr_cpus=${nrCpus}: must be a whole number ≥ 1 (the kernel's nr_cpu_ids)`);
  }
  const name = params.name ?? 'pstore_blk';

  const verdicts: Verdict[] = [];
  const messages: ConfigMessage[] = [];
  const failLog: string[] = [];
  let failed = false;
  const add = (v: Omit<Verdict, 'reached'>, logLines: ConfigMessage[] = []) => {
    verdicts.push({ ...v, reached: !failed });
    if (!failed) {
      for (const m of logLines) {
        messages.push(m);
        failLog.push(formatMessage(m));
      }
      if (!v.ok && v.severity === 'error') failed = true;
    }
  };

  let total = params.totalSize;
  // Rule 1.
  add(
    total < 4096
      ? { id: 'zone.1', rule: 'total_size >= 4096', ok: false, severity: 'error', message: 'total_size must be >= 4096', errno: 'EINVAL', hint: 'the device must be at least 4 KiB' }
      : { id: 'zone.1', rule: 'total_size >= 4096', ok: true, severity: 'info' },
    total < 4096 ? [zoneMsg('warn', 'total_size must be >= 4096')] : [],
  );
  // Rule 2: the cap, since v5.14.
  if (kernelHas(kernel, KERNEL_CHANGES.sizeCap) && total > ZONE_SIZE_CAP) {
    add(
      {
        id: 'zone.2', rule: 'total_size <= 128 MiB (capped, v5.14+)', ok: true, severity: 'warning', message: 'capping size to 128MiB',
        hint: `only the first 128 MiB of the ${total}-byte device are used; a smaller partition wastes nothing`,
      },
      [zoneMsg('warn', 'capping size to 128MiB')],
    );
    total = ZONE_SIZE_CAP;
  } else {
    add({
      id: 'zone.2', rule: 'total_size <= 128 MiB (capped, v5.14+)', ok: true, severity: 'info',
      message: kernelHas(kernel, KERNEL_CHANGES.sizeCap) ? undefined : `no size cap before v${KERNEL_CHANGES.sizeCap} (modelling ${kernel.text})`,
    });
  }
  // Rule 3.
  const allZero = kmsgSize === 0 && pmsgSize === 0 && consoleSize === 0 && ftraceSize === 0;
  add(
    allZero
      ? { id: 'zone.3', rule: 'at least one record size non-zero', ok: false, severity: 'error', message: 'at least one record size must be non-zero', errno: 'EINVAL', hint: 'set kmsg_size (pstore_blk.kmsg_size=64)' }
      : { id: 'zone.3', rule: 'at least one record size non-zero', ok: true, severity: 'info' },
    allZero ? [zoneMsg('warn', 'at least one record size must be non-zero')] : [],
  );
  // Rule 4: no message in the kernel.
  add(
    name === ''
      ? { id: 'zone.4', rule: 'backend name given', ok: false, severity: 'error', message: 'backend name is empty (pstore/zone refuses it without a log message)', errno: 'EINVAL', hint: 'register with a name, e.g. pstore_blk' }
      : { id: 'zone.4', rule: 'backend name given', ok: true, severity: 'info' },
  );
  // Rules 5–14: the size checks.
  const sizeChecks: Array<[string, number, number, number]> = [
    ['total_size', total, 4096, 5],
    ['kmsg_size', kmsgSize, SECTOR_SIZE, 7],
    ['pmsg_size', pmsgSize, SECTOR_SIZE, 9],
    ['console_size', consoleSize, SECTOR_SIZE, 11],
    ['ftrace_size', ftraceSize, SECTOR_SIZE, 13],
  ];
  for (const [n, v, unit, row] of sizeChecks) {
    const tooSmall = v > 0 && v < unit;
    add(
      tooSmall
        ? { id: `zone.${row}`, rule: `${n} 0 or >= ${unit}`, ok: false, severity: 'error', message: `${n} must be over ${unit}`, errno: 'EINVAL', hint: `use 0 or at least ${unit} bytes` }
        : { id: `zone.${row}`, rule: `${n} 0 or >= ${unit}`, ok: true, severity: 'info' },
      tooSmall ? [zoneMsg('err', `${n} must be over ${unit}`)] : [],
    );
    const misaligned = v % unit !== 0;
    add(
      misaligned
        ? { id: `zone.${row + 1}`, rule: `${n} multiple of ${unit}`, ok: false, severity: 'error', message: `${n} must be a multiple of ${unit}`, errno: 'EINVAL', hint: `round ${n} (${v}) to a multiple of ${unit}` }
        : { id: `zone.${row + 1}`, rule: `${n} multiple of ${unit}`, ok: true, severity: 'info' },
      misaligned ? [zoneMsg('err', `${n} must be a multiple of ${unit}`)] : [],
    );
  }
  // Rule 15.
  const rw = (params.hasRead ?? true) && (params.hasWrite ?? true);
  add(
    rw
      ? { id: 'zone.15', rule: 'read and write operations present', ok: true, severity: 'info' }
      : { id: 'zone.15', rule: 'read and write operations present', ok: false, severity: 'error', message: 'no valid general read/write interface', errno: 'EINVAL', hint: 'the backend must implement read and write' },
    rw ? [] : [zoneMsg('err', 'no valid general read/write interface')],
  );
  // Rule 16.
  const busy = params.registered !== undefined;
  add(
    busy
      ? { id: 'zone.16', rule: 'no other backend registered', ok: false, severity: 'error', message: `'${params.registered}' already loaded: ignoring '${name}'`, errno: 'EBUSY', hint: 'only one pstore/zone backend can be registered at a time: unload the other one first' }
      : { id: 'zone.16', rule: 'no other backend registered', ok: true, severity: 'info' },
    busy ? [zoneMsg('warn', `'${params.registered}' already loaded: ignoring '${name}'`)] : [],
  );

  // Rule 17: the zone layout (zone-policy.md §2), in the kernel's order.
  const lay = layoutZones({ total, kmsgSize, pmsgSize, consoleSize, ftraceSize, nrCpus, kernel });
  if (lay.error) {
    const e = lay.error;
    add(
      { id: 'zone.17', rule: 'zones fit the device', ok: false, severity: 'error', message: e.message, errno: e.errno, hint: e.hint },
      e.kernelLogs ? [...e.kernelLogs.map((t) => zoneMsg('err', t)), zoneMsg('err', 'alloc zones failed')] : [],
    );
  } else {
    add({ id: 'zone.17', rule: 'zones fit the device', ok: true, severity: 'info', message: describeLayout(lay.layout!) });
  }
  // Derived checks that are not kernel errors but make the kernel misbehave.
  if (lay.ftraceRecord !== undefined && lay.ftraceRecord > 0 && lay.ftraceRecord <= ZONE_HEADER_SIZE) {
    add({
      id: 'derived.ftrace-record', rule: 'ftrace zone larger than its 12-byte header', ok: false, severity: 'error', errno: 'EINVAL',
      message: `ftrace zones of ${lay.ftraceRecord} bytes (ftrace_size ${ftraceSize} ÷ ${nrCpus} CPUs) are smaller than the zone header: the kernel's data size underflows and it misbehaves`,
      hint: 'give ftrace_size at least 512 bytes per CPU',
    });
  }
  if (lay.layout) {
    const l = lay.layout;
    const notes: string[] = [];
    if (l.ftrace.length > nrCpus) notes.push(`${l.ftrace.length - nrCpus} ftrace zone(s) beyond nr_cpus are never written`);
    if (lay.unusedBytes > 0) notes.push(`${lay.unusedBytes} byte(s) at the end are never used`);
    if (lay.kmsgStart % 4096 !== 0 && l.kmsg.length > 0) notes.push(`kmsg zones start at unaligned offset ${hex(lay.kmsgStart)}`);
    if (notes.length) add({ id: 'derived.unused', rule: 'space use', ok: true, severity: 'info', message: notes.join('; ') });
  }
  if (!failed && lay.layout) {
    let line = `registered ${name} as backend for`;
    if (kmsgSize) line += ` kmsg(${reasonString(params.maxReason ?? 2)}${params.hasPanicWrite ?? true ? ',panic_write' : ''})`;
    if (pmsgSize) line += ' pmsg';
    if (consoleSize) line += ' console';
    if (ftraceSize) line += ' ftrace';
    messages.push(zoneMsg('info', line));
  }
  return { verdicts, layout: lay.layout, messages, unusedBytes: lay.unusedBytes, kmsgStart: lay.kmsgStart, kernel, failLog };
}

interface LayoutFailure {
  errno: ErrnoName;
  message: string;
  /** Lines the kernel prints (undefined when it crashes instead). */
  kernelLogs?: string[];
  hint: string;
}

/** Format an unsigned size_t value as the kernel's %zx would. */
function hexSizeT(v: bigint): string {
  return '0x' + (((v % SIZE_T_WRAP) + SIZE_T_WRAP) % SIZE_T_WRAP).toString(16);
}

function layoutZones(a: {
  total: number;
  kmsgSize: number;
  pmsgSize: number;
  consoleSize: number;
  ftraceSize: number;
  nrCpus: number;
  kernel: KernelVersion;
}): { layout?: ZoneLayout; error?: LayoutFailure; unusedBytes: number; kmsgStart: number; ftraceRecord?: number } {
  const { total, kmsgSize, pmsgSize, consoleSize, ftraceSize, nrCpus, kernel } = a;
  let off = 0;
  let pmsg: ZoneInfo | undefined;
  let console: ZoneInfo | undefined;
  const fail = (error: LayoutFailure) => ({ error, unusedBytes: 0, kmsgStart: off });
  const single = (type: number, tname: string, size: number): ZoneInfo | LayoutFailure | undefined => {
    if (size === 0) return undefined;
    if (off + size > total) {
      const m = `no room for ${tname} (${hex(size)}@${hex(off)} over ${hex(total)})`;
      return { errno: 'ENOMEM', message: m, kernelLogs: [m], hint: `${tname}_size (${size}) does not fit in the ${total}-byte device: reduce it` };
    }
    const z: ZoneInfo = { type, index: 0, offset: off, size };
    off += size;
    return z;
  };
  const p = single(PstoreType.PMSG, 'pmsg', pmsgSize);
  if (p && 'errno' in p) return fail(p);
  pmsg = p;
  const c = single(PstoreType.CONSOLE, 'console', consoleSize);
  if (c && 'errno' in c) return fail(c);
  console = c;

  // A zone group: `groupSize` bytes cut into records of `recordSize`.
  const group = (type: number, tname: string, groupSize: bigint, recordSize: number): ZoneInfo[] | LayoutFailure => {
    if (groupSize === 0n || recordSize === 0) return [];
    if (BigInt(off) + groupSize > BigInt(total)) {
      const m = `no room for zones ${tname} (${hexSizeT(groupSize)}@${hex(off)} over ${hex(total)})`;
      return { errno: 'ENOMEM', message: m, kernelLogs: [m], hint: `the ${tname} zones do not fit: reduce the other zone sizes` };
    }
    const count = Number(groupSize / BigInt(recordSize));
    if (count === 0) {
      if (kernelHas(kernel, KERNEL_CHANGES.zeroZoneCheck)) {
        const m = `zone ${tname} total_size too small`;
        return { errno: 'EINVAL', message: m, kernelLogs: [m], hint: `the ${groupSize}-byte ${tname} area cannot hold one ${recordSize}-byte zone: use a smaller zone size or a bigger device` };
      }
      return {
        errno: 'EINVAL',
        message:
          `zone ${tname} total_size too small: the ${groupSize}-byte ${tname} area holds no ${recordSize}-byte zone; ` +
          `Linux ${kernel.text} has no check for this and would crash at registration (NULL pointer dereference); ` +
          `kernels after v6.6 reject it with "zone ${tname} total_size too small"`,
        hint: 'use a smaller kmsg_size or a bigger device',
      };
    }
    const zones: ZoneInfo[] = [];
    for (let i = 0; i < count; i++) {
      // Each zone passes the single-zone check too; it cannot fail after the group check.
      zones.push({ type, index: i, offset: off, size: recordSize });
      off += recordSize;
    }
    return zones;
  };

  const ftraceRecord = Math.floor(ftraceSize / nrCpus);
  const f = group(PstoreType.FTRACE, 'ftrace', BigInt(ftraceSize), ftraceRecord);
  if (!Array.isArray(f)) return { ...fail(f), ftraceRecord };
  // The kmsg area is computed from the full configured sizes, not from where
  // the ftrace zones ended (zone-policy.md §2, L3); size_t arithmetic.
  const kmsgArea = BigInt(total) - BigInt(pmsgSize + consoleSize + ftraceSize);
  const kmsgAreaT = ((kmsgArea % SIZE_T_WRAP) + SIZE_T_WRAP) % SIZE_T_WRAP;
  const kmsgStart = off;
  const k = group(PstoreType.DMESG, 'dmesg', kmsgAreaT, kmsgSize);
  if (!Array.isArray(k)) return { ...fail(k), kmsgStart, ftraceRecord };
  if (kmsgSize !== 0 && k.length === 0) {
    // kmsg enabled but its area is empty: the group is silently absent and
    // the kernel then reads the first kmsg zone's size from a NULL table.
    return {
      error: {
        errno: 'EINVAL',
        message: `no space left for kmsg zones (pmsg + console + ftrace use all ${total} bytes): Linux ${kernel.text} would crash at registration (NULL pointer dereference)`,
        hint: 'leave room for at least one kmsg zone, or set kmsg_size to 0',
      },
      unusedBytes: 0,
      kmsgStart,
      ftraceRecord,
    };
  }
  const layout: ZoneLayout = { totalSize: total, kmsgSize, pmsgSize, consoleSize, ftraceSize, pmsg, console, ftrace: f, kmsg: k };
  return { layout, unusedBytes: total - off, kmsgStart, ftraceRecord };
}

function describeLayout(l: ZoneLayout): string {
  const parts: string[] = [];
  if (l.pmsg) parts.push(`pmsg ${l.pmsg.size}@${hex(l.pmsg.offset)}`);
  if (l.console) parts.push(`console ${l.console.size}@${hex(l.console.offset)}`);
  if (l.ftrace.length) parts.push(`${l.ftrace.length} ftrace zone(s) of ${l.ftrace[0]!.size}@${hex(l.ftrace[0]!.offset)}`);
  if (l.kmsg.length) parts.push(`${l.kmsg.length} kmsg zone(s) of ${l.kmsgSize}@${hex(l.kmsg[0]!.offset)}`);
  return parts.join(', ');
}

/**
 * pstore/zone registration (config.md §3 rows 1–17) and zone layout
 * (zone-policy.md §2), in the kernel's order, for the kernel release given
 * (default: the newest behaviour). Warnings (the 128 MiB cap) and the success
 * log line are returned in `messages`.
 *
 * @throws ConfigError at the first failing rule, with the kernel's errno and
 *   message: EINVAL for size rules and zero-zone groups (including the
 *   releases where the kernel would crash instead — the message says so),
 *   ENOMEM for "no room for …" (its `log` ends with "alloc zones failed"),
 *   EBUSY when another backend is registered.
 * @throws PstoreError EINVAL for inputs that are not sizes at all (negative,
 *   fractional) or an unknown kernel version.
 */
export function computeLayout(params: LayoutParams): LayoutResult {
  const r = evaluateZoneRules(params);
  const bad = r.verdicts.find((v) => v.reached && !v.ok && v.severity === 'error');
  if (bad) throw new ConfigError(bad.errno ?? 'EINVAL', bad.message ?? bad.rule, bad.id, r.failLog, bad.hint);
  return { layout: r.layout!, messages: r.messages, kernel: r.kernel.text, unusedBytes: r.unusedBytes, kmsgStart: r.kmsgStart };
}

// ---------------------------------------------------------------------------
// Sizes inside a kmsg zone (test vectors S1–S5)

/** Figures derived from the kmsg zone size for an ABI and kernel. */
export interface KmsgSizes {
  /** Zone data area: zone size − 12. */
  readonly bufferSize: number;
  /** pstore core's record buffer: bufferSize − H. */
  readonly bufsize: number;
  /** Zone offset where record bytes begin (12 + H). */
  readonly dataOffset: number;
  /** Largest header+text input the deflate compressor takes (pstore-core.md §4.1). */
  readonly compressInputLimit: number;
  /** Largest decompressed output the reading kernel accepts (deflate). */
  readonly decompressOutputLimit: number;
}

/** Pre-v6.6 deflate: divisor by bufsize class (crypto API era). */
function oldDeflateDivisor(bufsize: number): number {
  if (bufsize >= 1000 && bufsize <= 2000) return 56;
  if (bufsize >= 2001 && bufsize <= 3000) return 54;
  if (bufsize >= 3001 && bufsize <= 3999) return 52;
  if (bufsize >= 4000 && bufsize <= 10000) return 45;
  return 60;
}

/**
 * Sizes of a kmsg zone's parts and the deflate limits that follow from them
 * (test vectors S1–S5; zone-policy.md §2, pstore-core.md §4.1).
 */
export function kmsgSizes(kmsgSize: number, abi: Abi = DEFAULT_ABI, kernelVersion: string = NEWEST_KERNEL): KmsgSizes {
  assertSize('kmsg_size', kmsgSize);
  const kernel = parseKernelVersion(kernelVersion);
  const h = kmsgHeaderSize(abi);
  const bufferSize = kmsgSize - ZONE_HEADER_SIZE;
  const bufsize = bufferSize - h;
  if (bufsize <= 0) throw new PstoreError('EINVAL', `kmsg_size ${kmsgSize} leaves no room for records after the ${ZONE_HEADER_SIZE + h}-byte headers`);
  const zlib = kernelHas(kernel, KERNEL_CHANGES.zlibCompression);
  const compressInputLimit = Math.floor((bufsize * 100) / (zlib ? 60 : oldDeflateDivisor(bufsize)));
  return {
    bufferSize,
    bufsize,
    dataOffset: ZONE_HEADER_SIZE + h,
    compressInputLimit,
    decompressOutputLimit: zlib ? 3 * bufsize : compressInputLimit,
  };
}

// ---------------------------------------------------------------------------
// The validation report

/** Inputs of {@link validateConfig}. */
export interface ValidateParams extends Omit<LayoutParams, 'kmsgSize'> {
  /** pstore_blk module parameters (KiB). When given, zone sizes come from them through pstore/blk's conversion. */
  blk?: PstoreBlkParams;
  /** The registering device's frontends (mtdpstore: dmesg only). */
  device?: DeviceFlags;
  /** Zone sizes in bytes, used when `blk` is absent. */
  kmsgSize?: number;
  /** Also check mtdpstore's module-init rules (blkdev given, kmsg_size non-zero). */
  mtdpstore?: boolean;
}

/** Result of {@link validateConfig}. */
export interface ValidationReport {
  /** True when no rule the kernel reaches fails. */
  readonly ok: boolean;
  /** Every rule, in the kernel's order (pstore_blk, mtdpstore init, pstore/zone). */
  readonly verdicts: readonly Verdict[];
  /** The first failure the kernel would stop at. */
  readonly firstFailure?: Verdict;
  /** pstore_blk's view when `blk` was given. */
  readonly blk?: PstoreBlkConfig;
  /** The layout when every rule passes. */
  readonly layout?: LayoutResult;
  /** Kernel log lines in order (as far as the kernel gets). */
  readonly log: readonly string[];
}

/**
 * Check a configuration against every rule and report a verdict per rule, so
 * a board's settings can be validated and simulated before flashing. Never
 * throws for a bad configuration (that is what the verdicts are for); it
 * throws PstoreError EINVAL only for inputs that are not numbers/sizes at all.
 */
export function validateConfig(params: ValidateParams): ValidationReport {
  const verdicts: Verdict[] = [];
  const log: string[] = [];
  let blk: PstoreBlkConfig | undefined;
  let sizes: ZoneSizes & { maxReason: number };
  let failedEarly = false;
  const push = (v: Omit<Verdict, 'reached'>, lines: string[] = []) => {
    verdicts.push({ ...v, reached: !failedEarly });
    if (!failedEarly) log.push(...lines);
    if (!v.ok && v.severity === 'error') failedEarly = true;
  };

  if (params.blk) {
    try {
      blk = pstoreBlkConfig(params.blk, params.device);
    } catch (e) {
      if (!(e instanceof PstoreError)) throw e;
      push({ id: 'blk.params', rule: 'module parameters accepted', ok: false, severity: 'error', message: e.message, errno: e.code });
      return finish();
    }
    for (const m of blk.messages) {
      push({ id: `blk.align.${m.phase}`, rule: 'size a multiple of 4 KiB', ok: true, severity: 'warning', message: m.text, hint: 'give sizes in KiB as multiples of 4 (the kernel rounds the KiB value, not the bytes)' }, [formatMessage(m)]);
    }
    for (const n of blk.notes) push({ id: 'blk.note', rule: 'parameter combination', ok: true, severity: 'warning', message: n });
    sizes = blk.zone;
    if (params.mtdpstore) {
      const dev = blk.params.blkdev;
      push(
        dev === ''
          ? { id: 'mtdpstore.device', rule: 'blkdev names the MTD device', ok: false, severity: 'error', message: 'mtd device must be supplied (device name is empty)', errno: 'EINVAL', hint: 'set pstore_blk.blkdev=<mtd name or number>, e.g. pstore' }
          : { id: 'mtdpstore.device', rule: 'blkdev names the MTD device', ok: true, severity: 'info', message: parseKernelInt(dev) !== undefined ? `target MTD index ${parseKernelInt(dev)} (or a device named '${dev}')` : `MTD device named '${dev}'` },
        dev === '' ? ['mtdpstore: mtd device must be supplied (device name is empty)'] : [],
      );
      push(
        blk.getConfig.kmsgSize === 0
          ? { id: 'mtdpstore.kmsg', rule: 'kmsg_size non-zero', ok: false, severity: 'error', message: 'no backend enabled (kmsg_size is 0)', errno: 'EINVAL', hint: 'set pstore_blk.kmsg_size (KiB), e.g. 64' }
          : { id: 'mtdpstore.kmsg', rule: 'kmsg_size non-zero', ok: true, severity: 'info' },
        blk.getConfig.kmsgSize === 0 ? ['mtdpstore: no backend enabled (kmsg_size is 0)'] : [],
      );
    }
  } else {
    sizes = {
      kmsgSize: params.kmsgSize ?? 0,
      pmsgSize: params.pmsgSize ?? 0,
      consoleSize: params.consoleSize ?? 0,
      ftraceSize: params.ftraceSize ?? 0,
      maxReason: params.maxReason ?? 2,
    };
  }
  // pstore/blk's own registration checks (config.md §2).
  if (params.blk) {
    push(
      params.totalSize === 0
        ? { id: 'blk.size', rule: 'device size non-zero', ok: false, severity: 'error', message: 'zero sized device', errno: 'EINVAL' }
        : { id: 'blk.size', rule: 'device size non-zero', ok: true, severity: 'info' },
      params.totalSize === 0 ? ['pstore_blk: zero sized device'] : [],
    );
  }
  const r = evaluateZoneRules({ ...params, ...sizes, maxReason: sizes.maxReason });
  for (const v of r.verdicts) verdicts.push({ ...v, reached: v.reached && !failedEarly });
  if (!failedEarly) log.push(...r.messages.map(formatMessage));
  const zoneFailed = r.verdicts.some((v) => v.reached && !v.ok && v.severity === 'error');
  const layout: LayoutResult | undefined =
    !failedEarly && !zoneFailed && r.layout
      ? { layout: r.layout, messages: r.messages, kernel: r.kernel.text, unusedBytes: r.unusedBytes, kmsgStart: r.kmsgStart }
      : undefined;
  return finish(layout);

  function finish(layout?: LayoutResult): ValidationReport {
    const firstFailure = verdicts.find((v) => v.reached && !v.ok && v.severity === 'error');
    return { ok: firstFailure === undefined, verdicts, firstFailure, blk, layout, log };
  }
}
