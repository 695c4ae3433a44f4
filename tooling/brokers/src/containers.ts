/**
 * Broker containers through testcontainers: which image each broker uses, and how to start,
 * restart and stop one. testcontainers is imported only when a container is started, so a
 * machine without a container runtime never loads it.
 *
 * Images: the official ones by default; EVENTSOURCE_REDIS_IMAGE, EVENTSOURCE_RABBITMQ_IMAGE and
 * EVENTSOURCE_KAFKA_IMAGE override each (tooling/containers/build-images.sh prints the names of
 * the images it builds locally, for machines that cannot pull).
 */
import { createServer } from 'node:net';
import type { StartedTestContainer } from 'testcontainers';
import type { BrokerKind } from './index.js';
import type { Env } from './probe.js';

/** Images used when no override is set: what a machine with Docker Hub pulls. */
export const DEFAULT_IMAGES: Readonly<Record<BrokerKind, string>> = {
  redis: 'redis:7',
  rabbitmq: 'rabbitmq:3-management',
  kafka: 'apache/kafka:4.4.0',
};

/** The variable that overrides each broker's image. */
export const IMAGE_ENV_VARS: Readonly<Record<BrokerKind, string>> = {
  redis: 'EVENTSOURCE_REDIS_IMAGE',
  rabbitmq: 'EVENTSOURCE_RABBITMQ_IMAGE',
  kafka: 'EVENTSOURCE_KAFKA_IMAGE',
};

/**
 * Set by the vitest global setup on the containers it starts, so test files (in other
 * processes) can tell a container broker from an env one: EVENTSOURCE_REDIS_CONTAINER etc.
 */
export const CONTAINER_ID_ENV_VARS: Readonly<Record<BrokerKind, string>> = {
  redis: 'EVENTSOURCE_REDIS_CONTAINER',
  rabbitmq: 'EVENTSOURCE_RABBITMQ_CONTAINER',
  kafka: 'EVENTSOURCE_KAFKA_CONTAINER',
};

/** Every container we start carries this label, so leftovers can be found and removed. */
export const CONTAINER_LABEL = 'org.eventsource.test-broker';

export function brokerImage(kind: BrokerKind, env: Env = process.env): string {
  const override = env[IMAGE_ENV_VARS[kind]]?.trim();
  return override ? override : DEFAULT_IMAGES[kind];
}

