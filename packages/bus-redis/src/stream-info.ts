/** XINFO replies are flat [name, value, …] lists (RESP2) or maps (RESP3). */
export function pairs(raw: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (Array.isArray(raw)) for (let i = 0; i + 1 < raw.length; i += 2) out[String(raw[i])] = raw[i + 1];
  else if (raw !== null && typeof raw === 'object') Object.assign(out, raw);
  return out;
}

/** Orders two stream ids (`ms-seq`). */
export function compareIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const ms = BigInt(am) - BigInt(bm);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const seq = BigInt(as) - BigInt(bs);
  return seq === 0n ? 0 : seq < 0n ? -1 : 1;
}

/**
 * How many entries left the stream (trimmed by maxLen/maxAgeMs, or deleted) before `group` read
 * them, from XINFO STREAM and that group's XINFO GROUPS row. Only visible while the group has not
 * yet read past the gap: once it reads on, Redis moves its counters past it. `undefined` when
 * Redis cannot tell (before 7.0, or a group whose read counter Redis lost track of).
 */
export function trimmedBeforeRead(stream: Record<string, unknown>, group: Record<string, unknown>): number | undefined {
  const added = stream['entries-added'];
  if (added === undefined || added === null) return undefined;
  const lastDelivered = String(group['last-delivered-id'] ?? '0-0');
  const first = stream['first-entry'];
  const firstId = Array.isArray(first) && typeof first[0] === 'string' ? first[0] : undefined;
  // At or past the oldest retained entry (or, in an empty stream, past the newest ever): nothing unread is gone.
  const horizon = firstId ?? String(stream['last-generated-id'] ?? '0-0');
  if (firstId !== undefined ? compareIds(lastDelivered, firstId) >= 0 : compareIds(lastDelivered, horizon) >= 0) return 0;
  const read = group['entries-read'];
  if (read === undefined || read === null) return undefined;
  return Math.max(0, Number(added) - Number(stream.length ?? 0) - Number(read));
}

/**
 * Entries in the stream the group has not read yet. Redis's own `lag` keeps counting entries the
 * group skipped because they were trimmed, forever after; so it is 0 once the group has read the
 * newest entry and never more than the stream's length. null when Redis cannot tell.
 */
export function honestLag(stream: Record<string, unknown>, group: Record<string, unknown>, length: number): number | null {
  const lastGenerated = stream['last-generated-id'];
  if (typeof lastGenerated === 'string' && compareIds(String(group['last-delivered-id'] ?? '0-0'), lastGenerated) >= 0) return 0;
  const lag = group.lag;
  if (lag === undefined || lag === null) return null;
  return Math.min(Number(lag), length);
}
