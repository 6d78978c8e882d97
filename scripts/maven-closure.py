#!/usr/bin/env python3
"""Print the runtime closure of Maven artifacts from Maven Central's poms (parents, properties,
imported BOMs, dependencyManagement scopes; compile and runtime scope, optional ones left out).

    python3 scripts/maven-closure.py software.amazon.awssdk:s3:2.29.52 ...

One `group:artifact:version` a line, sorted. It is how the 4.1 line's AWS SDK v2 modules in
matrix.yaml were chosen (s3, s3-transfer-manager, apache-client, netty-nio-client, minus what Spark
ships); `npm run lock` then pins each jar's sha256. Reads poms only; downloads no jar.
"""
import sys, re, urllib.request, xml.etree.ElementTree as ET, functools
M='https://repo1.maven.org/maven2'
NS='{http://maven.apache.org/POM/4.0.0}'
@functools.lru_cache(None)
def pom(g,a,v):
    url=f"{M}/{g.replace('.','/')}/{a}/{v}/{a}-{v}.pom"
    try: return ET.fromstring(urllib.request.urlopen(url).read())
    except Exception as e: sys.exit(f"{url}: {e}")
def t(e,name):
    x=e.find(NS+name); return x.text.strip() if x is not None and x.text else None
@functools.lru_cache(None)
def effective(g,a,v):
    r=pom(g,a,v); props={}; dm={}
    par=r.find(NS+'parent')
    if par is not None:
        pp,pdm=effective(t(par,'groupId'),t(par,'artifactId'),t(par,'version'))
        props.update(pp); dm.update(pdm)
        props['project.parent.version']=t(par,'version'); props['parent.version']=t(par,'version')
    props['project.version']=v; props['project.groupId']=g
    pe=r.find(NS+'properties')
    if pe is not None:
        for c in pe: props[c.tag.replace(NS,'')]=(c.text or '').strip()
    def sub(s):
        for _ in range(5):
            s=re.sub(r'\$\{([^}]+)\}', lambda m: props.get(m.group(1), m.group(0)), s)
        return s
    dme=r.find(NS+'dependencyManagement')
    if dme is not None:
        for d in dme.iter(NS+'dependency'):
            dg,da,dv=sub(t(d,'groupId')),sub(t(d,'artifactId')),sub(t(d,'version') or '')
            if t(d,'scope')=='import' and t(d,'type')=='pom':
                _,idm=effective(dg,da,dv); 
                for k,vv in idm.items(): dm.setdefault(k,vv)
            else: dm[(dg,da)]=(dv, t(d,'scope'))
    return props,dm
def deps(g,a,v):
    props,dm=effective(g,a,v); r=pom(g,a,v)
    def sub(s):
        for _ in range(5):
            s=re.sub(r'\$\{([^}]+)\}', lambda m: props.get(m.group(1), m.group(0)), s)
        return s
    out=[]
    de=r.find(NS+'dependencies')
    if de is None: return out
    for d in de.findall(NS+'dependency'):
        dg,da=sub(t(d,'groupId')),sub(t(d,'artifactId'))
        mv,ms=dm.get((dg,da),(None,None))
        scope=t(d,'scope') or ms or 'compile'
        if scope not in ('compile','runtime') or (t(d,'optional')=='true'): continue
        dv=sub(t(d,'version')) if t(d,'version') else mv
        out.append((dg,da,dv))
    return out
if len(sys.argv) < 2 or any(x.count(":") != 2 for x in sys.argv[1:]):
    sys.exit("usage: maven-closure.py group:artifact:version...")
seen={}
stack=[tuple(x.split(':')) for x in sys.argv[1:]]
while stack:
    g,a,v=stack.pop()
    if (g,a) in seen: continue
    seen[(g,a)]=v
    stack.extend(deps(g,a,v))
for (g,a),v in sorted(seen.items()): print(f"{g}:{a}:{v}")