export interface BrokerContainer {
  kind: BrokerKind;
  image: string;
  /** redis://host:port, amqp://guest:guest@host:port, or host:port for Kafka. */
  url: string;
  containerId: string;
  /**
   * Stops the container (SIGTERM, then SIGKILL after `timeoutSeconds`, default 10), waits
   * `downtimeMs` (default 0), starts it again and waits until the broker is ready. The URL stays
   * valid only with a fixed host port (`hostPort`; always so for Kafka).
   */
  restart(options?: { timeoutSeconds?: number; downtimeMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

export interface StartBrokerContainerOptions {
  env?: Env;
  /**
   * Publish the broker on this host port instead of a random one. A restart keeps it, whereas
   * Docker picks a new random port on every start. Kafka always uses a fixed port (see below).
   */
  hostPort?: number;
  /** Redis only: extra redis-server arguments, e.g. ['--appendonly', 'yes']. */
  redisArgs?: readonly string[];
}

/**
 * testcontainers settings these machines need, applied unless already set: the Ryuk reaper's
 * image cannot be pulled here, so it is off and whoever starts a container stops it; and the
 * machine has a /.dockerenv, so without a host override testcontainers would pull alpine to find
 * a gateway. Applied only when the local images are in use (EVENTSOURCE_*_IMAGE set), so
 * machines with Docker Hub keep testcontainers' defaults.
 */
function applyLocalImageDefaults(env: Env): void {
  const usesLocalImages = Object.values(IMAGE_ENV_VARS).some((name) => (env[name] ?? '') !== '');
  if (!usesLocalImages) return;
  process.env['TESTCONTAINERS_RYUK_DISABLED'] ??= 'true';
  process.env['TESTCONTAINERS_HOST_OVERRIDE'] ??= 'localhost';
}

/** Starts a broker container and waits until it accepts clients. */
export async function startBrokerContainer(
  kind: BrokerKind,
  options: StartBrokerContainerOptions = {},
): Promise<BrokerContainer> {
  const env = options.env ?? process.env;
  applyLocalImageDefaults(env);
  const image = brokerImage(kind, env);
  const { GenericContainer, Wait } = await import('testcontainers');
  const labels = { [CONTAINER_LABEL]: kind };
  const publish = (port: number): number | { container: number; host: number } =>
    options.hostPort === undefined ? port : { container: port, host: options.hostPort };

  let started: StartedTestContainer;
  let url: (c: StartedTestContainer) => string;
  switch (kind) {
    case 'redis': {
      started = await new GenericContainer(image)
        .withLabels(labels)
        .withExposedPorts(publish(6379))
        .withCommand(['redis-server', '--save', '', ...(options.redisArgs ?? ['--appendonly', 'no'])])
        .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
        .withStartupTimeout(60_000)
        .start();
      url = (c) => `redis://${c.getHost()}:${c.getMappedPort(6379)}`;
      break;
    }
    case 'rabbitmq': {
      started = await new GenericContainer(image)
        .withLabels(labels)
        .withExposedPorts(publish(5672))
        .withWaitStrategy(Wait.forLogMessage('Server startup complete'))
        .withStartupTimeout(90_000)
        .start();
      // guest/guest is RabbitMQ's default account; both images allow it from outside.
      url = (c) => `amqp://guest:guest@${c.getHost()}:${c.getMappedPort(5672)}`;
      break;
    }
    case 'kafka': {
      // Kafka hands clients the address it advertises, so that address must be the one the
      // host reaches. The mapped port is unknown until the container runs, so pick a free host
      // port first and have the broker listen on that same port inside the container: then
      // 127.0.0.1:<port> works from the host and from inside the container alike.
      const port = options.hostPort ?? (await freeTcpPort());
      started = await new GenericContainer(image)
        .withLabels(labels)
        .withExposedPorts({ container: port, host: port })
        .withEnvironment(kafkaEnvironment(port))
        .withWaitStrategy(Wait.forLogMessage('Kafka Server started'))
        .withStartupTimeout(120_000)
        .start();
      url = () => `127.0.0.1:${port}`;
      break;
    }
  }
  return {
    kind,
    image,
    url: url(started),
    containerId: started.getId(),
    async restart(restartOptions = {}) {
      const timeout = (restartOptions.timeoutSeconds ?? 10) * 1000;
      const downtimeMs = restartOptions.downtimeMs ?? 0;
      if (downtimeMs > 0) {
        const { getContainerRuntimeClient } = await import('testcontainers');
        const client = await getContainerRuntimeClient();
        await client.container.stop(client.container.getById(started.getId()), { timeout });
        await new Promise((resolve) => setTimeout(resolve, downtimeMs));
      }
      // Starts a stopped container, then waits for the readiness log line of this start.
      await started.restart({ timeout });
    },
    async stop() {
      await started.stop({ timeout: 5_000 });
    },
  };
}

/** Single-node KRaft settings, read by apache/kafka and by the local image alike. */
export function kafkaEnvironment(port: number): Record<string, string> {
  return {
    KAFKA_NODE_ID: '1',
    KAFKA_PROCESS_ROLES: 'broker,controller',
    KAFKA_LISTENERS: `PLAINTEXT://0.0.0.0:${port},CONTROLLER://127.0.0.1:9093`,
    KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${port}`,
    KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
    KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    KAFKA_INTER_BROKER_LISTENER_NAME: 'PLAINTEXT',
    KAFKA_CONTROLLER_QUORUM_VOTERS: '1@127.0.0.1:9093',
    KAFKA_NUM_PARTITIONS: '3',
    KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'true',
    // One node: the defaults (replication factor 3, min ISR 2) would never become ready.
    KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
    KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
    KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
    KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: '1',
    KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: '1',
    KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
  };
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}
