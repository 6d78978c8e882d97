/**
 * Native libraries of other platforms in Spark's jars. rocksdbjni carries RocksDB's JNI library for
 * eleven platforms (162 MB of the 3.5 distribution's 324 MB of jars, 58 MB compressed) and loads only
 * the one of the JVM's platform; a cell's tree keeps that one (src/lib/arch.ts, `jni`) and drops the
 * others (src/lib/zip.ts dropZipEntries: the kept entries' bytes copied unchanged, no recompression, so the
 * same jar gives the same bytes). Pure.
 */
import { escapeRegExp } from '../lib/regexp.ts';

/** One rule: in jars whose file name matches `jar`, drop the entries `drop` matches except `keep`. */
export interface NativeRule {
  jar: RegExp;
  drop: RegExp;
  keep: string;
}

/** The rules of an architecture's `jni` entries (jar file prefix → the library to keep). */
export function nativeRules(jni: Record<string, string>): NativeRule[] {
  return Object.entries(jni).map(([prefix, keep]) => ({
    jar: new RegExp(`^${escapeRegExp(prefix)}[0-9][^/]*\\.jar$`),
    drop: new RegExp(`^${escapeRegExp(keep.split('-')[0]!)}-.*\\.(so|dll|dylib|jnilib)$`),
    keep,
  }));
}

/** The entries of a jar a rule keeps: its own library and everything that is not one of the rule's libraries. */
export const keptBy =
  (rule: NativeRule) =>
  (name: string): boolean =>
    name === rule.keep || !rule.drop.test(name);
