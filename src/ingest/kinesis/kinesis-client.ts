import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/** Where a Kinesis stream is: the region, and an endpoint for a Kinesis-compatible server. */
export interface KinesisConnection {
  region: string;
  /** `http://localhost:4568` for kinesis-local; default AWS's. */
  endpoint?: string;
  /** Default: the AWS SDK's chain (environment, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/**
 * A client over HTTP/1.1: the SDK's default for Kinesis is HTTP/2 (for SubscribeToShard, which Kappa
 * does not use), and some Kinesis-compatible servers answer its empty-bodied replies unreadably.
 */
export function kinesisClient(c: KinesisConnection): KinesisClient {
  return new KinesisClient({
    requestHandler: new NodeHttpHandler(),
    region: c.region,
    ...(c.endpoint ? { endpoint: c.endpoint } : {}),
    // A copy: the SDK marks the object it is given (a `$source` field).
    ...(c.credentials ? { credentials: { ...c.credentials } } : {}),
  });
}
