import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Admin } from '@platformatic/kafka';
import { ensureJars, javaAvailable, javaLibs } from './java.ts';
import { freePort } from './net.ts';

const run = promisify(execFile);
/** Jars live outside git, fetched from Maven Central by `mvn` (see test/support/kafka/pom.xml). */
export const KAFKA_LIBS = javaLibs('kafka');

/** The users the broker's SASL listeners know, one per mechanism. */
export const SASL_USERS = {
  PLAIN: { username: 'plain-user', password: 'plain-secret' },
  'SCRAM-SHA-256': { username: 'scram256-user', password: 'scram256-secret' },
  'SCRAM-SHA-512': { username: 'scram512-user', password: 'scram512-secret' },
} as const;

/** Where a test finds the broker: what KafkaBroker holds, minus the process. */
export interface KafkaEndpoints {
  /** `127.0.0.1:<port>`, PLAINTEXT. */
  bootstrap: string;
  /** SASL_PLAINTEXT with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 (users in SASL_USERS). */
  saslBootstrap: string;
  /** SASL_SSL with SCRAM-SHA-512: TLS with a self-signed certificate for 127.0.0.1. */
  tlsBootstrap: string;
  /** PEM of the TLS listener's certificate, to trust as the CA. */
  tlsCa: string;
}

