# The Spark Connect scenarios' thin client (pyspark-client, no JVM), run on the host from the venv
# scripts/setup.d/70-connect-client.sh makes. argv: PORT MODE; the token in CONNECT_TOKEN (never argv).
# It connects to sc://localhost:PORT (a `kubectl port-forward` to the server's Service): pyspark sends
# a token only over TLS or to "localhost" (local channel credentials), and the server speaks no TLS.
# Prints one JSON object.
import json
import os
import sys
import time

from pyspark.sql import SparkSession

port, mode = sys.argv[1], sys.argv[2]
token = os.environ.get("CONNECT_TOKEN", "")
url = f"sc://localhost:{port}/" + (f";token={token}" if token else "")
out = {}
SMALL_QUERY = "SELECT sum(id) AS s FROM range(1000000)"  # 499999500000

if mode == "refused":
    try:
        s = SparkSession.builder.remote(url).create()
        s.range(1).collect()
        out["refused"] = False
    except Exception as e:  # what the server answered: gRPC's status and details lines
        text = str(e)
        said = [line.strip() for line in text.splitlines() if line.strip().startswith(("status =", "details ="))]
        out["refused"] = True
        out["error"] = (" ".join(said) or text.strip().splitlines()[0])[:300]
    print(json.dumps(out))
    sys.exit(0)

if mode == "long":  # a query of minutes, until the test kills this client
    s = SparkSession.builder.remote(url).create()
    print("STARTED", flush=True)
    s.range(0, 10**12, 1, 4).selectExpr("sum(id % 7) AS x").collect()
    print(json.dumps({"finished": True}))
    sys.exit(0)

t0 = time.monotonic()
a = SparkSession.builder.remote(url).create()
out["sum"] = a.range(1000).selectExpr("sum(id) AS s").collect()[0].s
out["first_ms"] = round((time.monotonic() - t0) * 1000)  # a new session's first query (bench:cluster)
# A small query, warm: the median of 5 (the same query bench:cluster runs through spark-submit in cluster mode).
small = []
for _ in range(5):
    t = time.monotonic()
    out["small"] = a.sql(SMALL_QUERY).collect()[0].s
    small.append((time.monotonic() - t) * 1000)
out["warm_ms"] = round(sorted(small)[2])
b = SparkSession.builder.remote(url).create()
out["sessions"] = len({a.session_id, b.session_id})
out["sql"] = a.sql("SELECT 40 + 2 AS x").collect()[0].x
# An Iceberg table on the account's bucket: written by one session, read by the other.
a.sql("CREATE NAMESPACE IF NOT EXISTS lake.db")
a.sql("CREATE TABLE lake.db.connect_events (id BIGINT, kind STRING) USING iceberg")
a.createDataFrame([(1, "a"), (2, "b")], "id BIGINT, kind STRING").writeTo("lake.db.connect_events").append()
a.sql("INSERT INTO lake.db.connect_events VALUES (3, 'c')")
row = b.sql("SELECT count(*) AS n, max(id) AS m FROM lake.db.connect_events").collect()[0]
out["table"] = f"{row.n} {row.m}"
out["snapshots"] = b.sql("SELECT count(*) AS n FROM lake.db.connect_events.snapshots").collect()[0].n
# Temporary views are a session's own.
a.range(5).createOrReplaceTempView("only_a")
b.range(7).createOrReplaceTempView("only_b")
out["a_views"] = sorted(t.name for t in a.catalog.listTables() if t.isTemporary)
out["b_views"] = sorted(t.name for t in b.catalog.listTables() if t.isTemporary)
out["a_count"] = a.table("only_a").count()
# The executors' host names (Spark names an executor's host after its pod).
out["hosts"] = sorted({r.h for r in a.range(0, 8, 1, 8).selectExpr("reflect('java.net.InetAddress', 'getLocalHost') AS h").collect()})
a.stop()
b.stop()
print(json.dumps(out))
