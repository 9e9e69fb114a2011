"""Watch a sweep from its files: one line per job with its state, progress and time left.

    python -m int2int.status SWEEP_DIR [--watch [SECONDS]] [--all-keys]

The command line only: reading the sweep's files and rendering the page is
:mod:`analysis.sweep_status` (stdlib only), which :mod:`analysis.report` shares.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

from analysis.sweep_status import STALE_INTERVALS, STALE_MIN_S, render, snapshot


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m int2int.status", description=__doc__.split("\n\n")[0],
        epilog="States: pending (no run directory yet), running, stale? (running, but nothing written for "
               f"over {STALE_INTERVALS} log intervals and {STALE_MIN_S / 60:.0f} min, or Slurm says it ended), "
               "finished, failed, preempted (waiting to resume). 'left' is the training time left at the "
               "recent rate (evaluations not counted).")
    parser.add_argument("sweep_dir", type=Path, help="the sweep directory (hydra.sweep.dir)")
    parser.add_argument("--watch", nargs="?", type=float, const=10.0, default=None, metavar="SECONDS",
                        help="redraw every SECONDS (default 10) until every job is finished or failed")
    parser.add_argument("--all-keys", action="store_true", help="show every override, not only those that vary")
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        print(f"error: {args.sweep_dir}: no such sweep directory", file=sys.stderr)
        return 2
    if args.watch is not None and args.watch <= 0:
        parser.error(f"--watch {args.watch}: the interval must be > 0 seconds")
    clear = args.watch is not None and sys.stdout.isatty()
    try:
        while True:
            snap = snapshot(args.sweep_dir)
            page = render(snap, args.all_keys)
            print(("\033[H\033[2J" if clear else "") + page, flush=True)
            if args.watch is None or snap.ended:
                return 0
            if not clear:
                print(flush=True)
            time.sleep(args.watch)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
