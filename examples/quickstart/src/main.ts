import { runQuickstart } from './quickstart.js';

console.log('@eventsource quick start — the in-memory bus');
await runQuickstart((line) => console.log(line));
console.log('\nDone. Move the same handlers to a broker by swapping InMemoryEventBus for RedisEventBus.');
