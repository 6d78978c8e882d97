/**
 * The rock's file-mode rule (issue 23, a hardened rock): no setuid or setgid file or directory, and
 * nothing world-writable but the directories the rock declares for scratch space: /tmp, sticky 1777
 * (where Java, Python, Kerberos and Spark's local dirs write as the run user). One rule, three uses:
 * - the built-in backend writes every layer's entries through `hardenedMode` (layer keys name `HARDENING`);
 * - the rendered rockcraft.yaml carries it as shell (`hardenScript`) for rockcraft: over the base
 *   (an overlay-script) and over every part's primed files (an override-prime);
 * - the build test and the smoke check list what breaks it in a built rock (`rockFindings`): every
 *   layer read in order, a later layer's entry or whiteout winning, as a container runtime sees it.
 */
import { ArchiveError, readArchiveImage, type ArchiveImage } from './oci-archive.ts';
import { GZIP_LAYERS, walkLayer, type TarHeader } from './tar-read.ts';

/** The world-writable directories the rock declares (paths in the image, no leading `/`): sticky 1777. */
export const WORLD_WRITABLE = ['tmp'];

/** What a layer key names of this rule: a change of it rebuilds every layer the built-in backend writes. */
export const HARDENING = `no setuid/setgid; o+w only ${WORLD_WRITABLE.map((p) => `/${p} (1777)`).join(' ')}`;

export type Kind = 'dir' | 'file' | 'symlink' | 'other';

/**
 * Pure: the mode an entry gets under the rule: setuid and setgid cleared; world-write cleared,
 * except on a declared directory, which gets the sticky bit. A symlink's mode means nothing: kept.
 * The same as `chmod ug-s` and `chmod o-w` (a sticky bit stays, as chmod leaves it).
 */
export function hardenedMode(path: string, kind: Kind, mode: number): number {
  if (kind === 'symlink') return mode;
  const m = mode & ~0o6000;
  if (!(m & 0o002)) return m;
  return kind === 'dir' && WORLD_WRITABLE.includes(path) ? m | 0o1000 : m & ~0o002;
}

/** The rule as shell over the tree at `root` (a shell word: `$CRAFT_OVERLAY`, `$CRAFT_PRIME`), one command a line. */
export function hardenScript(root: string): string[] {
  const keep = WORLD_WRITABLE.map((p) => `! -path "${root}/${p}"`).join(' ');
  return [`find "${root}" -xdev ! -type l -perm /6000 -exec chmod ug-s {} +`, `find "${root}" -xdev ! -type l -perm -0002 ${keep} -exec chmod o-w {} +`];
}

/** One path that breaks the rule. */
export interface Finding {
  path: string;
  mode: number;
  why: string;
}

export interface ViewEntry {
  kind: Kind;
  mode: number;
  uid: number;
  gid: number;
}

/** Pure: the entries of a file system view that break the rule, sorted by path. */
export function findings(view: Map<string, ViewEntry>): Finding[] {
  const out: Finding[] = [];
  for (const [path, e] of view) {
    if (e.kind === 'symlink') continue;
    const id = [e.mode & 0o4000 ? 'setuid' : '', e.mode & 0o2000 ? 'setgid' : ''].filter(Boolean);
    if (id.length) out.push({ path: `/${path}`, mode: e.mode, why: id.join('+') });
    if (!(e.mode & 0o002)) continue;
    if (!(e.kind === 'dir' && e.mode & 0o1000)) out.push({ path: `/${path}`, mode: e.mode, why: 'world-writable' });
    else if (!WORLD_WRITABLE.includes(path)) out.push({ path: `/${path}`, mode: e.mode, why: 'world-writable (sticky), not a declared directory' });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** `/usr/bin/su 4755 setuid`: a finding as one line. */
export const findingLine = (f: Finding) => `${f.path} ${(f.mode & 0o7777).toString(8).padStart(4, '0')} ${f.why}`;

const kindOf = (type: string): Kind =>
  type === '5' ? 'dir' : type === '2' ? 'symlink' : type === '0' || type === '\0' || type === '1' || type === '7' ? 'file' : 'other';

/**
 * The file system an oci-archive's image gives a container (its one image; gzip layers): each
 * layer's whiteouts (`.wh.<name>`, `.wh..wh..opq`) remove what the layers below have there, then
 * its entries replace theirs (an entry that is not a directory hides a directory's contents below).
 */
export async function rockView(archive: string): Promise<Map<string, ViewEntry>> {
  let img: ArchiveImage;
  try {
    img = readArchiveImage(archive);
  } catch (e) {
    throw e instanceof ArchiveError ? new Error(`${archive}: ${e.message}`) : e;
  }
  const { members, manifest } = img;
  const blob = (digest: string) => {
    const m = members.get(`blobs/sha256/${String(digest).replace(/^sha256:/, '')}`);
    if (!m) throw new Error(`${archive}: blob ${digest} is not in the archive`);
    return m;
  };
  const view = new Map<string, ViewEntry>();
  const removeBelow = (dir: string, self: boolean) => {
    if (self) view.delete(dir);
    const pre = dir ? `${dir}/` : '';
    for (const k of [...view.keys()]) if (k.startsWith(pre)) view.delete(k);
  };
  for (const [i, l] of (manifest.layers ?? []).entries()) {
    if (!GZIP_LAYERS.has(l.mediaType ?? '')) throw new Error(`${archive}: layer ${i + 1} is ${l.mediaType}, not a gzip layer`);
    const entries: TarHeader[] = [];
    await walkLayer(archive, (h) => entries.push(h), blob(l.digest));
    for (const h of entries) {
      const slash = h.name.lastIndexOf('/');
      const [dir, base] = [slash < 0 ? '' : h.name.slice(0, slash), h.name.slice(slash + 1)];
      if (base === '.wh..wh..opq') removeBelow(dir, false);
      else if (base.startsWith('.wh.')) removeBelow(dir ? `${dir}/${base.slice(4)}` : base.slice(4), true);
    }
    for (const h of entries) {
      const base = h.name.slice(h.name.lastIndexOf('/') + 1);
      if (!h.name || base.startsWith('.wh.')) continue;
      const kind = kindOf(h.type);
      if (kind !== 'dir' && view.get(h.name)?.kind === 'dir') removeBelow(h.name, false);
      view.set(h.name, { kind, mode: h.mode & 0o7777, uid: h.uid, gid: h.gid });
    }
  }
  return view;
}

/** What breaks the rule in the rock at `archive`, and how many paths its image has. */
export async function rockFindings(archive: string): Promise<{ paths: number; findings: Finding[] }> {
  const view = await rockView(archive);
  return { paths: view.size, findings: findings(view) };
}
