"""Run uvicorn under cProfile on a CPU-time clock (``bench.py --profile-server FILE``).

    python scripts/benchlib/profiled_server.py OUT.pstats <uvicorn arguments…>

The clock is ``time.process_time``: time spent waiting for PostgreSQL, for the
client or for a CPU (the box has 2 cores for 3 busy parties) is not counted,
so the profile shows where the server's own CPU goes. cProfile slows
Python-heavy code more than C code, so read shares, not absolute times; the
bench prints a warning next to figures measured this way. The stats are
written when uvicorn shuts down (SIGTERM from the bench): uvicorn re-raises
the signal it caught after its graceful shutdown, so a handler here turns that
into a normal exit.
"""

from __future__ import annotations

import cProfile
import signal
import sys
import time

from uvicorn.main import main as uvicorn_cli


def main() -> int:
    if len(sys.argv) < 2:
        sys.stderr.write(__doc__ or "")
        return 2
    out, args = sys.argv[1], sys.argv[2:]
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: sys.exit(0))
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    try:
        uvicorn_cli.main(args=args, prog_name="uvicorn", standalone_mode=False)
    finally:
        profiler.disable()
        profiler.dump_stats(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
