import os from 'node:os';

export interface MachineInfo {
  readonly node: string;
  readonly v8: string;
  readonly platform: string;
  readonly arch: string;
  readonly cpuModel: string;
  readonly cores: number;
  readonly totalMemoryGiB: number;
  /** 1-minute load average when the run started: other work on the machine skews every number. */
  readonly loadAverage1m: number;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.type()} ${os.release()}`,
    arch: process.arch,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    totalMemoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAverage1m: Math.round(os.loadavg()[0]! * 100) / 100,
  };
}

export function formatMachine(info: MachineInfo): string {
  return [
    `node ${info.node} (V8 ${info.v8}) on ${info.platform} ${info.arch}`,
    `CPU ${info.cpuModel} · ${info.cores} cores · ${info.totalMemoryGiB} GiB RAM · load ${info.loadAverage1m} (1 min)`,
  ].join('\n');
}

/** A warning when other processes already use a good share of the cores, else undefined. */
export function busyWarning(info: MachineInfo): string | undefined {
  if (info.loadAverage1m < info.cores * 0.5) return undefined;
  return `WARNING: load average ${info.loadAverage1m} on ${info.cores} cores: other work is running, expect noisy numbers (see the spread column).`;
}
