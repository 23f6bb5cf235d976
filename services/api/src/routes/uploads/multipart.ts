import { Readable } from 'node:stream';
import busboy from 'busboy';
import { DomainError, invalid } from '@chat/shared/errors';

/** The file of a multipart request: its name as the client gave it and its bytes as they arrive. */
export interface IncomingFile {
  name: string;
  data: AsyncIterable<Uint8Array>;
}

export interface MultipartLimits {
  /** A file longer than this is cut off one byte past it (the rules refuse it). */
  maxBytes: number;
  /** No bytes for this long: the upload is cut off. */
  idleTimeoutMs: number;
  /** Not finished within this: cut off, however steadily it trickles. */
  timeoutMs: number;
}

const slow = () => new DomainError('bad_request', 'the upload was too slow and was cut off');

/**
 * Streams the `file` part of a `multipart/form-data` body to `use` (busboy),
 * and resolves with what `use` resolves with. Nothing is buffered beyond
 * busboy's own small window: the bytes reach `use` as the client sends them.
 * A client that stalls or trickles is cut off by the clocks of `limits`, and
 * its socket with it, so it cannot hold a replica. Other parts are read past.
 */
export function withUploadedFile<T>(
  request: {
    contentType: string;
    body: ReadableStream<Uint8Array> | null;
    /** Drops the client's connection: a stalled or trickling client gets no answer, and its socket is freed at once. */
    drop: () => void;
  },
  limits: MultipartLimits,
  use: (file: IncomingFile) => Promise<T>,
): Promise<T> {
  if (!/^multipart\/form-data\s*;/i.test(request.contentType) || request.body === null) {
    return Promise.reject(invalid('send the file as multipart/form-data with a part named "file"'));
  }
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: { 'content-type': request.contentType },
      defParamCharset: 'utf8',
      limits: { files: 1, fileSize: limits.maxBytes + 1, fields: 10, fieldSize: 1024, parts: 12, headerPairs: 20 },
    });
  } catch {
    return Promise.reject(invalid('malformed multipart/form-data (no boundary)'));
  }
  const source = Readable.fromWeb(request.body);
  const deadline = Date.now() + limits.timeoutMs;

  return new Promise<T>((resolve, reject) => {
    let taken = false;
    const fail = (error: unknown) => {
      source.unpipe(parser);
      // The rest of the body is read and dropped, so the answer reaches the client;
      // a client still sending at the deadline is cut off with its socket.
      source.resume();
      const cutOff = setTimeout(() => (source.destroy(), request.drop()), Math.max(0, deadline - Date.now()));
      cutOff.unref();
      source.once('close', () => clearTimeout(cutOff));
      reject(error instanceof DomainError ? error : invalid('malformed multipart/form-data'));
    };

    parser.on('file', (field, stream, info) => {
      if (field !== 'file' || taken) return void stream.resume();
      taken = true;
      use({ name: info.filename ?? 'file', data: clocked(stream, limits.idleTimeoutMs, deadline, () => (source.destroy(), request.drop())) }).then(
        (value) => {
          // Whatever follows the file (an epilogue) is read to the end.
          source.resume();
          resolve(value);
        },
        (error: unknown) => {
          stream.resume();
          fail(error);
        },
      );
    });
    parser.on('error', fail);
    parser.on('close', () => {
      if (!taken) fail(invalid('invalid upload', [{ field: 'file', message: 'no part named "file"' }]));
    });
    source.on('error', (error) => {
      if (!taken) fail(error);
    });
    source.pipe(parser);
  });
}

/** The file's bytes, stopped by the idle clock (reset by every chunk) and the overall deadline. */
async function* clocked(stream: Readable, idleMs: number, deadline: number, drop: () => void): AsyncIterable<Uint8Array> {
  let cut: DomainError | undefined;
  const stop = () => {
    cut = slow();
    drop();
    // The iteration below ends with `cut`.
    stream.destroy(cut);
  };
  let idle = setTimeout(stop, idleMs);
  const overall = setTimeout(stop, Math.max(0, deadline - Date.now()));
  try {
    for await (const chunk of stream) {
      clearTimeout(idle);
      idle = setTimeout(stop, idleMs);
      yield chunk as Uint8Array;
    }
  } catch (error) {
    throw cut ?? error;
  } finally {
    clearTimeout(idle);
    clearTimeout(overall);
  }
  if (cut) throw cut;
}
