import { InvalidTopicNameError } from './errors.ts';

const LEGAL = /^[a-zA-Z0-9._-]+$/;
export const MAX_TOPIC_NAME_LENGTH = 249;

/** Kafka's topic naming rules, so a topic made here can move to a Kafka cluster unchanged. */
export function validateTopicName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0)
    throw new InvalidTopicNameError(name, 'it must be a non-empty string');
  if (name === '.' || name === '..') throw new InvalidTopicNameError(name, "'.' and '..' are not allowed");
  if (name.length > MAX_TOPIC_NAME_LENGTH)
    throw new InvalidTopicNameError(
      name.slice(0, 40) + '…',
      `it is longer than ${MAX_TOPIC_NAME_LENGTH} characters`,
    );
  if (!LEGAL.test(name))
    throw new InvalidTopicNameError(name, 'only ASCII letters, digits, ".", "_" and "-" are allowed');
}

/** Topics whose names start with '__' belong to Kappa (consumer offsets, transactions). */
export function isInternalTopic(name: string): boolean {
  return name.startsWith('__');
}

/** Topics pipelines make for themselves: repartition topics, later changelogs and views. */
export const PIPELINE_TOPIC_PREFIX = 'kappa-';

export function isPipelineTopic(name: string): boolean {
  return name.startsWith(PIPELINE_TOPIC_PREFIX);
}

/**
 * Whether a topic is Kappa's own: the bus's (`__*`), the registry's (`_schemas` or as configured) or a
 * pipeline's (`kappa-*`). Public routes never write, delete or reconfigure them.
 */
export function kappaTopics(registryTopic = '_schemas'): (name: string) => boolean {
  return (name) => isInternalTopic(name) || isPipelineTopic(name) || name === registryTopic;
}

/** Why a name may not be given to a new topic by a user, or null: `__` names are the bus's own. */
export function reservedTopicName(name: string): string | null {
  return isInternalTopic(name) ? "names starting with '__' are reserved for Kappa's internal topics" : null;
}

/** A predicate over topic names from patterns: exact names, or names with `*` matching any run of characters. */
export function topicMatcher(patterns: readonly string[]): (topic: string) => boolean {
  const regexes = patterns.map(
    (p) => new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`),
  );
  return (topic) => regexes.some((r) => r.test(topic));
}
