"""The `simengine` command line: `info`, `compile`, `demo`, `bench`, `sweep` and `examples`.

Parsing and printing only; the work is done by the public API.
"""
from __future__ import annotations

import argparse
import sys
import time

__all__ = ["main"]

# seconds to wait for a Dask scheduler (--scheduler) to answer and for its first worker to join
SCHEDULER_WAIT = 60


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

        from simengine._compile import measure_compile_times, measurement_plan

        plan = measurement_plan(args.only)
        with tqdm(total=len(plan), desc="compile", disable=args.no_progress, leave=False, file=sys.stderr) as bar:
            rows = measure_compile_times(args.only, progress=bar, functions=True, examples=True)
        table = pd.DataFrame(rows).set_index("name")
        title = "first call (fresh process each; empty cache, then warm; wall and CPU seconds)"
        _print_table(title, table[[c for c in table.columns if c not in ("kind", "error")]], out)
        errors = table["error"].fillna("") if "error" in table else pd.Series(dtype=str)
        failed = errors[errors.astype(bool)]
        families = table[table["kind"] == "family"]
        print(f"all families, empty cache: {families['empty cache s'].sum():.1f} s wall, "
              f"{families['empty cache cpu s'].sum():.1f} s CPU", file=out)
        for name, message in failed.items():  # a broken warm-up: its row is NaN, the others were measured
            print(f"{name}: {message}", file=out)
        return 1 if len(failed) else 0
    return 0


def _cmd_compile(args, out) -> int:
    from simengine._compile import fill_cache
    from simengine._jit import cache_dir

    where = cache_dir()
    if where is None:
        print("simengine compile: no safe cache directory (see `simengine info`); nothing would be kept",
              file=sys.stderr)
        return 1
    print(f"compiling into {where}", file=out)
    start = time.perf_counter()

    def done(row):
        status = f"failed: {row['error']}" if row["error"] else f"{row['seconds']:.1f} s ({row['cpu s']:.1f} s CPU)"
        print(f"  {row['family']}: {status}", file=out, flush=True)

    rows = fill_cache(args.only, workers=args.workers, on_done=done)
    print(f"done in {time.perf_counter() - start:.1f} s", file=out)
    return 1 if any(r["error"] for r in rows) else 0


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
    for note in table.attrs.get("notes", []):
        print(f"note: {note}", file=out)
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


# optional packages behind command-line features: feature -> (modules, the extra that installs them)
_OPTIONAL = {
    "-o": (("pyarrow",), "parquet"),
    "--plot": (("matplotlib",), "plot"),
    "--backend dask": (("dask", "distributed"), "dask"),
}


def _check_optional(feature: str) -> None:
    """Refuse a requested feature whose optional package is missing, in one line, before any work starts."""
    import importlib

    from simengine._sweep import SpecError

    modules, extra = _OPTIONAL[feature]
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            raise SpecError(f"{feature} needs {module}, which is not installed; install it with "
                            f"python -m pip install \"numba-simengine[{extra}]\" (or [all])") from None


def _cmd_examples(args, out) -> int:
    from simengine._spec import example_path, example_specs, example_summary
    from simengine._sweep import SpecError

    if args.name is None:
        specs = example_specs()
        width = max(map(len, specs))
        print(f"example specs shipped with simengine (in {next(iter(specs.values())).parent}):", file=out)
        for name, path in specs.items():
            print(f"  {name:<{width}}  {example_summary(path)}", file=out)
        print("run one: simengine sweep --example NAME    copy one to edit: simengine examples NAME > my.toml",
              file=out)
        return 0
    try:
        path = example_path(args.name)
    except SpecError as exc:
        print(f"simengine examples: error: {exc}", file=sys.stderr)
        return 2
    out.write(path.read_text())
    return 0


