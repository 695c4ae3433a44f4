import { TcpProxy, brokerBusOptions, brokerTestBus, testEventBus, type ConformanceHarness, type TestBus } from '@eventsource/conformance';
import { HEADER } from '@eventsource/core';
import { connect } from 'amqplib';
import { afterAll, describe } from 'vitest';
import { RabbitMQEventBus, type ExchangeType } from '../src/index.js';
import { broker, deleteTopology, sweepTestQueues, uniqueExchange } from './support/rabbitmq.js';

function harness(exchangeType: ExchangeType): ConformanceHarness {
  return {
    name: `rabbitmq-${exchangeType}`,
    transport: 'rabbitmq',
    timeoutMs: 10_000,
    capabilities: {
      retries: true,
      retryDoesNotBlock: true,
      competingConsumers: true,
      fanOutAcrossGroups: true,
      redeliveryAfterCrash: true,
      dlqAdmin: true,
      rawInjection: true,
      brokerLifecycle: true,
      traceContext: true,
      shutdownDeadline: true,
      redeliveryLimit: true,
      handlerTimeout: true,
      outage: true,
    },
    async createContext() {
      const url = broker!.url;
      const exchangeName = uniqueExchange(`conf-${exchangeType}`);
      const buses: RabbitMQEventBus[] = [];
      const groups = new Set<string>(['conformance']);
      // The buses reach RabbitMQ through a proxy the outage scenario cuts; the raw connection does not.
      const proxy = await TcpProxy.start(url, { defaultPort: 5672 });
      const raw = await connect(url);
      const rawChannel = await raw.createConfirmChannel();
      return {
        async createBus(options = {}): Promise<TestBus> {
          groups.add(options.group ?? 'conformance');
          const bus = new RabbitMQEventBus({
            ...brokerBusOptions(options),
            rabbitmqUrl: proxy.url,
            exchangeName,
            exchangeType,
            reconnectMaxDelayMs: 200,
            heartbeatMs: 5000,
            ...(options.maxInFlight === undefined ? {} : { prefetchCount: options.maxInFlight }),
          });
          if (options.connect !== false) await bus.connect();
          buses.push(bus);
          // kill(): a zero deadline, so nothing running is settled and the connections close; the
          // broker requeues every unacknowledged message, as it does for a process that died.
          return brokerTestBus(bus);
        },
        async injectRaw(message) {
          const eventType = message.headers[HEADER.eventType] ?? 'Unknown';
          const aggregateType = message.headers[HEADER.aggregateType] ?? 'Unknown';
          const routingKey = exchangeType === 'fanout' ? '' : `${aggregateType}.${eventType}`;
          const body = typeof message.body === 'string' ? Buffer.from(message.body) : Buffer.from(message.body);
          if (exchangeType === 'direct') {
            // A direct exchange routes only the keys bound from the registry; raw input of any
            // type goes straight to the group's queue, as a misbehaving producer's would.
            rawChannel.sendToQueue(`${exchangeName}.conformance`, body, { headers: message.headers, persistent: true });
          } else {
            rawChannel.publish(exchangeName, routingKey, body, { headers: message.headers, persistent: true });
          }
          await rawChannel.waitForConfirms();
        },
        cutConnection: () => proxy.down(),
        restoreConnection: () => proxy.up(),
        async cleanup() {
          await proxy.up();
          await Promise.all(buses.map((bus) => bus.shutdown(5000)));
          await proxy.close();
          await deleteTopology(exchangeName, groups, url, raw);
          await raw.close().catch(() => undefined);
        },
      };
    },
  };
}

describe.skipIf(!broker)('RabbitMQEventBus conformance', () => {
  afterAll(() => sweepTestQueues());
  testEventBus(harness('topic'));
  testEventBus(harness('direct'));
  testEventBus(harness('fanout'));
});
