#!/usr/bin/env bash
# Regenerates descriptors/spark-connect.fds from the pinned pyspark-client release on PyPI
# (published as a source archive; its generated *_pb2.py modules carry the descriptors).
set -euo pipefail
VERSION=4.2.0
PROTOBUF_VERSION=7.36.2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps "pyspark-client==$VERSION" -d "$work"
tar xzf "$work/pyspark_client-$VERSION.tar.gz" -C "$work"
python3 -m pip download --quiet --no-deps --only-binary=:all: "protobuf==$PROTOBUF_VERSION" -d "$work"
mkdir "$work/protobuf" && python3 -m zipfile -e "$work"/protobuf-*.whl "$work/protobuf"
python3 "$here/extract_descriptors.py" "$work/pyspark_client-$VERSION" "$work/protobuf" "$here/descriptors/spark-connect.fds"
echo "$VERSION" > "$here/descriptors/VERSION"
