/**
 * Writes several files all or none. Each new text goes to a temporary file beside its target
 * (same directory, so the same file system) and is flushed; only when every one is written are
 * they renamed over their targets, each rename(2) atomic. A rename that fails puts back the
 * ones already done from hard links of the originals taken before the first rename. A crash
 * between two renames leaves some files upgraded: running the command again finishes the
 * rest, since an upgraded file has nothing left to rewrite (rename(2), docs/real-path.md).
 */
import {
  closeSync,
  fsyncSync,
  readFileSync,
  linkSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";

export interface NewText {
  file: string;
  text: string;
  /** The bytes the text was made from: a file changed since (an editor saved it) is not replaced. */
  read?: Buffer;
}

const sibling = (file: string, what: string) =>
  join(dirname(file), `.${basename(file)}.avfleet-upgrade-${process.pid}.${what}`);

function writeTemp(file: string, text: string): string {
  const temp = sibling(file, "new");
  // The original's permission bits: a stack file kept private stays private.
  const fd = openSync(temp, "wx", statSync(file).mode & 0o777);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return temp;
}

/** Writes every file or none; throws (after undoing) when one cannot be written. */
export function writeAll(files: readonly NewText[]): void {
  const temps: string[] = [];
  const backups: string[] = [];
  const renamed: number[] = [];
  try {
    for (const { file, text } of files) temps.push(writeTemp(file, text));
    for (const { file, read } of files) {
      if (read && !readFileSync(file).equals(read)) {
        throw new Error(`${file} changed since it was read: run the command again`);
      }
    }
    files.forEach(({ file }) => {
      const backup = sibling(file, "old");
      linkSync(file, backup);
      backups.push(backup);
    });
    files.forEach(({ file }, i) => {
      renameSync(temps[i], file);
      renamed.push(i);
    });
  } catch (err) {
    try {
      for (const i of renamed) renameSync(backups[i], files[i].file);
    } catch (undo) {
      // The originals stay in the backups for a human; say where.
      throw new Error(
        `${(err as Error).message}; and putting the originals back failed (${(undo as Error).message}): they are in ${backups.join(", ")}`,
      );
    }
    for (const path of backups) rmSync(path, { force: true });
    throw err;
  } finally {
    for (const path of temps) rmSync(path, { force: true });
  }
  for (const path of backups) rmSync(path, { force: true });
}
