import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export const nowNs = (): bigint => process.hrtime.bigint();

export const nsToMs = (ns: bigint): number => Number(ns) / 1e6;

/**
 * A full GC between measurements, so garbage left by one subject is not collected on the next
 * subject's clock. `pnpm start` runs plain `tsx` without --expose-gc, hence the flag set at runtime.
 */
export const collectGarbage: () => void = (() => {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    if (typeof gc === 'function') return gc as () => void;
  } catch {
    // Some runtimes refuse the flag; measurements are then only a little noisier.
  }
  return () => {};
})();
