/**
 * nss_wrapper for a UID with no passwd entry (src/spark8t/wrappers/nss.ts): what spark8t gives its
 * Spark child. That Spark then runs as such a UID is cluster scenario 5c (src/smoke/cluster.ts).
 */
import { describe, expect, it } from 'vitest';
import { nssWrapper } from '../../src/spark8t/wrappers/nss.ts';

const base = {
  uid: 1000680000,
  gid: 0,
  home: '/var/lib/spark',
  passwd: 'root:x:0:0:root:/root:/bin/bash',
  group: 'root:x:0:\n',
  lib: '/usr/lib/x86_64-linux-gnu/libnss_wrapper.so',
};

describe('nss_wrapper for an unknown UID', () => {
  it('adds a passwd entry for the UID, keeps a group the GID has, and preloads the library after what was preloaded', () => {
    const w = nssWrapper(base, '/tmp/spark8t-conf-x', undefined);
    expect(w.files.passwd).toBe('root:x:0:0:root:/root:/bin/bash\nspark:x:1000680000:0:anonymous uid:/var/lib/spark:/bin/false\n');
    expect(w.files.group).toBe('root:x:0:\n');
    expect(w.env).toEqual({ LD_PRELOAD: base.lib, NSS_WRAPPER_PASSWD: '/tmp/spark8t-conf-x/passwd', NSS_WRAPPER_GROUP: '/tmp/spark8t-conf-x/group' });
    expect(nssWrapper(base, '/d', '/lib/a.so').env.LD_PRELOAD).toBe(`/lib/a.so:${base.lib}`);
  });

  it('a GID with no group gets one', () => {
    expect(nssWrapper({ ...base, gid: 4242 }, '/d', undefined).files.group).toBe('root:x:0:\nspark:x:4242:\n');
  });
});
