#!/usr/bin/env bash
# Print a SPARK_HOME made from the pyspark distribution on PyPI (a full Spark: bin, sbin, jars),
# downloaded once with its PyPI sha256 checked, cached under $SPARKCRAFT_CACHE/spark-home/<version>.
#   scripts/spark-home.sh [version]
. "$(dirname "$0")/lib.sh"
v=${1:-3.5.9}
home="$SPARKCRAFT_CACHE/spark-home/$v"
if [ ! -f "$home/.complete" ]; then
  fetch() {
    [ -f "$home/.complete" ] && return 0
    local meta url sha dl
    # The project JSON lists every release (some mirrors lack the per-version endpoint and give
    # relative URLs, resolved against the JSON's own address).
    meta=$(curl -fsSL --retry 4 --retry-delay 2 "https://pypi.org/pypi/pyspark/json") || die "cannot read pyspark from PyPI"
    read -r url sha < <(printf '%s' "$meta" | V=$v python3 -c 'import json,os,sys,urllib.parse as up; u=[x for x in json.load(sys.stdin)["releases"][os.environ["V"]] if x["packagetype"]=="sdist"][0]; print(up.urljoin("https://pypi.org/pypi/pyspark/json", u["url"]), u["digests"]["sha256"])') || die "pyspark $v is not on PyPI"
    dl="$SPARKCRAFT_CACHE/downloads/sha256/$sha"
    mkdir -p "$(dirname "$dl")"
    if [ ! -f "$dl" ]; then
      say "downloading pyspark $v ($url)"
      curl -fsSL --retry 5 --retry-delay 3 -o "$dl.part" "$url" || die "download of pyspark $v failed"
      got=$(sha256sum "$dl.part" | cut -d' ' -f1)
      [ "$got" = "$sha" ] || { rm -f "$dl.part"; die "pyspark $v: checksum mismatch (expected $sha, got $got) for $url"; }
      mv "$dl.part" "$dl"
    fi
    local tmp="$home.tmp.$$"; rm -rf "$tmp"; mkdir -p "$tmp"
    tar -xzf "$dl" -C "$tmp" --strip-components=1
    local out="$tmp/home"; mkdir -p "$out/python"
    for d in bin sbin jars data examples licenses conf; do [ -d "$tmp/deps/$d" ] && mv "$tmp/deps/$d" "$out/"; done
    mv "$tmp/pyspark" "$out/python/pyspark"
    [ -d "$tmp/lib" ] && mv "$tmp/lib" "$out/python/lib" || true
    chmod +x "$out"/bin/* "$out"/sbin/* 2>/dev/null || true
    rm -rf "$home"; mv "$out" "$home"; rm -rf "$tmp"
    touch "$home/.complete"
  }
  export -f fetch say die; export v home
  with_lock "spark-home-$v" bash -c fetch
fi
echo "$home"
