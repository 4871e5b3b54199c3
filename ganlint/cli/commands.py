"""One function per subcommand: read the parsed arguments, call the library, print the result (stdout),
return the exit code. Progress and errors go to stderr."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from typing import Any

from ganlint.cli.codes import EXIT_FAILING, EXIT_NOTHING, EXIT_OK
from ganlint.cli.render import format_bench, format_check, format_diagnosis, number
from ganlint.vocabulary import (
    INCONCLUSIVE,
)

# `ganlint run`'s defaults, here for cmd_run and for its flags' help (the flags default to None, "not given",
# so that --resume can refuse what was given). SUITE is both the filter and the name the suite is recorded by
# when no PATH is given; with PATHs the files given are what is recorded (RUN_FILES_NAME names their folder).
RUN_SUITE, RUN_SEEDS, RUN_DEVICE = "quick", 1, "auto"
RUN_FILES_NAME = "custom"

# `ganlint run` bounds: each worker process holds torch (~1 GB), and each seed is a run of every scenario;
# past these a typo (an extra zero) would start thousands of processes or runs.
MAX_JOBS = 256
MAX_SEEDS = 1000


def cmd_train(args: argparse.Namespace) -> int:
    from ganlint.errors import ConfigError
    from ganlint.training.config import TrainConfig, config_fields
    from ganlint.training.loop import TrainingInterrupted, resume, train

    loggers = _log_to(args)
    try:
        if args.resume is not None:
            given = [f"--{f.name.replace('_', '-')}" for f in config_fields() if getattr(args, f.name) != f.default]
            given += ["--overwrite"] if args.overwrite else []
            if given:
                raise ConfigError(f"--resume continues the run with the config in {args.resume}/config.json; "
                                  f"drop {', '.join(given)}")
            run = resume(args.resume, progress=not args.quiet, loggers=loggers)
        else:
            cfg = TrainConfig.from_dict({f.name: getattr(args, f.name) for f in config_fields()})
            run = train(cfg, overwrite=args.overwrite, progress=not args.quiet, loggers=loggers)
    except TrainingInterrupted as e:
        print(f"ganlint: {e.run.stop_reason}; the run is saved in {e.run.out_dir}: continue it with  "
              f"ganlint train --resume {e.run.out_dir}", file=sys.stderr)
        return 128 + e.signal
    s = run.summary
    diag, page = None, None
    if args.report:
        from ganlint.report.run_report import write_diagnosis

        diag, page = write_diagnosis(run.out_dir, progress=not args.quiet)
    if args.format == "json":
        extra = {"label": diag.label, "report": str(page)} if diag else {}
        print(json.dumps({"out": str(run.out_dir), **s, **extra, "config": run.config.to_dict()}, indent=2, default=str))
        return EXIT_OK
    fin, ev = s["final"], s["final_eval"]
    print(f"run:    {run.out_dir}")
    print(f"steps:  {s['steps_completed']}/{s['steps_requested']} ({s['stop_reason']}), "
          f"{s['steps_per_s']} steps/s on {s['device']}, {s['wall_time_s']} s")
    if fin:
        print("final:  " + "  ".join(f"{k} {number(v)}" for k, v in fin.items()))
    if ev:
        parts = [f"{k} {number(v)}" for k, v in ev.items() if k != "step" and v is not None]
        print(f"eval @ step {ev['step']}:  " + "  ".join(parts))
    if diag is not None:
        onset = f", onset {diag.onset_text}" if diag.onset_text else ""
        print(f"label:  {diag.label} (confidence {diag.confidence:.2f}{onset}); details: ganlint diagnose {run.out_dir}")
        print(f"report: {page}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    import time

    from ganlint.errors import ConfigError
    from ganlint.report.suite_report import format_suite
    from ganlint.suite.runner import resume_suite, run_suite
    from ganlint.suite.scenarios import load_scenarios

    if args.jobs is not None and not 1 <= args.jobs <= MAX_JOBS:
        raise ConfigError(f"--jobs must be from 1 to {MAX_JOBS}, got {args.jobs}")
    # The options are checked with the suite's device by run_suite/resume_suite, before any folder is made;
    # their errors name parameters (cpus_per_run), respelled as flags below.
    executor = _executor(args)
    loggers = _log_to(args)
    if args.resume is not None:
        given = [flag for flag, v in (("PATH", args.paths), ("--suite", args.suite), ("--seeds", args.seeds),
                                      ("--device", args.device), ("--name", args.name), ("--out", args.out),
                                      ("--batched", args.batched), ("--fast", args.fast)) if v]
        if given:
            raise ConfigError(f"--resume takes the scenarios, seeds and device from {args.resume}/suite.json; "
                              f"drop {', '.join(given)}")
        out = args.resume
    else:
        suite = args.suite or RUN_SUITE  # which scenarios to keep, of the PATHs given too
        seeds = RUN_SEEDS if args.seeds is None else args.seeds
        device = args.device or RUN_DEVICE
        if not 1 <= seeds <= MAX_SEEDS:
            raise ConfigError(f"--seeds must be from 1 to {MAX_SEEDS}, got {seeds}")
        if args.name is not None and args.out is not None:
            raise ConfigError("give --name or --out, not both")
        if args.name is not None and (not args.name or "/" in args.name or args.name in (".", "..")):
            raise ConfigError(f"--name must be a plain folder name, got {args.name!r}")
        scenarios = load_scenarios(args.paths or None, suite=suite)
        if not scenarios:
            among = f" among {', '.join(args.paths)}" if args.paths else ""
            print(f"ganlint: no scenarios in suite {suite!r}{among}", file=sys.stderr)
            return EXIT_NOTHING
        # The suite is recorded (suite.json, the report's meta line, the folder's name) by its name only when
        # it was chosen by its name; scenarios from PATHs are recorded as their files, so a report of two files
        # does not read "suite quick".
        named = None if args.paths else suite
        out = args.out or f"reports/{args.name or (named or RUN_FILES_NAME) + '-' + time.strftime('%Y%m%d-%H%M%S')}"
    got: list[int] = []

    def terminate(signum: int, frame: Any) -> None:  # SIGTERM (a CI timeout, `kill`) stops a suite as Ctrl-C does
        got.append(signum)
        raise KeyboardInterrupt

    # SIGINT too, explicitly: a process started with SIGINT ignored (a background job of a script, some CI
    # runners) keeps it ignored under Python's default, and Ctrl-C of a Ray driver would not stop it; the local
    # executor's trainer installs its own handler while it trains.
    previous = signal.signal(signal.SIGTERM, terminate)
    previous_int = signal.signal(signal.SIGINT, terminate)
    try:
        if args.resume is not None:
            result = resume_suite(out, jobs=args.jobs, progress=not args.quiet, report=args.report, executor=executor,
                                  loggers=loggers)
        else:
            result = run_suite(scenarios, seeds=seeds, device=device, out_dir=out, jobs=args.jobs,
                               progress=not args.quiet, report=args.report, suite=named, batched=args.batched,
                               fast=args.fast, executor=executor, loggers=loggers)
    except ConfigError as e:
        from ganlint.loaders.errors import respell

        raise respell(e, _ray_flag) from None
    except KeyboardInterrupt as e:
        signum = getattr(e, "signal", None) or (got[0] if got else signal.SIGINT)
        saved = "runs in training were saved" if executor == "local" else "runs in flight were cancelled"
        print(f"ganlint: interrupted by {signal.Signals(signum).name}; the finished runs are kept, and {saved}: "
              f"continue with  ganlint run --resume {out}", file=sys.stderr)
        return 128 + signum
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
    if args.format == "json":
        print(json.dumps({
            "out": str(result.out_dir),
            "passed": result.passed,
            "report": str(result.out_dir / "report.html") if args.report else None,
            "scenarios": json.loads(result.scenarios.to_json(orient="records")),
            "labels": json.loads(result.labels.to_json(orient="records")),
            "results": json.loads(result.results.to_json(orient="records")),
            "errors": json.loads(result.errors.to_json(orient="records")),
        }, indent=2, default=str))
    else:
        print(format_suite(result))
        print(f"tables: {result.out_dir}")
        if args.report:
            print(f"report: {result.out_dir / 'report.html'}")
    return EXIT_OK if result.passed else EXIT_FAILING


def _log_to(args: argparse.Namespace) -> list[Any]:
    """--log-to's loggers, checked (form, library installed) before anything trains: a ConfigError is one line."""
    if not args.log_to:
        return []
    from ganlint.integrations.sinks import parse_target

    return [parse_target(text) for text in args.log_to]