def _cmd_sweep(args, out) -> int:
    from simengine._sweep import SpecError, simulations

    if args.list:
        import pandas as pd

        table = pd.DataFrame(
            [{"simulation": s.name, "parameters": ", ".join(s.parameters or ("any",)), "about": s.description}
             for s in simulations().values()]
        ).set_index("simulation")
        _print_table("registered simulations", table, out)
        return 0
    if args.spec is None and args.example is None:
        print("simengine sweep: error: a SPEC.toml file or --example NAME is needed (or --list)", file=sys.stderr)
        return 2
    if args.spec is not None and args.example is not None:
        print("simengine sweep: error: give a SPEC.toml file or --example NAME, not both", file=sys.stderr)
        return 2
    try:
        if args.example is not None:
            from simengine._spec import example_path

            args.spec = str(example_path(args.example))
        return _run_sweep_command(args, out)
    except SpecError as exc:
        print(f"simengine sweep: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        if getattr(exc, "total", None) is None:
            print("simengine sweep: interrupted before any point finished", file=sys.stderr)
        elif exc.checkpoint is not None:
            print(f"simengine sweep: interrupted: {exc.saved}/{exc.total} points saved to {exc.checkpoint}; "
                  "rerun the same command to resume", file=sys.stderr)
        else:
            print(f"simengine sweep: interrupted after {exc.saved}/{exc.total} points; nothing saved "
                  "(use -o FILE.parquet to keep finished points and resume)", file=sys.stderr)
        if getattr(exc, "seed", None) is not None and not getattr(args, "_spec_seed", True):
            print(f"simengine sweep: seed {exc.seed} (the spec has none)", file=sys.stderr)
        return 130


def _known_estimates(sim, spec):
    """Estimate names the sweep's table will hold, when they can be known before it runs (else None)."""
    if sim.result is not None:
        return list(sim.result._estimates)
    try:  # a function returning a dict: one replicate at the first point says what it gives
        from simengine._sweep import _probe_estimates

        return _probe_estimates(sim, spec["grid"], spec["fixed"])
    except Exception:  # cannot tell before running; the names are checked after the sweep
        return None


def _check_plot_names(estimates, known):
    unknown = [e for e in estimates if e not in known]
    if unknown:
        from simengine._sweep import SpecError

        raise SpecError(f"`plot` names unknown estimate(s) {unknown}; this simulation gives: {', '.join(known)}")


def _run_sweep_command(args, out) -> int:
    from simengine._spec import load_spec
    from simengine._sweep import SpecError, _resolve_simulation, sweep

    # a missing optional package is named before the spec is read, let alone run
    for feature, wanted in (("-o", args.output), ("--plot", args.plot), ("--backend dask", args.backend == "dask")):
        if wanted:
            _check_optional(feature)
    spec = load_spec(args.spec)
    args._spec_seed = spec["rng"] is not None
    if args.target_se is not None:
        spec["target_se"] = args.target_se
    if args.max_sims is not None:
        spec["max_sims"] = args.max_sims
    if args.scheduler and args.backend != "dask":
        raise SpecError("--scheduler needs --backend dask")
    if args.workers is not None and args.backend != "dask":
        raise SpecError("--workers needs --backend dask")
    if args.workers is not None and args.workers < 1:
        raise SpecError(f"--workers must be >= 1; got {args.workers}")
    title = spec.pop("title")
    estimates = spec.pop("plot")
    sim = _resolve_simulation(spec["simulation"])
    if args.plot and estimates is not None:  # before any work: a typo must not cost a whole sweep
        known = _known_estimates(sim, spec)
        if known is not None:
            _check_plot_names(estimates, known)
    if spec["target_se"] is not None or spec["max_sims"] is not None:
        from simengine._sweep import _plan

        try:
            _plan(sim, spec["n_sims"], spec["target_se"], spec["max_sims"])
        except (TypeError, ValueError) as exc:
            raise SpecError(str(exc).replace("`target_se`", "`target_se` (--target-se)")
                            .replace("`max_sims`", "`max_sims` (--max-sims)")) from None
    client = None
    try:
        if args.backend == "dask" and (args.scheduler or args.workers):
            from distributed import Client

            if args.scheduler:
                try:
                    client = Client(args.scheduler, timeout=SCHEDULER_WAIT)
                except (OSError, TimeoutError) as exc:
                    raise SpecError(
                        f"cannot reach the Dask scheduler {args.scheduler} within {SCHEDULER_WAIT} s ({exc}); "
                        "start one with `dask scheduler` and pass the address it prints"
                    ) from None
                try:  # tasks would wait forever on a scheduler without workers
                    client.wait_for_workers(1, timeout=SCHEDULER_WAIT)
                except TimeoutError:
                    raise SpecError(f"no Dask worker joined the scheduler {args.scheduler} within {SCHEDULER_WAIT} s; "
                                    f"start one with `dask worker {args.scheduler}`") from None
            else:
                from simengine._sweep import _local_cluster

                # numba threads per task are sized on each worker (its cores over its task slots)
                client = Client(_local_cluster(args.workers))
        start = time.perf_counter()
        table = sweep(**spec, backend=args.backend, client=client, checkpoint=args.output,
                      progress=False if args.no_progress else None)
        elapsed = time.perf_counter() - start
        workers = _describe_workers(args.backend, client)
    finally:
        if client is not None:
            cluster = getattr(client, "cluster", None)
            client.close()
            if cluster is not None:
                cluster.close()
    shown = table.drop(columns=["seconds"])
    if spec["target_se"] is not None:
        from simengine._sweep import MAX_COUNT, MAX_SIMS_FACTOR

        cap = spec["max_sims"] or min(MAX_COUNT, MAX_SIMS_FACTOR * spec["n_sims"])
        per_point = (f"{spec['n_sims']} to {cap} simulations per point, until every SE <= {spec['target_se']:g}")
    else:
        per_point = f"{spec['n_sims']} simulations per point"
    _print_table(f"{title}: {spec['simulation']} sweep, {per_point}", shown, out)
    print(f"({len(table)} points: wall {elapsed:.2f} s; compute summed over points {table['seconds'].sum():.2f} s "
          f"(column `seconds`, not shown); {workers})", file=out)
    if spec["target_se"] is not None:
        met = int(table["target_met"].sum())
        print(f"(target_se {spec['target_se']:g} met at {met}/{len(table)} points; "
              f"{int(table['n_sims'].sum()):,} simulations in all)", file=out)
    if spec["rng"] is None:
        print(f"seed {table.attrs['seed']} (the spec has none; add `seed = {table.attrs['seed']}` to repeat)",
              file=out)
    if args.output:
        print(f"results written to {args.output}", file=out)
    if args.plot:
        from simengine._plot import plot_sweep

        if estimates is not None:
            known = [c[:-3] for c in table.columns if c.endswith("_se") and c[:-3] in table.columns]
            _check_plot_names(estimates, known)
        drawn = plot_sweep(table, spec["grid"], args.plot, title=title, estimates=estimates, fixed=spec["fixed"],
                           simulation=spec["simulation"] if isinstance(spec["simulation"], str) else None,
                           seed=table.attrs.get("seed"), target_se=spec["target_se"])
        print(f"plot of {', '.join(drawn)} written to {args.plot}", file=out)
    return 0


def _describe_workers(backend, client) -> str:
    if backend == "local":
        import numba

        return f"local, {numba.get_num_threads()} numba threads"
    if client is None:
        from simengine._sweep import _local_cores

        return f"dask, {_local_cores()} local workers"
    try:
        info = client.scheduler_info()["workers"]
        threads = sum(max(1, int(w.get("nthreads", 1))) for w in info.values())
        return f"dask, {len(info)} workers, {threads} task slots"
    except Exception:  # pragma: no cover - a scheduler that does not answer: say less
        return "dask"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simengine", description="Numba-accelerated simulation engine for experiment statistics."
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")

    info = sub.add_parser("info", help="versions, threads, threading layer, cache directory")
    info.add_argument("--compile", action="store_true", help="also time each kernel family's first call")
    info.add_argument("--only", nargs="+", metavar="FAMILY", help="with --compile: time only these kernel families")
    info.add_argument("--no-progress", action="store_true", help="hide progress bars")
    info.set_defaults(func=_cmd_info)

    comp = sub.add_parser("compile", help="fill the kernel cache for every family, in parallel processes")
    comp.add_argument("--only", nargs="+", metavar="FAMILY", help="compile only these kernel families")
    comp.add_argument("--workers", type=int, metavar="N", help="processes at a time (default: one per CPU)")
    comp.set_defaults(func=_cmd_compile)

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
    sw.add_argument("--example", metavar="NAME",
                    help="run a shipped example spec instead of a file (names: simengine examples)")
    sw.add_argument("-o", "--output", metavar="PARQUET",
                    help="write results here; also the checkpoint, so a rerun resumes an interrupted sweep")
    sw.add_argument("--backend", choices=("local", "dask"), default="local", help="where to run (default local)")
    sw.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address (with --backend dask)")
    sw.add_argument("--workers", type=int, metavar="N",
                    help="start a local Dask cluster of N worker processes (default with --backend dask: one per core)")
    sw.add_argument("--target-se", type=float, metavar="SE",
                    help="run each point until every standard error is <= SE (overrides the spec's target_se)")
    sw.add_argument("--max-sims", type=int, metavar="N",
                    help="cap on a point's simulations with --target-se (overrides the spec's max_sims)")
    sw.add_argument("--plot", metavar="PNG", help="draw estimates against the first grid parameter")
    sw.add_argument("--list", action="store_true", help="list the registered simulations and their parameters")
    sw.add_argument("--no-progress", action="store_true", help="hide progress bars")
    sw.set_defaults(func=_cmd_sweep)

    ex = sub.add_parser("examples", help="list the shipped example specs, or print one")
    ex.add_argument("name", nargs="?", help="print this spec (e.g. simengine examples peeking > my.toml)")
    ex.set_defaults(func=_cmd_examples)
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
        import simengine._bench as bench_mod
        import simengine._demo as demo_mod

        if args.command in ("info", "compile"):
            from simengine._compile import FAMILIES

            known = set(FAMILIES)
        else:
            known = {s[0] for s in demo_mod.SECTIONS} if args.command == "demo" else {t.family for t in bench_mod.TASKS}
        unknown = sorted(set(args.only) - known)
        if unknown:
            parser.error(f"unknown name(s) for --only: {', '.join(unknown)}; choose from {', '.join(sorted(known))}")
    return args.func(args, sys.stdout)


if __name__ == "__main__":
    raise SystemExit(main())
