#!/usr/bin/env python3
"""Seeds the fuzz corpus (fuzz/corpus/TARGET) from the shared vectors in tests/data/vectors:
whole frames for frame_stream, (command index, payload) for message_roundtrip, headers2
payloads for headers2. Run once; scripts/fuzz --cmin keeps the corpus small after that."""
import hashlib, pathlib, sys

root = pathlib.Path(__file__).resolve().parent.parent
vectors = root / "tests/data/vectors"
corpus = root / "fuzz/corpus"
# The order of fuzz_targets/message_roundtrip.rs's COMMANDS.
commands = ("version verack ping pong getaddr addr addrv2 sendaddrv2 inv getdata notfound "
            "getheaders getheaders2 getblocks headers headers2 sendheaders sendheaders2 block "
            "merkleblock tx mempool filterload filteradd filterclear feefilter reject sendcmpct "
            "senddsq getcfilters cfilter getcfheaders cfheaders getcfcheckpt cfcheckpt getmnlistd "
            "mnlistdiff getqrinfo qrinfo clsig isdlock platformban").split()

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
    if command in commands:
        put("message_roundtrip", bytes([commands.index(command)]) + payload)
    if command == "headers2":
        put("headers2", payload)
    n += 1
print(f"seeded from {n} vectors", file=sys.stderr)
