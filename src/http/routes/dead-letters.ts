import type { FastifyInstance } from 'fastify';
import { allowsTopic, ForbiddenError, type ProducerRecord } from '../../core/index.ts';
import type { Bus, Producer } from '../../log/index.ts';
import {
  DEAD_LETTER_REASONS,
  type DeadLetterReason,
  deadLettersAt,
  readDeadLetters,
  type StoredDeadLetter,
} from '../../stream/index.ts';
import { RequestError } from '../errors.ts';
import { intParam } from './records.ts';

/** Letters a page answers at most, and offsets one replay takes. */
const MAX_LETTERS = 1000;

/** A dead letter as the API answers it: bytes in base64, the source record's headers as produce takes them. */
export type DeadLetterJson = ReturnType<typeof letterJson>;

/** A page of `GET /v1/topics/{topic}/dead-letters`. */
export interface DeadLetterPageJson {
  topic: string;
  partition: number;
  /** Partitions of the topic: a client pages through each. */
  partitions: number;
  /** Where the next page starts; at `end`, nothing is left. */
  next: number;
  end: number;
  letters: DeadLetterJson[];
}

/** The answer of `POST /v1/topics/{topic}/dead-letters/replay`. */
export interface ReplayAnswerJson {
  /** Each letter sent back: its offset, and where its record went. */
  replayed: Array<{ offset: number; topic: string; partition: number; at: number }>;
  refused: Array<{ offset: number; why: string }>;
}

function letterJson({ partition, offset, timestamp, letter }: StoredDeadLetter) {
  const b64 = (b: Buffer | null) => (b === null ? null : b.toString('base64'));
  return {
    partition,
    offset,
    timestamp,
    kind: letter.kind,
    reason: letter.reason,
    pipeline: letter.pipeline,
    step: letter.step,
    errorClass: letter.errorClass,
    message: letter.message,
    source: { topic: letter.topic, partition: letter.partition, offset: letter.offset },
    ...(letter.eventTime === undefined ? {} : { eventTime: letter.eventTime }),
    ...(letter.truncated ? { truncated: true } : {}),
    key: b64(letter.key),
    value: b64(letter.value),
    headers: Object.entries(letter.headers ?? {}).map(([name, value]) => ({ name, value: b64(value) })),
  };
}

/**
 * The dead-letter browser's API, read on the server from the headers the stream layer writes (so
 * the dashboard and `kappa dlq` share one reading): `GET /v1/topics/{topic}/dead-letters`, a page
 * at a time, filtered by pipeline or reason; `POST …/replay` sends chosen letters back to their
 * source topics, with their own headers, refusing window results and Kappa's own topics.
 */
export function deadLetterRoutes(
  app: FastifyInstance,
  options: { bus: Bus; producer: Producer; owned: (topic: string) => boolean },
): void {
  const { bus, producer, owned } = options;

  app.get<{
    Params: { topic: string };
    Querystring: { partition?: string; from?: string; limit?: string; pipeline?: string; reason?: string };
  }>('/v1/topics/:topic/dead-letters', async (request) => {
    const { topic } = request.params;
    const q = request.query;
    const partition = intParam('partition', q.partition, 0, 0, 1e9);
    const limit = intParam('limit', q.limit, 100, 1, MAX_LETTERS);
    const from = q.from === undefined ? undefined : intParam('from', q.from, 0, 0, Number.MAX_SAFE_INTEGER);
    const reason = q.reason || undefined;
    if (reason !== undefined && !DEAD_LETTER_REASONS.includes(reason as DeadLetterReason))
      throw new RequestError(
        400,
        400,
        `reason must be one of ${DEAD_LETTER_REASONS.join(', ')}, got '${reason}'`,
      );
    const page = await readDeadLetters(bus, topic, {
      partition,
      limit,
      ...(from === undefined ? {} : { from }),
      ...(q.pipeline ? { pipeline: q.pipeline } : {}),
      ...(reason ? { reason: reason as DeadLetterReason } : {}),
    });
    return {
      topic,
      partition,
      partitions: page.partitions,
      next: page.next,
      end: page.end,
      letters: page.letters.map(letterJson),
    };
  });

  app.post<{ Params: { topic: string }; Body: unknown }>(
    '/v1/topics/:topic/dead-letters/replay',
    async (request): Promise<ReplayAnswerJson> => {
      const { topic } = request.params;
      const { partition, offsets } = replayBody(request.body);
      const found = await deadLettersAt(bus, topic, partition, offsets);
      const topics = new Set(await bus.listTopics());
      const refused: Array<{ offset: number; why: string }> = [];
      const chosen: StoredDeadLetter[] = [];
      for (const offset of new Set(offsets)) {
        const stored = found.get(offset);
        const why = !stored
          ? `no dead letter at offset ${offset} of ${topic}/${partition}`
          : stored.letter.kind === 'result'
            ? "a window result, not a record of a source topic: replay the pipeline's input instead"
            : owned(stored.letter.topic)
              ? `its source ${stored.letter.topic} is one of Kappa's own topics, which no request writes`
              : !topics.has(stored.letter.topic)
                ? `its source topic ${stored.letter.topic} does not exist (any more)`
                : null;
        if (why) refused.push({ offset, why });
        else chosen.push(stored!);
      }
      // All or nothing: a key that may not write one of the source topics replays none.
      const principal = request.principal;
      if (principal)
        for (const source of new Set(chosen.map((s) => s.letter.topic)))
          if (!allowsTopic(principal.scopes, 'produce', source, false))
            throw new ForbiddenError(
              `API key '${principal.name}' may not do this: replaying to ${source} needs produce:${source}`,
            );
      const records: ProducerRecord[] = chosen.map(({ letter }) => ({
        topic: letter.topic,
        key: letter.key,
        value: letter.value,
        headers: letter.headers ?? {},
      }));
      const written = records.length > 0 ? await producer.send(records) : [];
      return {
        replayed: chosen.map((s, i) => ({
          offset: s.offset,
          topic: written[i]!.topic,
          partition: written[i]!.partition,
          at: written[i]!.offset,
        })),
        refused,
      };
    },
  );
}

function replayBody(body: unknown): { partition: number; offsets: number[] } {
  const b = body as { partition?: unknown; offsets?: unknown } | null;
  const isOffset = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
  if (typeof b !== 'object' || b === null || !Array.isArray(b.offsets) || !b.offsets.every(isOffset))
    throw new RequestError(
      422,
      422,
      'The body must be {"offsets": [<offset>, …], "partition"?: <partition>}: offsets are integers of at least 0',
    );
  if (b.offsets.length === 0 || b.offsets.length > MAX_LETTERS)
    throw new RequestError(
      422,
      422,
      `offsets must name 1 to ${MAX_LETTERS} dead letters, got ${b.offsets.length}`,
    );
  if (b.partition !== undefined && !isOffset(b.partition))
    throw new RequestError(422, 422, 'partition must be an integer of at least 0');
  return { partition: (b.partition as number | undefined) ?? 0, offsets: b.offsets };
}
