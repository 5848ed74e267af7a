#!/usr/bin/env python3
"""Seeds the fuzz corpus (fuzz/corpus/TARGET) from the shared vectors in tests/data/vectors:
whole frames for frame_stream, (command name, NUL, payload) for message_roundtrip, headers2
payloads for headers2. Run once; scripts/fuzz --cmin keeps the corpus small after that."""
import hashlib, pathlib, sys

root = pathlib.Path(__file__).resolve().parent.parent
vectors = root / "tests/data/vectors"
corpus = root / "fuzz/corpus"
def put(target, data):
    d = corpus / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)

n = 0
for path in sorted(vectors.rglob("*.hex")):
    frame = bytes.fromhex("".join(path.read_text().split()))
    if len(frame) < 24:
        continue
    command = frame[4:16].rstrip(b"\0").decode("ascii", "replace")
    payload = frame[24:]
    put("frame_stream", bytes([7]) + frame)           # split into 8-byte reads
    put("message_roundtrip", command.encode() + b"\0" + payload)  # name, NUL, payload
    if command == "headers2":
        put("headers2", payload)
    n += 1
print(f"seeded from {n} vectors", file=sys.stderr)
