import { randomBytes } from 'node:crypto';
import { chown, lchown, lstat, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface ContainerUser {
  uid: number;
  gid: number;
}

/** The instance's data directory as the Docker driver prepares it before each container start. */
export interface InstanceFiles {
  /**
   * Creates userDir, writes the settings file readable by its owner only, and, when `owner` is given, makes the
   * whole tree that user's so Node-RED inside the container can read its settings and write its flows.
   */
  prepare(userDir: string, settingsFile: string, settingsJs: string, owner: ContainerUser | null): Promise<void>;
}

export class LocalInstanceFiles implements InstanceFiles {
  async prepare(userDir: string, settingsFile: string, settingsJs: string, owner: ContainerUser | null): Promise<void> {
    await mkdir(userDir, { recursive: true });
    const target = join(userDir, settingsFile);
    const temp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(temp, settingsJs, { mode: 0o600 });
      if (owner) await chown(temp, owner.uid, owner.gid);
      await rename(temp, target);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    if (owner) await this.handOver(userDir, owner);
  }

  /** Only entries owned by someone else are changed: a second start walks the tree without writing. */
  private async handOver(dir: string, owner: ContainerUser): Promise<void> {
    const paths = [dir, ...(await readdir(dir, { recursive: true })).map((entry) => join(dir, entry))];
    for (const path of paths) {
      const stat = await lstat(path).catch(() => null);
      if (stat && (stat.uid !== owner.uid || stat.gid !== owner.gid)) await lchown(path, owner.uid, owner.gid);
    }
  }
}
