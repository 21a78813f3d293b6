#!/usr/bin/env bash
# Regenerates tests/apache/datadir: a data directory written by the real Apache ZooKeeper 3.8
# (Debian's zookeeper package) with a separate dataLogDir, several snapshots and log files, nodes
# of every kind, ACLs and open sessions with ephemerals; plus what Apache's own tools say about it:
#   expected/tree.txt            the final tree as a client reads it (MakeData.java's dump)
#   expected/snapshot.<z>.txt    SnapshotFormatter -d of each snapshot (TZ=UTC)
#   expected/log.<z>.txt         TxnLogToolkit of each log file
# Needs java, javac and /usr/share/java/zookeeper.jar. Log files lose their preallocated zero
# tails (readers stop at end of file) to keep the test data small.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/datadir"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cp_zk="/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mkdir -p "$work/data" "$work/datalog" "$work/classes"
cat > "$work/zoo.cfg" <<CFG
tickTime=2000
dataDir=$work/data
dataLogDir=$work/datalog
clientPort=$port
clientPortAddress=127.0.0.1
admin.enableServer=false
CFG
jvm_opts=(-Dzookeeper.snapCount=40 -Dzookeeper.preAllocSize=8 -Dzookeeper.extendedTypesEnabled=true
  -Dznode.container.checkIntervalMs=3600000 -Dzookeeper.admin.enableServer=false)

start_server() {
  java -cp "$cp_zk" "${jvm_opts[@]}" org.apache.zookeeper.server.ZooKeeperServerMain "$work/zoo.cfg" \
    >"$work/server.log" 2>&1 &
  server=$!
}

start_server
for _ in $(seq 100); do
  grep -q "Snapshot taken" "$work/server.log" 2>/dev/null && break
  sleep 0.2
done
javac -cp "$cp_zk" -d "$work/classes" "$here/MakeData.java"
java -cp "$cp_zk:$work/classes" MakeData "127.0.0.1:$port" "$work/tree.txt" >"$work/client.out" 2>"$work/client.log" &
client=$!
for _ in $(seq 300); do
  grep -q "^sessions" "$work/client.out" 2>/dev/null && break
  sleep 0.2
done
grep -q "^sessions" "$work/client.out" || { cat "$work/client.log"; exit 1; }
# Crash the server with sessions a and c open, then stop the client before it reconnects.
kill -9 "$server"; wait "$server" 2>/dev/null || true
kill -9 "$client"; wait "$client" 2>/dev/null || true
# A restart loads the directory, replays the log and writes a consistent snapshot of the end state.
start_server
for _ in $(seq 100); do
  grep -q "Snapshot taken" "$work/server.log" 2>/dev/null && break
  sleep 0.2
done
kill -9 "$server"; wait "$server" 2>/dev/null || true

rm -rf "$out"
mkdir -p "$out/expected"
cp -r "$work/data" "$work/datalog" "$out/"
cp "$work/tree.txt" "$out/expected/tree.txt"
for f in "$out"/data/version-2/snapshot.*; do
  TZ=UTC java -cp "$cp_zk" org.apache.zookeeper.server.SnapshotFormatter -d "$f" \
    >"$out/expected/$(basename "$f").txt" 2>/dev/null
done
for f in "$out"/datalog/version-2/log.*; do
  TZ=UTC java -cp "$cp_zk" org.apache.zookeeper.server.persistence.TxnLogToolkit "$f" \
    >"$out/expected/$(basename "$f").txt" 2>/dev/null
  python3 - "$f" <<'PY'
import sys
path = sys.argv[1]
data = open(path, "rb").read()
open(path, "wb").write(data.rstrip(b"\0"))
PY
done
du -sh "$out"
ls -l "$out"/data/version-2 "$out"/datalog/version-2
