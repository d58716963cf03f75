"""The `simengine` command line: `info`, `demo`, `bench` (and later `sweep`).

Parsing and printing only; the work is done by the public API.
"""
from __future__ import annotations

import argparse
import sys
import time

__all__ = ["main"]


def _print_table(title: str, table, out) -> None:
    import pandas as pd

    print(f"\n== {title}", file=out)
    if isinstance(table, pd.DataFrame):
        with pd.option_context("display.width", 160, "display.max_columns", 30, "display.max_rows", 200):
            print(table.to_string(float_format=lambda v: f"{v:.4g}"), file=out)
    else:
        print(str(table), file=out)


def _cmd_info(args, out) -> int:
    import pandas as pd

    from simengine._info import environment

    _print_table("simengine info", pd.DataFrame({"value": environment()}), out)
    if args.compile:
        from tqdm.auto import tqdm

        from simengine._compile import FAMILIES, measure_compile_times

        with tqdm(total=len(FAMILIES), desc="compile", disable=args.no_progress, leave=False, file=sys.stderr) as bar:
            rows = measure_compile_times(progress=bar)
        _print_table("first-call time per kernel family (fresh process)", pd.DataFrame(rows).set_index("family"), out)
    return 0


def _cmd_demo(args, out) -> int:
    from tqdm.auto import tqdm

    from simengine._demo import SECTIONS

    sections = [s for s in SECTIONS if not args.only or s[0] in args.only]
    for name, section in tqdm(sections, desc="demo", disable=args.no_progress, leave=False, file=sys.stderr):
        start = time.perf_counter()
        tables = section(args.quick, args.seed)
        elapsed = time.perf_counter() - start
        for title, table in tables:
            _print_table(title, table, out)
        print(f"({name}: {elapsed:.2f} s)", file=out)
    return 0


def _cmd_bench(args, out) -> int:
    from simengine._bench import TASKS, run_tasks

    tasks = [t for t in TASKS if not args.only or t.family in args.only]
    table = run_tasks(tasks, quick=args.quick, progress=not args.no_progress)
    _print_table("naive vs simengine (best wall time, seconds)", _bench_summary(table), out)
    return 0


def _bench_summary(table):
    """One line per task: naive, simengine, speed-up, then every other implementation as 'name: s (ratio x)'."""
    import pandas as pd

    fixed = ["task", "naive s", "simengine s", "speed-up vs naive"]
    rows = []
    for rec in table.to_dict("records"):
        row = {k: rec[k] for k in fixed}
        others = []
        for col, value in rec.items():
            if col.endswith(" s") and col not in fixed and pd.notna(value):
                name = col[:-2]
                others.append(f"{name}: {value:.4g} s ({rec[f'speed-up vs {name}']:.3g}x)")
        row["other implementations (their time, simengine's speed-up)"] = "; ".join(others)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=fixed + ["other implementations (their time, simengine's speed-up)"])
    return frame.set_index("task")


