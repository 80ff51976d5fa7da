"""python -m tests.bench [--quick] [--out PATH] [--only NAME ...]: run the figures, print one table
each, write them all to bench/results.json (or PATH)."""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

from . import bench_codec, bench_footprint, bench_handoff, bench_overhead, bench_registration

ROOT = Path(__file__).resolve().parents[2]
MODULES = {"overhead": bench_overhead, "codec": bench_codec, "registration": bench_registration,
           "footprint": bench_footprint, "handoff": bench_handoff}
LAB = {"handoff"}  # boots the UML lab (minutes): in the full run, or when named with --only


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short windows and N up to 10k (a few seconds each)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--only", nargs="+", choices=sorted(MODULES), help="run only these modules")
    args = parser.parse_args(argv)
    started, t0 = datetime.datetime.now(datetime.UTC), time.monotonic()
    figures: dict[str, dict] = {}
    for name, module in MODULES.items():
        if args.only and name not in args.only:
            continue
        if args.quick and name in LAB and not args.only:
            print("%s: in the UML lab, left out of a quick run (make bench, or --only %s)" % (name, name),
                  file=sys.stderr)
            continue
        t = time.monotonic()
        for fig in module.run(args.quick):
            print(fig.render(), end="\n\n", flush=True)
            figures[fig.name] = dict(fig.as_json(), seconds=None)
        for key in [k for k, v in figures.items() if v["seconds"] is None]:
            figures[key]["seconds"] = round(time.monotonic() - t, 3)
    lab_rss = figures.get("handoff_rss")
    if lab_rss and "footprint" in figures:  # the MR's RSS across the lab's moves belongs in the footprint too
        figures["footprint"]["rows"] += [
            {"process": "mip4d mr (UML lab)", "state": r["what"], "rss_kib": r["kib"], "rss_vs": None,
             "cpu_s_per_h": None, "cpu_vs": None} for r in lab_rss["rows"] if r["kib"] is not None]
        figures["footprint"]["notes"].append("mip4d mr (UML lab): the handoff bench's MR (handoff_rss), forked "
                                             "from the lab's controller; its RSS is not comparable to the bare loop's")
    meta = {"quick": args.quick, "started": started.isoformat(timespec="seconds"),
            "seconds": round(time.monotonic() - t0, 3), "python": platform.python_version(),
            "machine": platform.machine(), "kernel": platform.release(), "cpus": os.cpu_count()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "figures": figures}, indent=1) + "\n")
    print("wrote %s (%.1f s)" % (args.out, meta["seconds"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
