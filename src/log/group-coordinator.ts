import { GroupFencedError, type TopicPartition } from '../core/index.ts';
import type { GroupMetadata } from './bus.ts';

/** What the coordinator needs of a group member (the embedded consumer). */
export interface GroupMember {
  readonly memberId: number;
  readonly topics: readonly string[];
  /** Stop reading these partitions; the member's onRevoked runs before this resolves. */
  groupRevoke(partitions: TopicPartition[]): Promise<void>;
  /** Start reading these partitions from the group's committed offsets; onAssigned runs first. */
  groupAssign(partitions: TopicPartition[]): Promise<void>;
}

interface GroupState {
  members: GroupMember[];
  owned: Map<GroupMember, TopicPartition[]>;
  /** Bumped by every rebalance, as Kafka's group generation is. */
  generation: number;
  /** Rebalances run one after another, never interleaved. */
  chain: Promise<void>;
}

/**
 * Consumer groups inside one process. On every join or leave the partitions of the subscribed topics
 * are dealt round-robin over the members; every member first gives up what it loses (and commits, in
 * onRevoked) before any member starts on what it gains, so no partition ever has two readers.
 */
export class GroupCoordinator {
  readonly #groups = new Map<string, GroupState>();
  readonly #partitionsOf: (topic: string) => number | undefined;

  constructor(partitionsOf: (topic: string) => number | undefined) {
    this.#partitionsOf = partitionsOf;
  }

  join(group: string, member: GroupMember): Promise<void> {
    const state = this.#state(group);
    if (!state.members.includes(member)) state.members.push(member);
    return this.#rebalance(state);
  }

  leave(group: string, member: GroupMember): Promise<void> {
    const state = this.#groups.get(group);
    if (!state) return Promise.resolve();
    state.members = state.members.filter((m) => m !== member);
    return this.#rebalance(state);
  }

  /** A topic was deleted: rebalance the groups that read it. */
  async topicDeleted(topic: string): Promise<void> {
    for (const state of this.#groups.values()) {
      if (state.members.some((m) => m.topics.includes(topic))) await this.#rebalance(state);
    }
  }

  /** The ids of a group's members now. */
  members(group: string): string[] {
    return (this.#groups.get(group)?.members ?? []).map((m) => String(m.memberId));
  }

  /** Groups with members now. */
  live(): string[] {
    return [...this.#groups].filter(([, s]) => s.members.length > 0).map(([group]) => group);
  }

  metadata(group: string, member: GroupMember): GroupMetadata {
    const state = this.#groups.get(group);
    if (!state?.members.includes(member)) throw new GroupFencedError(group, state?.generation ?? 0);
    return { group, generation: state.generation, memberId: String(member.memberId) };
  }

  /** Throws GroupFencedError unless `metadata` names a current member in the current generation. */
  checkFence(metadata: GroupMetadata): void {
    const state = this.#groups.get(metadata.group);
    const current =
      state !== undefined &&
      state.generation === metadata.generation &&
      state.members.some((m) => String(m.memberId) === metadata.memberId);
    if (!current) throw new GroupFencedError(metadata.group, metadata.generation);
  }

  #state(group: string): GroupState {
    let state = this.#groups.get(group);
    if (!state) {
      state = { members: [], owned: new Map(), generation: 0, chain: Promise.resolve() };
      this.#groups.set(group, state);
    }
    return state;
  }

  #rebalance(state: GroupState): Promise<void> {
    const run = state.chain.then(async () => {
      state.generation++;
      const target = this.#assignment(state);
      for (const [member, before] of state.owned) {
        const after = target.get(member) ?? [];
        const lost = before.filter((tp) => !after.some((a) => same(a, tp)));
        if (lost.length > 0) await member.groupRevoke(lost).catch(() => {});
      }
      for (const member of state.members) {
        const before = state.owned.get(member) ?? [];
        const gained = (target.get(member) ?? []).filter((tp) => !before.some((b) => same(b, tp)));
        if (gained.length > 0) await member.groupAssign(gained);
      }
      state.owned = target;
    });
    state.chain = run.catch(() => {});
    return run;
  }

  /**
   * A balanced assignment that moves as few partitions as it can (Kafka's sticky assignor): per
   * topic, each reader's share is ⌊n/k⌋ or ⌈n/k⌉ (the larger shares go to those holding most now),
   * each keeps what it holds up to its share, and the rest go to those below theirs. A member joining
   * or leaving moves about n/k partitions, not nearly all of them, and moved partitions cost a state
   * restore each.
   */
  #assignment(state: GroupState): Map<GroupMember, TopicPartition[]> {
    const { members } = state;
    const result = new Map<GroupMember, TopicPartition[]>(members.map((m) => [m, []]));
    const topics = [...new Set(members.flatMap((m) => m.topics))].sort();
    for (const topic of topics) {
      const partitions = this.#partitionsOf(topic);
      if (partitions === undefined) continue;
      const held = (m: GroupMember) =>
        (state.owned.get(m) ?? [])
          .filter((tp) => tp.topic === topic && tp.partition < partitions)
          .map((tp) => tp.partition)
          .sort((a, b) => a - b);
      const readers = members
        .filter((m) => m.topics.includes(topic))
        .sort((a, b) => held(b).length - held(a).length || a.memberId - b.memberId);
      const base = Math.floor(partitions / readers.length);
      const quota = new Map(readers.map((m, i) => [m, base + (i < partitions % readers.length ? 1 : 0)]));
      const taken = new Set<number>();
      for (const m of readers)
        for (const p of held(m).slice(0, quota.get(m))) {
          taken.add(p);
          result.get(m)!.push({ topic, partition: p });
        }
      let next = 0;
      for (const m of [...readers].sort((a, b) => a.memberId - b.memberId)) {
        const mine = result.get(m)!;
        while (mine.filter((tp) => tp.topic === topic).length < quota.get(m)!) {
          while (taken.has(next)) next++;
          taken.add(next);
          mine.push({ topic, partition: next });
        }
      }
    }
    return result;
  }
}

function same(a: TopicPartition, b: TopicPartition): boolean {
  return a.topic === b.topic && a.partition === b.partition;
}
