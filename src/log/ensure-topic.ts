import { UnknownTopicError } from '../core/index.ts';
import type { Bus, TopicDescription, TopicSpec } from './bus.ts';

/**
 * A topic as it is, made with `spec` if it does not exist yet. Another process (or request) may make
 * it at the same moment: the loser of that race takes the winner's topic rather than failing.
 */
export async function ensureTopic(bus: Bus, name: string, spec: TopicSpec): Promise<TopicDescription> {
  try {
    return await bus.describeTopic(name);
  } catch (error) {
    if (!(error instanceof UnknownTopicError)) throw error;
  }
  try {
    await bus.createTopic(name, spec);
  } catch (create) {
    return bus.describeTopic(name).catch(() => {
      throw create;
    });
  }
  return bus.describeTopic(name);
}