export interface KafkaBroker extends KafkaEndpoints {
  /** kill -9 of the broker process; its data stays for `restart`. */
  kill(): Promise<void>;
  /** Starts the killed broker again on the same ports and data, and waits until it answers. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export function endpointsOf(broker: KafkaBroker): KafkaEndpoints {
  const { bootstrap, saslBootstrap, tlsBootstrap, tlsCa } = broker;
  return { bootstrap, saslBootstrap, tlsBootstrap, tlsCa };
}

export function kafkaAvailable(): boolean {
  return javaAvailable('Kafka');
}

/** Copies the broker's jars into .cache/kafka/libs unless they are there already. */
export async function ensureKafkaJars(): Promise<void> {
  await ensureJars('kafka', 'kafka_2.13-');
}

/** Runs a Java main class on the Kafka classpath. */
export async function runKafkaJava(
  mainClass: string,
  args: string[],
  input?: string,
  jvm: string[] = [],
): Promise<string> {
  const child = execFile('java', [...jvm, '-cp', `${KAFKA_LIBS}/*`, mainClass, ...args], {
    timeout: 300_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (input !== undefined) child.stdin!.end(input);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d;
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d;
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`${mainClass} exited with ${code}: ${err.slice(-2000)}`);
  return out;
}

/**
 * Starts a single-node KRaft broker (broker and controller in one process) in a fresh folder, with
 * PLAINTEXT, SASL_PLAINTEXT and SASL_SSL listeners on free ports on 127.0.0.1, and waits until it
 * answers a metadata request.
 */
export async function startKafkaBroker(): Promise<KafkaBroker> {
  await ensureKafkaJars();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kappa-kafka-'));
  const [port, controllerPort, saslPort, tlsPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const tls = await makeCertificate(dir);
  const properties = path.join(dir, 'server.properties');
  const scram = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
  const plainUser = SASL_USERS.PLAIN;
  await writeFile(
    properties,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.bootstrap.servers=127.0.0.1:${controllerPort}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort},SASL_PLAINTEXT://127.0.0.1:${saslPort},SASL_SSL://127.0.0.1:${tlsPort}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${port},SASL_PLAINTEXT://127.0.0.1:${saslPort},SASL_SSL://127.0.0.1:${tlsPort}`,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL',
      'listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
      `listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_${plainUser.username}="${plainUser.password}";`,
      `listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=${scram}`,
      `listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=${scram}`,
      'listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512',
      `listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=${scram}`,
      `ssl.keystore.location=${tls.keystore}`,
      'ssl.keystore.type=PKCS12',
      `ssl.keystore.password=${tls.password}`,
      `ssl.key.password=${tls.password}`,
      `log.dirs=${path.join(dir, 'data')}`,
      'num.partitions=1',
      // One node: the internal topics cannot have more replicas than that.
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=4',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'transaction.state.log.num.partitions=4',
      'share.coordinator.state.topic.replication.factor=1',
      'share.coordinator.state.topic.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      // A crashed producer's open transaction is aborted within a second of its timeout, not ten.
      'transaction.abort.timed.out.transaction.cleanup.interval.ms=1000',
      'auto.create.topics.enable=false',
    ].join('\n'),
  );
  const log4j = path.join(dir, 'log4j2.properties');
  await writeFile(
    log4j,
    [
      'rootLogger.level=INFO',
      'rootLogger.appenderRef.file.ref=file',
      'appender.file.type=File',
      'appender.file.name=file',
      `appender.file.fileName=${path.join(dir, 'broker.log')}`,
      'appender.file.layout.type=PatternLayout',
      'appender.file.layout.pattern=%d %p %c{1} %m%n',
    ].join('\n'),
  );
  const jvm = ['-Xms256m', '-Xmx768m', `-Dlog4j2.configurationFile=${log4j}`];
  const scramUsers = (['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const).flatMap((m) => [
    '--add-scram',
    `${m}=[name=${SASL_USERS[m].username},password=${SASL_USERS[m].password}]`,
  ]);
  await runKafkaJava(
    'kafka.tools.StorageTool',
    ['format', '--standalone', '-t', kafkaUuid(), '-c', properties, ...scramUsers],
    undefined,
    jvm,
  );
  const bootstrap = `127.0.0.1:${port}`;
  // The process as it runs now: `kill` and `restart` replace it, on the same ports and data.
  let current = await launch(jvm, properties, bootstrap, dir);
  return {
    bootstrap,
    saslBootstrap: `127.0.0.1:${saslPort}`,
    tlsBootstrap: `127.0.0.1:${tlsPort}`,
    tlsCa: tls.ca,
    async kill() {
      current.process.kill('SIGKILL');
      await current.exited;
    },
    async restart() {
      if (current.process.exitCode === null && current.process.signalCode === null)
        throw new Error('the broker is running');
      current = await launch(jvm, properties, bootstrap, dir);
    },
    async stop() {
      const { process: broker, exited } = current;
      if (broker.exitCode === null && broker.signalCode === null) {
        broker.kill('SIGTERM');
        const timer = setTimeout(() => broker.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Starts the broker process and waits until it answers a metadata request. */
async function launch(
  jvm: string[],
  properties: string,
  bootstrap: string,
  dir: string,
): Promise<{ process: ChildProcess; exited: Promise<number | null> }> {
  const broker = spawn('java', [...jvm, '-cp', `${KAFKA_LIBS}/*`, 'kafka.Kafka', properties], {
    stdio: 'ignore',
  });
  const exited = new Promise<number | null>((resolve) => broker.once('exit', resolve));
  try {
    await waitForMetadata(bootstrap, exited);
  } catch (error) {
    broker.kill('SIGKILL');
    const tail = await readFile(path.join(dir, 'broker.log'), 'utf8').catch(() => '');
    throw new Error(`Kafka broker did not start: ${(error as Error).message}\n${tail.slice(-3000)}`);
  }
  return { process: broker, exited };
}

/** A self-signed certificate for 127.0.0.1 made with the JDK's keytool: the keystore and its PEM. */
async function makeCertificate(dir: string): Promise<{ keystore: string; password: string; ca: string }> {
  const keystore = path.join(dir, 'broker.p12');
  const password = randomBytes(12).toString('hex');
  const common = ['-keystore', keystore, '-storetype', 'PKCS12', '-storepass', password];
  await run('keytool', [
    '-genkeypair',
    '-alias',
    'broker',
    '-keyalg',
    'RSA',
    '-keysize',
    '2048',
    '-validity',
    '7',
    '-dname',
    'CN=127.0.0.1',
    '-ext',
    'SAN=IP:127.0.0.1,DNS:localhost',
    '-keypass',
    password,
    ...common,
  ]);
  const { stdout: ca } = await run('keytool', ['-exportcert', '-rfc', '-alias', 'broker', ...common]);
  return { keystore, password, ca };
}

/** Asks for metadata until the broker answers: readiness by protocol, not by sleeping. */
async function waitForMetadata(bootstrap: string, exited: Promise<number | null>): Promise<void> {
  let dead = false;
  void exited.then(() => {
    dead = true;
  });
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline && !dead) {
    const admin = new Admin({
      clientId: 'kappa-test-wait',
      bootstrapBrokers: [bootstrap],
      retries: 0,
      timeout: 2000,
    });
    try {
      const metadata = await admin.metadata({ topics: [] });
      if (metadata.brokers.size > 0) return;
    } catch {
      // not up yet
    } finally {
      await admin.close().catch(() => {});
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(dead ? 'the broker process exited' : 'no metadata within 90 s');
}

/** Kafka's Uuid.toString(): 16 random bytes, base64url; Kafka avoids ones that start with '-'. */
function kafkaUuid(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}