def _cmd_sweep(args, out) -> int:
    from simengine._sweep import SpecError, simulations, sweep

    if args.list:
        import pandas as pd

        table = pd.DataFrame(
            [{"simulation": s.name, "parameters": ", ".join(s.parameters or ("any",)), "about": s.description}
             for s in simulations().values()]
        ).set_index("simulation")
        _print_table("registered simulations", table, out)
        return 0
    if args.spec is None:
        print("simengine sweep: error: a SPEC.toml file is needed (or --list)", file=sys.stderr)
        return 2
    from simengine._spec import load_spec

    client = None
    try:
        spec = load_spec(args.spec)
        if args.scheduler and args.backend != "dask":
            raise SpecError("--scheduler needs --backend dask")
        if args.workers is not None and args.backend != "dask":
            raise SpecError("--workers needs --backend dask")
        if args.workers is not None and args.workers < 1:
            raise SpecError(f"--workers must be >= 1; got {args.workers}")
        title = spec.pop("title")
        estimates = spec.pop("plot")
        if args.backend == "dask" and (args.scheduler or args.workers):
            from distributed import Client

            if args.scheduler:
                client = Client(args.scheduler)
            else:
                from simengine._sweep import _local_cluster

                # numba threads per task are sized on each worker (its cores over its task slots)
                client = Client(_local_cluster(args.workers))
        start = time.perf_counter()
        table = sweep(**spec, backend=args.backend, client=client, checkpoint=args.output,
                      progress=not args.no_progress)
        elapsed = time.perf_counter() - start
    except SpecError as exc:
        print(f"simengine sweep: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if client is not None:
            cluster = getattr(client, "cluster", None)
            client.close()
            if cluster is not None:
                cluster.close()
    shown = table.drop(columns=["seconds"])
    _print_table(f"{title}: {spec['simulation']} sweep, {spec['n_sims']} simulations per point", shown, out)
    print(f"({len(table)} points in {elapsed:.2f} s; kernel time {table['seconds'].sum():.2f} s)", file=out)
    if args.output:
        print(f"results written to {args.output}", file=out)
    if args.plot:
        from simengine._plot import plot_sweep

        if estimates is not None:
            known = [c[:-3] for c in table.columns if c.endswith("_se") and c[:-3] in table.columns]
            unknown = [e for e in estimates if e not in known]
            if unknown:
                print(f"simengine sweep: error: `plot` names unknown estimate(s) {unknown}; "
                      f"this simulation gives: {', '.join(known)}", file=sys.stderr)
                return 2
        drawn = plot_sweep(table, list(spec["grid"]), args.plot, title=title, estimates=estimates)
        print(f"plot of {', '.join(drawn)} written to {args.plot}", file=out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simengine", description="Numba-accelerated simulation engine for experiment statistics."
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")

    info = sub.add_parser("info", help="versions, threads, threading layer, cache directory")
    info.add_argument("--compile", action="store_true", help="also time each kernel family's first call")
    info.add_argument("--no-progress", action="store_true", help="hide progress bars")
    info.set_defaults(func=_cmd_info)

    demo = sub.add_parser("demo", help="run every simulation in the engine and print tables")
    demo.add_argument("--quick", action="store_true", help="smaller sizes (seconds, not minutes)")
    demo.add_argument("--seed", type=int, default=2026, help="root seed (default 2026)")
    demo.add_argument("--only", nargs="+", metavar="SECTION", help="run only these sections")
    demo.add_argument("--no-progress", action="store_true", help="hide progress bars")
    demo.set_defaults(func=_cmd_demo)

    bench = sub.add_parser("bench", help="time engine functions against their naive versions")
    bench.add_argument("--quick", action="store_true", help="small sizes for a short run")
    bench.add_argument("--only", nargs="+", metavar="FAMILY", help="run only these kernel families")
    bench.add_argument("--no-progress", action="store_true", help="hide progress bars")
    bench.set_defaults(func=_cmd_bench)

    sw = sub.add_parser("sweep", help="run a parameter sweep described by a TOML spec")
    sw.add_argument("spec", nargs="?", help="TOML spec: simulation, n_sims, seed, [grid], [fixed]")
    sw.add_argument("-o", "--output", metavar="PARQUET",
                    help="write results here; also the checkpoint, so a rerun resumes an interrupted sweep")
    sw.add_argument("--backend", choices=("local", "dask"), default="local", help="where to run (default local)")
    sw.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address (with --backend dask)")
    sw.add_argument("--workers", type=int, metavar="N",
                    help="start a local Dask cluster of N worker processes (default with --backend dask: one per core)")
    sw.add_argument("--plot", metavar="PNG", help="draw estimates against the first grid parameter")
    sw.add_argument("--list", action="store_true", help="list the registered simulations and their parameters")
    sw.add_argument("--no-progress", action="store_true", help="hide progress bars")
    sw.set_defaults(func=_cmd_sweep)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        import simengine

        print(simengine.__version__)
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    if getattr(args, "only", None):
        import simengine._demo as demo_mod
        import simengine._bench as bench_mod

        known = {s[0] for s in demo_mod.SECTIONS} if args.command == "demo" else {t.family for t in bench_mod.TASKS}
        unknown = sorted(set(args.only) - known)
        if unknown:
            parser.error(f"unknown name(s) for --only: {', '.join(unknown)}; choose from {', '.join(sorted(known))}")
    return args.func(args, sys.stdout)


if __name__ == "__main__":
    raise SystemExit(main())
