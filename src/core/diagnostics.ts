import diagnosticsChannel from 'node:diagnostics_channel';

/**
 * Layers publish what happens on `kappa:<layer>:<event>` channels; metrics and the dashboard subscribe.
 * Publishing with no subscriber costs one boolean check, so the hot path stays fast and the engine never
 * imports a metrics library.
 */
export function channel<T>(layer: string, event: string): TypedChannel<T> {
  return diagnosticsChannel.channel(`kappa:${layer}:${event}`) as TypedChannel<T>;
}

export interface TypedChannel<T> {
  readonly hasSubscribers: boolean;
  publish(message: T): void;
  subscribe(fn: (message: T, name: string | symbol) => void): void;
  unsubscribe(fn: (message: T, name: string | symbol) => void): unknown;
}
