#!/bin/sh
# Regenerates the golden vectors in data/ from the real Apache ZooKeeper 3.8.0 classes.
#
# Needs a JDK (javac, java; 11 or later) and the ZooKeeper 3.8.0 jars with their dependencies, as
# Debian installs them in /usr/share/java (packages libzookeeper-java, libslf4j-java, ...). Set
# ZK_JAVA_LIB to use another directory. The tests never run this: they read the committed data/.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
lib=${ZK_JAVA_LIB:-/usr/share/java}

for jar in zookeeper-3.8.0.jar zookeeper-jute-3.8.0.jar slf4j-api.jar; do
    if [ ! -f "$lib/$jar" ]; then
        echo "capture.sh: $lib/$jar not found (set ZK_JAVA_LIB)" >&2
        exit 1
    fi
done

# slf4j-nop silences the logging of the server classes used for the election vectors.
cp="$lib/zookeeper-3.8.0.jar:$lib/zookeeper-jute-3.8.0.jar:$lib/slf4j-api.jar"
if [ -f "$lib/slf4j-nop.jar" ]; then
    cp="$cp:$lib/slf4j-nop.jar"
fi

build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT

javac -nowarn -encoding UTF-8 -cp "$cp" -d "$build/classes" "$here/GoldenCapture.java"
java -cp "$build/classes:$cp" GoldenCapture "$build/data"
rm -rf "$here/data"
mv "$build/data" "$here/data"
