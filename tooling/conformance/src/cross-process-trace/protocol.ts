import { ConformanceEvents } from '../events.js';
import type { SpanRecord } from './telemetry.js';

/** The event the trace scenario publishes; the consumer subscribes to it under this handler name. */
export const TRACE_EVENT = ConformanceEvents.OrderPlaced;
export const TRACE_HANDLER = 'billing';
/** The application span the consumer's handler opens: it must nest under the handler's span. */
export const APP_SPAN = 'charge card';
/** The two events published, by aggregate id. The second one's first attempt fails, so its retry crosses the broker too. */
export const HANDLED_AT_ONCE = 'order-1';
export const RETRIED = 'order-2';
/** The message the consumer's handler throws on that failing attempt. */
export const DECLINED = 'card declined once';

/** Parent to consumer: shut down, then report every exported span. */
export type ToConsumer = { readonly type: 'stop' };

/** Consumer to parent. */
export type FromConsumer =
  | { readonly type: 'ready' }
  /** An event handled successfully, with the `tenant` baggage entry the handler saw (null: none). */
  | { readonly type: 'handled'; readonly aggregateId: string; readonly tenant: string | null }
  | { readonly type: 'spans'; readonly spans: readonly SpanRecord[] };
