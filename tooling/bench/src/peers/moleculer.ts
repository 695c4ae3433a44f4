import { createRequire } from 'node:module';
import type { OrderCreated as Order } from '../fixtures/order-events.js';

/** The peer library every broker scenario compares with, under this name in the tables. */
export const MOLECULER = '@moleculer/channels';

interface ServiceBroker {
  createService(schema: object): unknown;
  start(): Promise<void>;
  stop(): Promise<void>;
  sendToChannel(name: string, payload: unknown): Promise<void>;
}

export interface ChannelsModule {
  Middleware(options: object): object;
  Adapters: { AMQP: new (options: object) => { checkClientLibVersion(library: string, versions: string): boolean } };
}

// Both are CommonJS dev dependencies without types; they are loaded only when the peer runs.
const require = createRequire(import.meta.url);

export function loadChannels(): ChannelsModule {
  return require('@moleculer/channels') as ChannelsModule;
}

/** A publishing broker and `consumers` consuming brokers on one channel, started. */
export interface MoleculerGroup {
  send(event: Order): Promise<void>;
  /** Stops the consumers, then the publisher. */
  stop(): Promise<void>;
}

export interface MoleculerGroupOptions {
  /** Node ids are `<nodePrefix>-pub` and `<nodePrefix>-c<i>`. */
  readonly nodePrefix: string;
  readonly channel: string;
  readonly consumers: number;
  /** A fresh adapter (or adapter options) for each broker. */
  readonly adapter: () => object;
  /** Adapter-specific settings of the channel, next to its group and handler. */
  readonly channelOptions?: object;
  onHandled(eventId: string): void;
}

/** Every consumer joins the group `bench` and reports each payload's eventId. */
export async function startMoleculerGroup(options: MoleculerGroupOptions): Promise<MoleculerGroup> {
  const { ServiceBroker } = require('moleculer') as { ServiceBroker: new (options: object) => ServiceBroker };
  const { Middleware } = loadChannels();
  const { nodePrefix, channel, consumers, adapter, channelOptions, onHandled } = options;
  const brokers: ServiceBroker[] = [];
  const publisher = new ServiceBroker({ nodeID: `${nodePrefix}-pub`, logger: false, middlewares: [Middleware({ adapter: adapter() })] });
  await publisher.start();
  brokers.push(publisher);
  for (let i = 0; i < consumers; i++) {
    const broker = new ServiceBroker({ nodeID: `${nodePrefix}-c${i}`, logger: false, middlewares: [Middleware({ adapter: adapter() })] });
    broker.createService({
      name: `consumer${i}`,
      channels: {
        [channel]: {
          group: 'bench',
          ...channelOptions,
          handler(payload: { eventId: string }) {
            onHandled(payload.eventId);
          },
        },
      },
    });
    await broker.start();
    brokers.push(broker);
  }
  return {
    send: (event) => publisher.sendToChannel(channel, event),
    async stop() {
      for (const broker of brokers.reverse()) await broker.stop();
    },
  };
}
