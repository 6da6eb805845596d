"""Build a protobuf FileDescriptorSet for Spark Connect from a pyspark-client wheel.

The wheel's generated `*_pb2.py` modules embed each .proto file's serialized
FileDescriptorProto. We lift those bytes out (no import, no protoc) and write
them as one FileDescriptorSet, which prost/tonic build tooling compiles directly.
The Spark files import two of protobuf's well-known types (Any, Timestamp); their
descriptors come the same way from the `protobuf` package's own generated modules.
Usage: extract_descriptors.py <unpacked pyspark-client dir> <unpacked protobuf dir> <output .fds file>
"""
import ast
import pathlib
import sys

PROTO_DIR = "pyspark/sql/connect/proto"
SKIP = {"example_plugins_pb2.py"}  # a test fixture of Spark's, not protocol
WELL_KNOWN = ["google/protobuf/any_pb2.py", "google/protobuf/timestamp_pb2.py"]


def serialized_descriptor(path: pathlib.Path) -> bytes:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "AddSerializedFile":
            return ast.literal_eval(node.args[0])
    raise SystemExit(f"no serialized descriptor in {path}")


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def main(wheel_dir: str, protobuf_dir: str, output: str) -> None:
    files = [pathlib.Path(protobuf_dir) / w for w in WELL_KNOWN]
    files += sorted(p for p in (pathlib.Path(wheel_dir) / PROTO_DIR).glob("*_pb2.py") if p.name not in SKIP)
    # FileDescriptorSet { repeated FileDescriptorProto file = 1; }: field 1, wire type 2.
    fds = b"".join(b"\x0a" + varint(len(d)) + d for d in map(serialized_descriptor, files))
    pathlib.Path(output).write_bytes(fds)
    print(f"wrote {output}: {len(files)} files, {len(fds)} bytes")


if __name__ == "__main__":
    main(*sys.argv[1:])
