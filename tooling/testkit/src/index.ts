export { eventually, gate, waitFor, withTimeout, work, type EventuallyOptions, type Gate } from './eventually.js';
export { uniqueName } from './unique-name.js';
export { deferred, nextTurn, type Deferred } from './deferred.js';
export { RecordingLogger, type LogEntry, type LogLevel } from './recording-logger.js';
export {
  RecordedSpan,
  RecordingTracer,
  type RecordingTracerOptions,
  type SpanAttributeValue,
  type SpanKindLike,
  type SpanLike,
  type StartSpanOptionsLike,
  type TraceContextLike,
} from './recording-tracer.js';
export { TcpProxy, freePort, type ProxyTarget } from './tcp-proxy.js';
