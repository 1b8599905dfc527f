import fs from 'node:fs';
import { ValidationError } from '../errors.js';

/** Bytes a CRL file may have: PKIoverheid's lists are kilobytes to a few megabytes. */
export const MAX_CRL_BYTES = 32 * 1024 * 1024;

/**
 * Opening never waits: a FIFO opened for reading would wait for a writer. What is opened is then
 * refused unless it is a regular file (a FIFO, a device such as /dev/zero behind a symlink, a
 * directory), and read to MAX_CRL_BYTES at most, whatever its size said.
 */
const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK;

function checkKind(stat: fs.Stats): void {
  if (!stat.isFile()) throw new ValidationError('not a regular file');
  if (stat.size > MAX_CRL_BYTES) throw new ValidationError(`larger than ${MAX_CRL_BYTES} bytes`);
}

const CHUNK = 64 * 1024;

/** A read that passed MAX_CRL_BYTES (the file grew since its size was looked at) is refused. */
function bounded(total: number): void {
  if (total > MAX_CRL_BYTES) throw new ValidationError(`larger than ${MAX_CRL_BYTES} bytes`);
}

/** A CRL file's bytes, at start: a ValidationError (or the system error) when it cannot serve. */
export function readCrlFileSync(file: string): Buffer {
  const fd = fs.openSync(file, OPEN_FLAGS);
  try {
    checkKind(fs.fstatSync(fd));
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(CHUNK);
      const n = fs.readSync(fd, chunk, 0, CHUNK, null);
      if (n === 0) return Buffer.concat(chunks, total);
      chunks.push(chunk.subarray(0, n));
      bounded((total += n));
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** A CRL file's bytes, at a reload; rejects as readCrlFileSync throws. */
export async function readCrlFile(file: string): Promise<Buffer> {
  const handle = await fs.promises.open(file, OPEN_FLAGS);
  try {
    checkKind(await handle.stat());
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(CHUNK);
      const { bytesRead } = await handle.read(chunk, 0, CHUNK, null);
      if (bytesRead === 0) return Buffer.concat(chunks, total);
      chunks.push(chunk.subarray(0, bytesRead));
      bounded((total += bytesRead));
    }
  } finally {
    await handle.close();
  }
}
