import { fileURLToPath } from 'node:url';
import { testCrossProcessTrace } from '@eventsource/conformance';
import { silentLogger } from '@eventsource/core';
import { otel } from '@eventsource/otel';
import { describe } from 'vitest';
import { RabbitMQEventBus } from '../src/index.js';
import { AMQP_URL, broker, deleteTopology, sweepTestQueues, uniqueExchange } from './support/rabbitmq.js';

const CONSUMER = fileURLToPath(new URL('./support/otel-consumer.ts', import.meta.url));

describe.skipIf(!broker)('RabbitMQEventBus with @eventsource/otel', () => {
  testCrossProcessTrace({
    transport: 'RabbitMQ',
    system: 'rabbitmq',
    namespace: () => uniqueExchange('otel'),
    async publisher(exchange, { group, tracerProvider }) {
      const { tracer } = otel({ tracerProvider });
      const bus = new RabbitMQEventBus({ rabbitmqUrl: AMQP_URL, exchangeName: exchange, consumerGroup: group, logger: silentLogger, tracer });
      await bus.connect();
      return bus;
    },
    consumer: (exchange, group) => ({ script: CONSUMER, args: [AMQP_URL, exchange, group] }),
    // The publish span names the exchange, as the messaging conventions ask for RabbitMQ; the
    // dispatch spans name the group's queue, retries included (they come back through the group's
    // delay queue into it).
    destinations: (exchange, groups) => ({ publish: exchange, dispatch: `${exchange}.${groups.consumer}` }),
    async cleanup(exchange, groups) {
      await deleteTopology(exchange, groups);
      await sweepTestQueues();
    },
  });
});
