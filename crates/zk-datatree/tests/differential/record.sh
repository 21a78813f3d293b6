#!/usr/bin/env bash
# Regenerates tests/differential/apache-3.8.0.jsonl: Record.java's scripted operations run against a
# real standalone Apache ZooKeeper 3.8.0 (Debian's jars), followed by the txn log the server wrote.
# TTL nodes are enabled (zookeeper.extendedTypesEnabled=true). Needs java, javac and
# /usr/share/java/zookeeper.jar; the Rust test only reads the committed output.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cp_zk="/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mkdir -p "$work/data" "$work/classes"
cat > "$work/zoo.cfg" <<CFG
tickTime=2000
dataDir=$work/data
clientPort=$port
clientPortAddress=127.0.0.1
admin.enableServer=false
CFG
java -cp "$cp_zk" -Dzookeeper.extendedTypesEnabled=true -Dznode.container.checkIntervalMs=3600000 \
  -Dzookeeper.admin.enableServer=false -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  org.apache.zookeeper.server.ZooKeeperServerMain "$work/zoo.cfg" >"$work/server.log" 2>&1 &
server=$!
javac -cp "$cp_zk" -d "$work/classes" "$here/Record.java"
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
  sleep 0.2
done
java -cp "$cp_zk:$work/classes" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn Record "127.0.0.1:$port" \
  >"$work/ops.jsonl" 2>"$work/client.log" || { cat "$work/client.log"; exit 1; }
kill "$server"; wait "$server" 2>/dev/null || true
java -cp "$cp_zk:$work/classes" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn Record dump "$work/data/version-2" \
  >"$work/txns.jsonl" 2>>"$work/client.log"
cat "$work/ops.jsonl" "$work/txns.jsonl" >"$here/apache-3.8.0.jsonl"
wc -l "$here/apache-3.8.0.jsonl"
