import { statfs } from "node:fs/promises";

/**
 * Free bytes an unprivileged process may still write on the file system holding `dir` (`f_bavail`, not the
 * root-reserved `f_bfree`: the gate does not run as root). Null when the call fails; never rejects.
 */
export async function diskFreeBytes(dir: string): Promise<number | null> {
  try {
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}
