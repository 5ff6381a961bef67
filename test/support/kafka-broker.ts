import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Admin } from '@platformatic/kafka';
import { freePort } from './net.ts';
import { serviceAvailable } from './services.ts';

const run = promisify(execFile);
const ROOT = path.join(import.meta.dirname, '..', '..');
/** Jars live outside git, fetched from Maven Central by `mvn` (see test/support/kafka/pom.xml). */
export const KAFKA_LIBS = path.join(ROOT, '.cache', 'kafka', 'libs');
const POM = path.join(import.meta.dirname, 'kafka', 'pom.xml');

export interface KafkaBroker {
  /** `127.0.0.1:<port>`. */
  bootstrap: string;
  /** Runs a Kafka tool's main class on the broker's classpath. */
  java(mainClass: string, args: string[], input?: string): Promise<string>;
  stop(): Promise<void>;
}

export function kafkaAvailable(): boolean {
  return serviceAvailable('Kafka', [
    ['java', '-version'],
    ['mvn', '-v'],
  ]).available;
}

/** Copies the broker's jars into .cache/kafka/libs unless they are there already. */
export async function ensureKafkaJars(): Promise<void> {
  if (existsSync(KAFKA_LIBS) && (await readdir(KAFKA_LIBS)).some((f) => f.startsWith('kafka_2.13-'))) return;
  await run(
    'mvn',
    ['-q', '-B', '-f', POM, 'dependency:copy-dependencies', `-DoutputDirectory=${KAFKA_LIBS}`],
    {
      timeout: 600_000,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
}

/**
 * Starts a single-node KRaft broker (broker and controller in one process) on free ports on 127.0.0.1,
 * in a fresh folder, and waits until it answers a metadata request.
 */
export async function startKafkaBroker(): Promise<KafkaBroker> {
  await ensureKafkaJars();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kappa-kafka-'));
  const [port, controllerPort] = [await freePort(), await freePort()];
  const classpath = `${KAFKA_LIBS}/*`;
  const properties = path.join(dir, 'server.properties');
  await writeFile(
    properties,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.bootstrap.servers=127.0.0.1:${controllerPort}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
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
  const clusterId = kafkaUuid();
  const jvm = ['-Xms256m', '-Xmx768m', `-Dlog4j2.configurationFile=${log4j}`, '-cp', classpath];
  await run(
    'java',
    [...jvm, 'kafka.tools.StorageTool', 'format', '--standalone', '-t', clusterId, '-c', properties],
    {
      timeout: 120_000,
    },
  );
  const broker: ChildProcess = spawn('java', [...jvm, 'kafka.Kafka', properties], { stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => broker.once('exit', resolve));
  const bootstrap = `127.0.0.1:${port}`;
  try {
    await waitForMetadata(bootstrap, exited);
  } catch (error) {
    broker.kill('SIGKILL');
    const tail = await readFile(path.join(dir, 'broker.log'), 'utf8').catch(() => '');
    throw new Error(`Kafka broker did not start: ${(error as Error).message}\n${tail.slice(-3000)}`);
  }
  return {
    bootstrap,
    async java(mainClass, args, input) {
      const child = execFile('java', [...jvm, mainClass, ...args], {
        timeout: 120_000,
        maxBuffer: 64 * 1024 * 1024,
      });
      if (input !== undefined) child.stdin!.end(input);
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d;
      });
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      if (code !== 0) throw new Error(`${mainClass} exited with ${code}`);
      return out;
    },
    async stop() {
      if (broker.exitCode === null) {
        broker.kill('SIGTERM');
        const timer = setTimeout(() => broker.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
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
