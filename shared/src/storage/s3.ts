import { Readable } from 'node:stream';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { BlobStore } from './types.ts';

export interface S3Settings {
  endpoint: string | undefined;
  region: string;
  bucket: string;
  accessKeyId: string | undefined;
  secretAccessKey: string | undefined;
  /** Path-style addressing (`endpoint/bucket/key`), which S3-compatible servers expect. */
  forcePathStyle: boolean;
}

/** Multipart part size: S3's minimum, and what one upload holds in memory at most. */
const PART_BYTES = 5 * 1024 * 1024;

/**
 * Blobs as objects of one bucket of an S3-compatible store. A put is a
 * multipart upload of PART_BYTES parts sent one at a time (lib-storage), so
 * an upload holds at most one part in memory; a read is a ranged GET streamed
 * through.
 */
export function createS3BlobStore(settings: S3Settings): BlobStore & { close(): void } {
  const client = new S3Client({
    region: settings.region,
    forcePathStyle: settings.forcePathStyle,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    ...(settings.accessKeyId && settings.secretAccessKey
      ? { credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey } }
      : {}),
  });
  const Bucket = settings.bucket;
  let bucketChecked = false;
  /** The bucket exists (created on first use): the store may start before the server does. */
  async function ensureBucket() {
    if (bucketChecked) return;
    try {
      await client.send(new HeadBucketCommand({ Bucket }));
    } catch (error) {
      if (!(error instanceof S3ServiceException) || error.$metadata.httpStatusCode !== 404) throw error;
      await client.send(new CreateBucketCommand({ Bucket })).catch((e: unknown) => {
        // Another replica created it meanwhile.
        if (!(e instanceof S3ServiceException) || !['BucketAlreadyOwnedByYou', 'BucketAlreadyExists'].includes(e.name)) throw e;
      });
    }
    bucketChecked = true;
  }

  return {
    kind: 's3',
    async put(key, source) {
      await ensureBucket();
      await new Upload({ client, params: { Bucket, Key: key, Body: Readable.from(source) }, partSize: PART_BYTES, queueSize: 1 }).done();
    },
    async *read(key, size, range) {
      if (size === 0) return;
      const res = await client.send(new GetObjectCommand({ Bucket, Key: key, ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }));
      if (!(res.Body instanceof Readable)) throw new Error(`blob ${key}: no body`);
      for await (const piece of res.Body) yield piece as Uint8Array;
    },
    async remove(key) {
      await client.send(new DeleteObjectCommand({ Bucket, Key: key }));
    },
    ready: ensureBucket,
    close: () => client.destroy(),
  };
}