def _ray_flag(name: str) -> str:
    """The Ray executor's parameters as `ganlint run` spells them: cpus_per_run -> --cpus-per-run."""
    return "--" + name.replace("_", "-")


def _executor(args: argparse.Namespace) -> Any:
    """'local', or the RayExecutor the ray flags describe (ConfigError for a ray flag without --executor ray)."""
    from ganlint.errors import ConfigError

    ray_flags = {"--address": args.address, "--cpus-per-run": args.cpus_per_run, "--gpus-per-run": args.gpus_per_run,
                 "--retries": args.retries}
    given = [flag for flag, v in ray_flags.items() if v is not None]
    if args.executor == "local":
        if given:
            raise ConfigError(f"{', '.join(given)} only apply with --executor ray")
        return "local"
    from ganlint.suite.ray_executor import DEFAULT_RETRIES, RayExecutor

    if args.jobs is not None and (args.address or os.environ.get("RAY_ADDRESS")):
        raise ConfigError("--jobs sets the CPUs of a local Ray instance; on an existing cluster its nodes decide "
                          "(use --cpus-per-run for what each run reserves)")
    return RayExecutor(address=args.address, cpus_per_run=1.0 if args.cpus_per_run is None else args.cpus_per_run,
                       gpus_per_run=args.gpus_per_run or 0.0,
                       retries=DEFAULT_RETRIES if args.retries is None else args.retries)


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """[tool.ganlint] from --config, else the nearest pyproject.toml; {} with --no-config."""
    from pathlib import Path

    from ganlint.gating import load_settings

    return {} if args.no_config else load_settings(Path(args.config) if args.config else None)


