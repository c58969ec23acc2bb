"""lerobot's dataset writer takes ~4 s of CPU to import (torch, torchvision, datasets) and every build needs it: it is
imported in a thread that starts with the build, beside planning, probing and the decode pass (on 2 cores the
import and the encoder share the CPU; before, the first ~0.5-1 s of a build ran on one core).

What the build's own thread imports while that thread runs (PyAV, OpenCV, NumPy) is imported first, so that no module
is ever being imported by two threads at once; the decode stage waits for the import at the end of its pass.

The cyclic garbage collector is off during the import and what the import made is frozen after it (`gc.freeze`):
the import creates ~600k long-lived objects (torch's op tables, dataclasses, ...), and each full collection walked all
of them again, in this thread and in the decode beside it, on the encoder's cores (measured with `gc.callbacks`:
1.27 CPU-s inside collections in a small build before, 0.06 after; BENCHMARKS.md, issue 23). Module objects live as long as the process, so a collector pass over them finds nothing.
"""

from __future__ import annotations

import gc
import sys
import threading

_thread: threading.Thread | None = None
_lock = threading.Lock()
WRITER_MODULE = "lerobot.datasets.lerobot_dataset"


def start_lerobot_import() -> threading.Thread | None:
    """The thread importing lerobot's dataset writer, started on the first call (None once it is imported)."""
    global _thread
    with _lock:
        if _thread is not None:
            return _thread if _thread.is_alive() else None
        if WRITER_MODULE in sys.modules:
            return None
        import av  # noqa: F401
        import av.video  # noqa: F401
        import cv2  # noqa: F401
        import numpy  # noqa: F401

        def run() -> None:
            was_enabled = gc.isenabled()
            gc.disable()
            try:
                __import__(WRITER_MODULE)
            except Exception:  # noqa: BLE001 — the stage that needs it reports the real error
                pass
            finally:
                gc.freeze()  # everything alive now (modules, the build's own objects) is never walked again
                if was_enabled:
                    gc.enable()

        _thread = threading.Thread(target=run, name="vla-import-lerobot", daemon=True)
        _thread.start()
        return _thread
