/**
 * State files opened without following a symbolic link. Kept free of heavy imports: the lock
 * (lock.ts) is taken by every executor at start, racing the others.
 */
import { closeSync, constants, openSync, readFileSync } from "node:fs";

/** A state file that is a symbolic link: bad input, nothing was read or written through it. */
export class StateLinkError extends Error {
  constructor(readonly file: string) {
    super(`${file}: (state file): is a symbolic link, expected a regular file; remove the link`);
    this.name = "StateLinkError";
  }
}

/**
 * Opens a state file without following a symbolic link in its last component (O_NOFOLLOW: a
 * link there fails with ELOOP, open(2)): whoever can plant a link in a state directory must
 * not make an executor read or append to a file it points at. A link is bad input: the CLI exits 2.
 */
export function openNoFollow(file: string, flags: number, mode = 0o600): number {
  try {
    return openSync(file, flags | constants.O_NOFOLLOW, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ELOOP") throw err;
    throw new StateLinkError(file);
  }
}

/** A state file's text, or undefined when there is none; never through a symbolic link. */
export function readNoFollow(file: string): string | undefined {
  let fd: number;
  try {
    fd = openNoFollow(file, constants.O_RDONLY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  try {
    return readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
}
