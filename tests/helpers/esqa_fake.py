"""Run the `esqa` command in its own process with the fake embedder of tests/conftest.py.

Tests that kill a build (SIGKILL), run two writers at once or read during a
build need a real second process; this script is that process:

    python tests/helpers/esqa_fake.py index build --corpus DIR --index DIR

Environment variables (all optional):

- ESQA_TEST_EMBED_DELAY: seconds to sleep per batch of texts embedded, to make
  a build slow enough to be caught in the middle.
- ESQA_TEST_CHATTY: when set, embedding logs as some libraries do: a warning on
  the root logger (which calls `logging.basicConfig()`, as onnxruntime's
  quantiser does) and debug lines on a library's logger (as bm25s does).
- ESQA_TEST_PAUSE_AT and ESQA_TEST_SIGNALS: a moment of the build and a
  directory. When the moment comes, the script creates `<moment>.reached` in
  the directory and waits until `<moment>.go` exists (the test kills it or lets
  it go on). Moments: `embed` (a build starts embedding texts), and
  `before:os.<call>` / `after:os.<call>` for the first call of os.fsync,
  os.rename, os.replace, os.symlink, os.link or os.mkdir (`...#N` for the
  N-th call): the operating system calls by which any build writes and
  publishes files (hard links keep a segment, a directory starts one), so the
  moments do not depend on how esqa is written.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS))

from conftest import HashedEmbedder  # noqa: E402

_reached: set[str] = set()
_calls: dict[str, int] = {}


def pause(moment: str, call: int = 1) -> None:
    """Signal `moment` and wait to be let go, if this run pauses there (once).

    `call` counts the calls of the same moment: `moment#N` pauses at the N-th.
    """
    signals = os.environ.get("ESQA_TEST_SIGNALS")
    wanted = os.environ.get("ESQA_TEST_PAUSE_AT")
    if wanted == f"{moment}#{call}":
        moment = wanted
    if not signals or wanted != moment or moment in _reached:
        return
    _reached.add(moment)
    Path(signals, f"{moment}.reached").touch()
    while not Path(signals, f"{moment}.go").exists():
        time.sleep(0.01)


class SlowEmbedder(HashedEmbedder):
    def embed(self, texts, batch_size=32, progress=None):
        if texts:
            pause("embed")
        if os.environ.get("ESQA_TEST_CHATTY"):
            import logging

            logging.warning("advice from a library")
            library = logging.getLogger("bm25s")
            library.setLevel(logging.DEBUG)
            library.debug("Building index from tokens")
        delay = float(os.environ.get("ESQA_TEST_EMBED_DELAY", "0"))

        def slow_progress(n: int) -> None:
            time.sleep(delay)
            if progress is not None:
                progress(n)

        return super().embed(texts, batch_size, slow_progress)


def _hook(name: str) -> None:
    original = getattr(os, name)

    @functools.wraps(original)
    def hooked(*args, **kwargs):
        _calls[name] = call = _calls.get(name, 0) + 1
        pause(f"before:os.{name}", call)
        result = original(*args, **kwargs)
        pause(f"after:os.{name}", call)
        return result

    setattr(os, name, hooked)


def main() -> None:
    from esqa.cli import cli

    # The embedder setting, as a user names a class of their own (module:Class).
    os.environ["ESQA_EMBEDDER"] = "__main__:SlowEmbedder"
    for name in ("fsync", "rename", "replace", "symlink", "link", "mkdir"):
        _hook(name)
    cli.main(args=sys.argv[1:], prog_name="esqa")


if __name__ == "__main__":
    main()