def _emit(fmt: str, d, policy, *, meta: dict[str, Any], name: str, title: str, text: str,
          exit_code: int | None = None) -> None:
    """A gated diagnosis on stdout in the chosen format (github also appends to $GITHUB_STEP_SUMMARY)."""
    from ganlint.gating import append_step_summary, github_step_summary, to_github, to_json, to_junit

    if fmt == "json":
        print(to_json(d, gate=policy, meta=meta, exit_code=exit_code))
    elif fmt == "junit":
        print(to_junit(d, gate=policy, name=name))
    elif fmt == "github":
        print(to_github(d, gate=policy, title=title))
        append_step_summary(github_step_summary(d, gate=policy, title=name))
    else:
        print(text)


def cmd_diagnose(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ganlint.diagnostics import diagnose, load_telemetry
    from ganlint.errors import ConfigError
    from ganlint.gating import merge, parse_fail_on, thresholds_from
    from ganlint.ingest import parse_mapping

    if args.num_modes is not None and args.num_modes < 1:  # 0 is a value, not "unknown" (that is leaving it out)
        raise ConfigError(f"--num-modes must be 1 or more (the data's known modes), got {args.num_modes}")
    settings = _settings(args)
    cli = {"map": parse_mapping(args.map) if args.map else None, "fail_on": args.fail_on, "format": args.format,
           "g_loss": args.g_loss, "d_loss_reduction": args.d_loss_reduction}
    opts = merge(settings, cli)  # the command line wins; --map wins column by column over [tool.ganlint] map
    policy = parse_fail_on(opts.get("fail_on"))
    fmt = opts.get("format") or "text"
    # Loaded here rather than by diagnose(path) so that the mapping applies and the report shows the same table.
    telemetry, meta = load_telemetry(args.path, mapping=opts.get("map"), regex=args.regex)
    d = diagnose(telemetry, meta=meta, d_output=args.d_output, num_modes=args.num_modes,
                 thresholds=thresholds_from(settings), g_loss=opts.get("g_loss"),
                 d_loss_reduction=opts.get("d_loss_reduction"))
    page = None
    if args.report is not None:  # a run folder's report from itself (samples, summary), a log's from `telemetry`
        from ganlint.report.run_report import write_diagnosis

        _, page = write_diagnosis(Path(args.path), d, out=args.report, telemetry=telemetry)
    text = format_diagnosis(d, show_all=args.all) + (f"\nreport: {page}" if page else "")
    _emit(fmt, d, policy, meta={"source": str(args.path), **({"report": str(page)} if page else {})},
          name=f"ganlint diagnose {args.path}", title="ganlint", text=text)
    return _gate_exit(d, policy)


def _gate_exit(d, policy) -> int:
    """The gate's exit code (FailPolicy.exit_code: 0, 1 or 3), with a line on stderr when the verdict is
    inconclusive: that it failed the gate for want of evidence, or that the gate let it pass without any."""
    code = policy.exit_code(d)
    needs = f"; to decide, record: {'; '.join(d.needs)}" if d.needs else ""
    if code == EXIT_NOTHING:
        print(f"ganlint: {INCONCLUSIVE} (exit {EXIT_NOTHING}): no failure was found, but nothing showed the run "
              f"healthy either{needs}. To let such a run pass, leave {INCONCLUSIVE} out of --fail-on "
              f"(e.g. --fail-on any,error)", file=sys.stderr)
    elif policy.passed_without_evidence(d):
        print(f"ganlint: warning: the gate passed without evidence: the verdict is {INCONCLUSIVE} and "
              f"--fail-on {policy.to_spec()} lets it through{needs}", file=sys.stderr)
    return code


def cmd_check(args: argparse.Namespace) -> int:
    from ganlint.check import check
    from ganlint.check.options import OPTION_RANGES, OPTIONS, check_options, spell_flag
    from ganlint.errors import ConfigError, GanlintError
    from ganlint.gating import merge, parse_fail_on, thresholds_from
    from ganlint.loaders.errors import respell

    try:  # the library's errors name its parameters; the command line's name its flags
        # Before anything is read: 0 is a value (refused), not "not given" (the default applies only to None).
        check_options(**{name: getattr(args, name) for name in OPTION_RANGES})
        settings = _settings(args)
        cli = {row.name: getattr(args, row.name) for row in OPTIONS if row.toml}
        if args.kwargs is not None:
            try:
                cli["kwargs"] = json.loads(args.kwargs)
            except json.JSONDecodeError as e:
                raise ConfigError(f"--kwargs is not valid JSON: {e}") from None
            if not isinstance(cli["kwargs"], dict):
                raise ConfigError("--kwargs must be a JSON object, e.g. '{\"z_dim\": 64}'")
        opts = merge(settings, cli)
        policy = parse_fail_on(opts.get("fail_on"))
        fmt = opts.get("format") or "text"
        # [tool.ganlint] and the flags merged for the keys it has; the flags alone for the rest
        given = {row.name: opts.get(row.name) if row.toml else getattr(args, row.name)
                 for row in OPTIONS if row.api and row.flag}
        result = check(args.checkpoint, thresholds=thresholds_from(settings), **{**given, "fail_on": policy})
    except GanlintError as e:
        respell(e, spell_flag)
        raise
    d = result.diagnosis
    meta = {"source": str(result.source), "kind": result.kind, "samples": result.samples, "skipped": result.skipped,
            "notes": result.notes, "metrics": result.to_dict()["metrics"], "class_histogram": result.class_histogram}
    _emit(fmt, d, policy, meta=meta, name=f"ganlint check {result.source.name}", title=f"ganlint {result.source.name}",
          text=format_check(result, policy), exit_code=result.exit_code)
    if not result.checked:  # exit 3 whatever the gate: not one check could run on this checkpoint
        print(f"ganlint: nothing could be checked (see skipped); exit {EXIT_NOTHING}", file=sys.stderr)
        return EXIT_NOTHING
    return _gate_exit(d, policy)


def cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ganlint.errors import ConfigError, DataError

    if args.jobs is not None and args.jobs < 1:
        raise ConfigError(f"--jobs must be 1 or more, got {args.jobs}")
    if args.compare:
        if args.path:
            raise ConfigError("give a folder to render, or --compare A B, not both")
        from ganlint.report.compare import compare_suites, format_comparison

        cmp = compare_suites(*args.compare, out=args.out)
        if args.format == "json":
            print(json.dumps(cmp.to_dict(), indent=2, default=str))
        else:
            print(format_comparison(cmp))
            print(f"report: {cmp.page}")
        return EXIT_FAILING if cmp.regressions else EXIT_OK
    if not args.path:
        raise ConfigError("name a run or suite folder (or a telemetry table), or use --compare A B")
    path = Path(args.path)
    if not path.exists():
        raise DataError(f"{args.path!r} does not exist")
    if path.is_dir() and (path / "suite.json").exists():
        from ganlint.report.suite_report import render_suite

        page = render_suite(path, args.out, rerender_runs=True, jobs=args.jobs)
        kind = "suite"
    else:
        from ganlint.report.run_report import render_run

        page = render_run(path, args.out)
        kind = "run"
    if args.format == "json":
        print(json.dumps({"kind": kind, "report": str(page), "markdown": str(page.with_name("report.md"))}, indent=2))
    else:
        print(f"report: {page}")
        print(f"markdown: {page.with_name('report.md')}")
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    from ganlint.errors import ConfigError
    from ganlint.perf.bench import VARIANTS, bench
    from ganlint.training.device import resolve_device

    for name in ("batch_size", "steps", "rounds"):
        if getattr(args, name) < 1 or (name == "batch_size" and args.batch_size < 2):
            raise ConfigError(f"--{name.replace('_', '-')} must be {'2' if name == 'batch_size' else '1'} or more, "
                              f"got {getattr(args, name)}")
    variants = None
    if args.variants is not None:
        variants = [v.strip() for v in args.variants.split(",") if v.strip()]
        unknown = [v for v in variants if v not in VARIANTS]
        if not variants or unknown:
            raise ConfigError(f"unknown --variants {', '.join(unknown) or repr(args.variants)}; valid: {', '.join(VARIANTS)}")
    device = str(resolve_device(args.device))
    models = tuple(dict.fromkeys(args.model or ("toy", "mlp", "dcgan")))
    print(f"ganlint: timing {', '.join(models)} on {device} (batch {args.batch_size})", file=sys.stderr, flush=True)
    rows = bench(models, device=device, batch_size=args.batch_size, variants=variants, steps=args.steps,
                 rounds=args.rounds, floors=args.floors)
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    print(format_bench(rows))
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    from ganlint.data import DATASETS, get_dataset
    from ganlint.nets import MODEL_DESCRIPTIONS, MODELS
    from ganlint.training.losses import LOSSES

    datasets = {}
    for name in DATASETS.names():
        if name == "mnist":  # describing it must not read the data
            datasets[name] = "MNIST digits 28x28 from --data-root/$GANLINT_DATA, else the 5,000-digit subset shipped with ganlint"
        else:
            datasets[name] = get_dataset(name).description
    losses = {n: LOSSES.get(n).description for n in LOSSES.names()}
    models = {n: MODEL_DESCRIPTIONS[n] for n in MODELS.names()}
    info = {"datasets": datasets, "losses": losses, "models": models}
    if args.format == "json":
        print(json.dumps(info, indent=2))
    else:
        for kind, items in info.items():
            print(f"{kind}:")
            for name, desc in items.items():
                print(f"  {name:<14} {desc}")
    return EXIT_OK
