// The shared test kit alone, without the suite: for test support modules that child processes
// load too (workers, consumer scripts), where the whole suite would only slow their start.
export * from '@eventsource/testkit';
