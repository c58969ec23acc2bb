"""The episode video's encoder, in a process of its own: `encode.encode_frames` starts it and writes raw frames to
its standard input.

Why a process: PyAV (15.x) holds the interpreter lock inside `stream.encode`, and SVT-AV1 blocks there whenever its
queue is full, so in-process every other Python thread of the build (the decode, lerobot's import) stood still for
most of the encode (measured: a spinning thread ran at 5% of its speed beside an in-process encode). Here the build
only writes to a pipe, which releases the lock, and a full pipe makes the writer wait: a slow encoder slows the build,
it never loses a frame.

Run as a script (`python encode_worker.py`), not as a package module, so that it imports only PyAV and NumPy.
Protocol: one JSON line (path, fps, width, height, format `yuv420p` | `rgb24`, vcodec, pix_fmt, options), then raw
frames back to back, then `END_OF_EPISODE` and the end of input; on success one JSON line `{"frames": n}` on standard output; on failure a
message on standard error and exit status 1.
"""

from __future__ import annotations

import json
import os
import sys
import time
from fractions import Fraction

# after the last frame: the episode is complete. Shorter than any frame (an rgb24 1x1 frame is 3 bytes). The end of
# input without it is the build process gone (killed, its Ray worker or node lost), not the end of the episode
END_OF_EPISODE = b"."


def frame_bytes(fmt: str, width: int, height: int) -> int:
    if fmt == "yuv420p":
        return width * height * 3 // 2
    if fmt == "rgb24":
        return width * height * 3
    raise ValueError(f"unsupported frame format {fmt!r}")


def frame_shape(fmt: str, width: int, height: int) -> tuple[int, ...]:
    return (height * 3 // 2, width) if fmt == "yuv420p" else (height, width, 3)


def main() -> int:
    import av
    import numpy as np

    inp = sys.stdin.buffer
    header = json.loads(inp.readline())
    fmt, width, height, fps = header["format"], int(header["width"]), int(header["height"]), int(header["fps"])
    size, shape = frame_bytes(fmt, width, height), frame_shape(fmt, width, height)
    stall_s = float(header.get("stall_s") or 0.0)  # tests: an encoder slower than its frames arrive
    buf = bytearray(size)
    view = memoryview(buf)
    n = 0
    with av.open(header["path"], "w") as container:
        stream = container.add_stream(header["vcodec"], fps, options=header["options"])
        stream.pix_fmt = header["pix_fmt"]
        stream.width, stream.height = width, height
        stream.time_base = Fraction(1, fps)
        while True:
            got = 0
            while got < size:
                k = inp.readinto(view[got:])
                if not k:
                    break
                got += k
            if view[:got] == END_OF_EPISODE:
                break
            if got < size:
                # write nothing more (no flush, no trailer, no faststart pass reopening the file by name): a retry or
                # a rerun may be encoding this clip to the same path already
                print(f"input ended without the end of the episode, at frame {n} ({got} of {size} bytes)",
                      file=sys.stderr, flush=True)
                os._exit(1)
            frame = av.VideoFrame.from_ndarray(np.frombuffer(buf, np.uint8).reshape(shape), format=fmt)
            frame.pts = n
            frame.time_base = Fraction(1, fps)
            if stall_s:
                time.sleep(stall_s)
            container.mux(stream.encode(frame))
            n += 1
        if n == 0:
            print("no frame to encode", file=sys.stderr)
            return 1
        container.mux(stream.encode())  # flush
    sys.stdout.write(json.dumps({"frames": n}) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # noqa: BLE001 — reported to the parent, which names the file
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
