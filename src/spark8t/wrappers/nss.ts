/**
 * Any UID (OpenShift's restricted-v2 runs an image as an arbitrary UID with GID 0): a UID with no
 * passwd entry leaves Java's user.home at "?" and makes Hadoop's login fail in Spark's JVM
 * (`LoginException: java.lang.NullPointerException: invalid null input: name`). As the rock's
 * entrypoints do (templates/rock/opt/spark/nss-wrapper.sh), spark8t then gives its Spark child one
 * through nss_wrapper when the library is installed: a passwd and a group file in its private
 * temporary directory, named by LD_PRELOAD and NSS_WRAPPER_*. Pure: run.ts looks and writes.
 */

export interface Anonymous {
  uid: number;
  gid: number;
  home: string;
  /** The system's /etc/passwd and /etc/group, as read. */
  passwd: string;
  group: string;
  /** libnss_wrapper.so's path. */
  lib: string;
}

/** The files to write (name → contents) and the child's environment, given the directory they go in. */
export function nssWrapper(a: Anonymous, dir: string, ldPreload: string | undefined): { files: Record<string, string>; env: Record<string, string> } {
  const nl = (t: string) => (t === '' || t.endsWith('\n') ? t : `${t}\n`);
  const hasGroup = nl(a.group)
    .split('\n')
    .some((l) => l.split(':')[2] === String(a.gid));
  return {
    files: {
      passwd: `${nl(a.passwd)}spark:x:${a.uid}:${a.gid}:anonymous uid:${a.home}:/bin/false\n`,
      group: hasGroup ? nl(a.group) : `${nl(a.group)}spark:x:${a.gid}:\n`,
    },
    env: {
      LD_PRELOAD: ldPreload ? `${ldPreload}:${a.lib}` : a.lib,
      NSS_WRAPPER_PASSWD: `${dir}/passwd`,
      NSS_WRAPPER_GROUP: `${dir}/group`,
    },
  };
}
