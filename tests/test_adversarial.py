"""Adversarial input to the command line, each case run as a user runs it: bad flags, bad scenario files,
corrupt run folders, bad check numbers, bad --data, paths that do not exist.

For every case: the exit code (2 for bad input), exactly one line on stderr (`ganlint: error: ...` or
argparse's one-line usage error), no "Traceback" anywhere, and the working folder unchanged except for
the case's expected output (its tree, sizes and mtimes are compared before and after).

How the commands run: `import ganlint` costs 3-9 s of CPU (torch, pandas, scipy), so ~90 fresh
interpreters would take 5-15 minutes on a 2-core machine. The cases therefore run in processes forked
from one interpreter that has imported ganlint once (a "zygote": each child gets its own cwd, argv,
environment, stdout and stderr files, and exit status, and runs exactly what the `ganlint` console script
runs: `sys.exit(ganlint.cli.main())`, with an uncaught exception printed as the interpreter prints it).
REAL_SCRIPT_CASES also run through the installed console script itself, so the two paths are compared on
every run; GANLINT_TEST_REAL_CLI=1 runs every case through the console script.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

TIMEOUT_S = 120  # per case: a case that trains for longer is a bug (bad input must fail before training)
TINY = ["--dataset", "ring8", "--steps", "5", "--batch-size", "16", "--g-width", "8", "--d-width", "8",
        "--eval-samples", "50", "--pictures", "0", "--device", "cpu", "--no-report", "--quiet"]
REAL_CLI = os.environ.get("GANLINT_TEST_REAL_CLI") == "1"


# -- running the command line ----------------------------------------------------------------------------------

ZYGOTE = textwrap.dedent('''
    import atexit, json, os, signal, sys, traceback
    import ganlint.cli  # what every `ganlint` process imports first; paid once here
    for line in sys.stdin:
        req = json.loads(line)
        sys.stdout.flush(); sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                signal.alarm(req["timeout"])
                os.chdir(req["cwd"])
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0); os.close(null)  # the requests stay the zygote's
                for fd, name in ((1, "stdout"), (2, "stderr")):
                    f = os.open(req[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                    os.dup2(f, fd); os.close(f)
                sys.argv = ["ganlint", *(os.fsdecode(a.encode("latin-1")) for a in req["argv"])]
                try:
                    code = ganlint.cli.main()  # the console script: sys.exit(main())
                except SystemExit as e:  # as the interpreter exits on SystemExit
                    if e.code is None or isinstance(e.code, int):
                        code = e.code or 0
                    else:
                        print(e.code, file=sys.stderr); code = 1
                except BaseException:  # as the interpreter reports an uncaught exception
                    traceback.print_exc(); code = 1
                atexit._run_exitfuncs()
            finally:
                try:
                    sys.stdout.flush(); sys.stderr.flush()
                finally:
                    os._exit(code if isinstance(code, int) else 1)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"rc": os.waitstatus_to_exitcode(status)}), flush=True)
''')


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GANLINT_DATA", "GITHUB_STEP_SUMMARY")}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONWARNINGS="ignore::DeprecationWarning")
    return env


def _script() -> list[str]:
    script = Path(sys.executable).with_name("ganlint")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "ganlint"]


@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str


class Runner:
    """`run(cwd, argv)`: a forked child of the zygote (default) or the console script (real=True)."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.n = 0
        self.proc = subprocess.Popen([sys.executable, "-c", ZYGOTE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=_env(), cwd=scratch)

    def run(self, cwd: Path, argv: list[str | bytes], real: bool = False) -> Result:
        if real or REAL_CLI:
            p = subprocess.run([*_script(), *argv], cwd=cwd, capture_output=True, env=_env(), timeout=TIMEOUT_S)
            return Result(p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"))
        self.n += 1
        out, err = self.scratch / f"{self.n}.out", self.scratch / f"{self.n}.err"
        req = {"cwd": str(cwd), "argv": [os.fsencode(a).decode("latin-1") for a in argv], "timeout": TIMEOUT_S,
               "stdout": str(out), "stderr": str(err)}
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline()
        assert reply, "the zygote died"
        return Result(json.loads(reply)["rc"], out.read_bytes().decode(errors="replace"),
                      err.read_bytes().decode(errors="replace"))

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory):
    r = Runner(tmp_path_factory.mktemp("zygote"))
    yield r
    r.close()


@pytest.fixture(scope="module")
def base_run(runner: Runner, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One healthy tiny run folder (ring8, 5 steps), copied and damaged by the cases."""
    work = tmp_path_factory.mktemp("base")
    r = runner.run(work, ["train", *TINY, "--out", "run"])
    assert r.rc == 0, r.stderr
    return work / "run"


# -- the working folder, before and after ---------------------------------------------------------------------

def tree(root: Path) -> dict[bytes, tuple]:
    """Every entry under root (bytes paths: names need not be UTF-8): files with size and mtime."""
    out: dict[bytes, tuple] = {}
    top = os.fsencode(root)
    for folder, dirs, files in os.walk(top):
        for name in dirs:
            out[os.path.relpath(os.path.join(folder, name), top)] = ("dir",)
        for name in files:
            st = os.lstat(os.path.join(folder, name))
            out[os.path.relpath(os.path.join(folder, name), top)] = ("file", st.st_size, st.st_mtime_ns)
    return out


# -- what the cases are made of ---------------------------------------------------------------------------------

Setup = Callable[[Path, Path], None]  # (working folder, the healthy run folder)


def nothing(work: Path, base: Path) -> None:
    pass


def run_folder(**edits: bytes | Callable[[dict], object] | None) -> Setup:
    """work/run: a copy of the healthy run, with files replaced (bytes), removed (None), or a JSON file
    edited (a function of its object that edits it in place or returns its replacement)."""
    def setup(work: Path, base: Path) -> None:
        shutil.copytree(base, work / "run")
        for name, edit in edits.items():
            path = work / "run" / name.replace("__", ".")
            if edit is None:
                path.unlink()
            elif isinstance(edit, bytes):
                path.write_bytes(edit)
            else:
                obj = json.loads(path.read_text())
                new = edit(obj)
                path.write_text(json.dumps(obj if new is None else new))
    return setup


def truncated(name: str, keep: float) -> Setup:
    def setup(work: Path, base: Path) -> None:
        shutil.copytree(base, work / "run")
        data = (base / name).read_bytes()
        (work / "run" / name).write_bytes(data[: int(len(data) * keep)])
    return setup


def file(name: str, content: bytes | str) -> Setup:
    def setup(work: Path, base: Path) -> None:
        p = work / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)
    return setup


def both(*setups: Setup) -> Setup:
    def setup(work: Path, base: Path) -> None:
        for s in setups:
            s(work, base)
    return setup


def folder(name: str) -> Setup:
    return lambda work, base: (work / name).mkdir(parents=True)


def npy(name: str, array: np.ndarray) -> Setup:
    return lambda work, base: np.save(work / name, array)


SCENARIO = 'name = "sc"\nexpect = "stable"\nsuites = ["quick"]\nwhy = "an adversarial test"\n'


def scenario(top: str = "", train: str = "", name: str = "sc.toml", base: str = SCENARIO) -> Setup:
    """A scenario file: the valid top-level keys (plus `top`), then [train]: a tiny config, where the
    lines of `train` replace the keys they set."""
    given = {line.split("=")[0].strip() for line in train.splitlines() if "=" in line}
    tiny = [f"{k} = {v}" for k, v in (("dataset", '"ring8"'), ("steps", "5"), ("batch_size", "16")) if k not in given]
    return file(name, f"{base}{top}\n[train]\n" + "\n".join([*tiny, train]) + "\n")


def pyproject(table: str) -> Setup:
    return file("pyproject.toml", f"[tool.ganlint]\n{table}\n")


def cfg(**changes: object) -> Callable[[dict], None]:
    return lambda meta: meta["config"].update(changes)


RUN_SC = ["--device", "cpu", "--quiet", "--no-report", "--out", "out"]
CHECK = ["check", "run", "--samples", "100"]
NON_UTF8 = os.fsencode("out-") + b"\xff\xfe"


@dataclass
class Case:
    id: str
    argv: list[str | bytes]
    why: str
    setup: Setup = nothing
    rc: int | tuple[int, ...] = 2
    says: str = ""  # a fragment the error line must hold (lower case), when there is one to check
    allowed: bytes | None = None  # the one path (relative to the working folder) the command may write
    one_line: bool = True


def train(*flags: str) -> list[str]:
    return ["train", *TINY, *flags, "--out", "out"]


CASES = [
    # -- ganlint train: every class of bad value, each refused before anything is written -------------------
    Case("train-steps-zero", train("--steps", "0"), "zero steps trains nothing", says="steps"),
    Case("train-steps-negative", train("--steps", "-5"), "a negative count", says="steps"),
    Case("train-steps-huge", train("--steps", "99999999999"), "issue 8: a schedule of 1e11 steps exhausted memory", says="steps"),
    Case("train-steps-float", train("--steps", "1e9"), "1e9 is a float, not an integer", says="--steps"),
    Case("train-steps-word", train("--steps", "many"), "not a number at all", says="--steps"),
    Case("train-batch-one", train("--batch-size", "1"), "batch norm and the metrics need two samples", says="batch_size"),
    Case("train-batch-huge", train("--batch-size", "1000000000"), "issue 8: a 1e9 batch allocates gigabytes", says="batch_size"),
    Case("train-batch-float", train("--batch-size", "1e9"), "issue 8: --batch-size 1e9", says="--batch-size"),
    Case("train-eval-samples-huge", train("--eval-samples", "2000000000"), "issue 8: 2e9 evaluation samples", says="eval_samples"),
    Case("train-eval-samples-float", train("--eval-samples", "2e9"), "issue 8: --eval-samples 2e9", says="--eval-samples"),
    Case("train-eval-every-zero", train("--eval-every", "0"), "a zero interval", says="eval_every"),
    Case("train-eval-every-huge", train("--steps", "99999999999", "--eval-every", "1"),
         "issue 8: the evaluation schedule as a set of 1e11 steps", says="steps"),
    Case("train-lr-nan", train("--lr-g", "nan"), "NaN passes every comparison's negation", says="lr_g"),
    Case("train-lr-inf", train("--lr-d", "inf"), "an infinite step", says="lr_d"),
    Case("train-lr-negative", train("--lr-g=-1e-4"), "gradient ascent", says="lr_g"),
    Case("train-lr-zero", train("--lr-d", "0"), "nothing learns", says="lr_d"),
    Case("train-beta1-one", train("--beta1", "1.0"), "Adam's average never moves", says="beta1"),
    Case("train-beta2-nan", train("--beta2", "nan"), "NaN", says="beta2"),
    Case("train-dropout-inf", train("--dropout", "inf"), "inf", says="dropout"),
    Case("train-smoothing-nan", train("--label-smoothing", "nan"), "NaN", says="label_smoothing"),
    Case("train-gp-negative", train("--gp-weight", "-1"), "a negative penalty rewards steep critics", says="gp_weight"),
    Case("train-gp-inf", train("--gp-weight", "inf"), "an infinite penalty is NaN at once", says="gp_weight"),
    Case("train-r1-nan", train("--r1-gamma", "nan"), "NaN", says="r1_gamma"),
    Case("train-clip-zero", train("--clip", "0"), "clipping to 0 zeroes D", says="clip"),
    Case("train-seed-negative", train("--seed", "-1"), "issue 9: --seed -1", says="seed"),
    Case("train-seed-huge", train("--seed", str(2**64)), "numpy refuses seeds of 2**63 and more", says="seed"),
    Case("train-width-huge", train("--g-width", "4000000000"), "issue 8: a 4e9-wide layer", says="g_width"),
    Case("train-width-zero", train("--d-width", "0"), "a layer of no units", says="d_width"),
    Case("train-width-x-depth", train("--g-width", "30000", "--g-depth", "3"),
         "each bound alone passes, 1.8e9 parameters do not", says="parameters"),
    Case("train-z-dim-huge", train("--z-dim", "100000"), "beyond any latent", says="z_dim"),
    Case("train-depth-huge", train("--d-depth", "1000"), "a 1000-layer MLP", says="d_depth"),
    Case("train-n-critic-zero", train("--n-critic", "0"), "D never trains", says="n_critic"),
    Case("train-n-critic-huge", train("--n-critic", "100000"), "G never moves", says="n_critic"),
    Case("train-pack-not-divisor", train("--pack", "3"), "16 samples do not pack by 3", says="pack"),
    Case("train-pack-over-batch", train("--pack", "32"), "more packed than in the batch", says="pack"),
    Case("train-flush-zero", train("--flush-every", "0"), "a zero-row buffer", says="flush_every"),
    Case("train-flush-huge", train("--flush-every", "10000000"), "a 1e7-row device buffer", says="flush_every"),
    Case("train-pictures-negative", train("--pictures", "-1"), "a negative count", says="pictures"),
    Case("train-pictures-huge", train("--pictures", "100000"), "1e5 picture files", says="pictures"),
    Case("train-bool-string", train("--spectral-norm", "no"), "issue 7 on the command line: a flag takes no value",
         says="unrecognized"),
    Case("train-unknown-dataset", train("--dataset", "cifar"), "a name not in the registry", says="cifar"),
    Case("train-unknown-loss", train("--loss", "wgan-XX"), "a name not in the registry", says="wgan-xx"),
    Case("train-bad-device", train("--device", "tpu"), "no such device", says="device"),
    Case("train-bad-adam", train("--adam", "fast"), "no such Adam", says="adam"),
    Case("train-bad-autocast", train("--autocast", "fp16"), "only fp32 and bf16", says="autocast"),
    Case("train-root-missing", train("--dataset", "mnist", "--data-root", "nowhere"), "issue 9: a missing MNIST folder",
         says="nowhere"),
    Case("train-root-without-mnist", train("--dataset", "mnist", "--data-root", "empty"),
         "issue 9: a folder without MNIST must not silently become the shipped digits", setup=folder("empty"),
         says="holds no mnist"),
    Case("train-out-is-a-file", ["train", *TINY, "--out", "taken"], "the run folder is a file",
         setup=file("taken", "x"), says="taken"),
    Case("train-out-non-utf8", ["train", *TINY, "--out", NON_UTF8],
         "issue: trained to the end, then crashed before writing weights (the writer is fixed elsewhere: "
         "here only no traceback)", rc=(0, 2), allowed=NON_UTF8, one_line=False),

    # -- ganlint run FILE: scenario files ---------------------------------------------------------------------
    Case("sc-bool-string", ["run", "sc.toml", *RUN_SC], 'issue 7: spectral_norm = "no" switched spectral norm on',
         setup=scenario(train='spectral_norm = "no"'), says="spectral_norm"),
    Case("sc-bool-string-false", ["run", "sc.toml", *RUN_SC], 'issue 7: batch_norm = "false" switched batch norm on',
         setup=scenario(train='batch_norm = "false"'), says="batch_norm"),
    Case("sc-lr-true", ["run", "sc.toml", *RUN_SC], "issue 7: lr_g = true trained at lr 1.0",
         setup=scenario(train="lr_g = true"), says="lr_g"),
    Case("sc-steps-float", ["run", "sc.toml", *RUN_SC], "issue 8: steps = 1e15 is a float",
         setup=scenario(train="steps = 1e15"), says="steps"),
    Case("sc-steps-huge", ["run", "sc.toml", *RUN_SC], "issue 8: an integer beyond the bound",
         setup=scenario(train="steps = 99999999999"), says="steps"),
    Case("sc-eval-samples-huge", ["run", "sc.toml", *RUN_SC], "issue 8: 2e9 evaluation samples",
         setup=scenario(train="eval_samples = 2_000_000_000"), says="eval_samples"),
    Case("sc-int-as-string", ["run", "sc.toml", *RUN_SC], '"64" is text, not a number',
         setup=scenario(train='g_width = "64"'), says="g_width"),
    Case("sc-width-float", ["run", "sc.toml", *RUN_SC], "g_width = 4e9 is a float",
         setup=scenario(train="g_width = 4e9"), says="g_width"),
    Case("sc-nan", ["run", "sc.toml", *RUN_SC], "TOML has nan", setup=scenario(train="lr_d = nan"), says="lr_d"),
    Case("sc-unknown-train-key", ["run", "sc.toml", *RUN_SC], "a typo must not fall back to a default",
         setup=scenario(train="learning_rate = 0.1"), says="learning_rate"),
    Case("sc-unknown-top-key", ["run", "sc.toml", *RUN_SC], "a typo at the top level",
         setup=scenario(top='suite = "quick"'), says="suite"),
    Case("sc-bad-name", ["run", "Bad Name.toml", *RUN_SC], "names are lower-case slugs",
         setup=scenario(name="Bad Name.toml", base=SCENARIO.replace('"sc"', '"Bad Name"')), says="name"),
    Case("sc-name-mismatch", ["run", "other.toml", *RUN_SC], "the name must be the file's",
         setup=scenario(name="other.toml"), says="other.toml"),
    Case("sc-expect-unknown", ["run", "sc.toml", *RUN_SC], "a label the engine never gives",
         setup=scenario(base=SCENARIO.replace('"stable"', '"healthy"')), says="healthy"),
    Case("sc-suites-string", ["run", "sc.toml", *RUN_SC], "suites is a list",
         setup=scenario(base=SCENARIO.replace('["quick"]', '"quick"')), says="suites"),
    Case("sc-why-number", ["run", "sc.toml", *RUN_SC], "why is prose",
         setup=scenario(base=SCENARIO.replace('"an adversarial test"', "5")), says="why"),
    Case("sc-reserved-seed", ["run", "sc.toml", *RUN_SC], "the runner sets the seed", setup=scenario(train="seed = 1"),
         says="seed"),
    Case("sc-train-not-table", ["run", "sc.toml", *RUN_SC], "train = 5 is no table",
         setup=file("sc.toml", SCENARIO + "train = 5\n"), says="train"),
    Case("sc-binary", ["run", "sc.toml", *RUN_SC], "a binary file", setup=file("sc.toml", bytes(range(256))),
         says="sc.toml"),
    Case("sc-empty", ["run", "sc.toml", *RUN_SC], "an empty file has no keys", setup=file("sc.toml", b""),
         says="missing"),
    Case("sc-bad-toml", ["run", "sc.toml", *RUN_SC], "a syntax error", setup=file("sc.toml", "name = \n[[["),
         says="invalid toml"),
    Case("sc-missing", ["run", "nope.toml", *RUN_SC], "no such file", says="nope.toml"),

    # -- corrupt run folders: diagnose, report, check -----------------------------------------------------------
    Case("diagnose-config-binary", ["diagnose", "run"], "issue 9: config.json binary",
         setup=run_folder(config__json=bytes(range(256)) * 4), says="config.json"),
    Case("report-config-binary", ["report", "run"], "issue 9: config.json binary",
         setup=run_folder(config__json=b"\x89PNG\r\n\x1a\n\x00\x00"), says="config.json"),
    Case("check-config-binary", CHECK, "issue 9: config.json binary",
         setup=run_folder(config__json=b"\xff\xfe\x00\x01" * 64), says="config.json"),
    Case("diagnose-config-list", ["diagnose", "run"], "issue 9: config.json a list",
         setup=run_folder(config__json=b"[1, 2, 3]"), says="config.json"),
    Case("report-config-list", ["report", "run"], "issue 9: config.json a list",
         setup=run_folder(config__json=b'["config"]'), says="config.json"),
    Case("check-config-list", CHECK, "issue 9: config.json a list", setup=run_folder(config__json=b"[]"),
         says="config.json"),
    Case("check-config-string", CHECK, "a JSON string", setup=run_folder(config__json=b'"config"'),
         says="config.json"),
    Case("check-config-deep", CHECK, "nesting beyond the parser's recursion limit",
         setup=run_folder(config__json=b"[" * 200_000 + b"]" * 200_000), says="config.json"),
    Case("check-config-wrong-type", CHECK, "issue 9: config.json with wrong types",
         setup=run_folder(config__json=cfg(g_width="8")), says="g_width"),
    Case("check-config-float-int", CHECK, "issue 9: a float where an int belongs",
         setup=run_folder(config__json=cfg(steps=5.5)), says="steps"),
    Case("check-config-huge-width", CHECK, "issue 8: g_width 4e9 in config.json",
         setup=run_folder(config__json=cfg(g_width=4_000_000_000)), says="g_width"),
    Case("check-config-nan", CHECK, "JSON's NaN literal", setup=run_folder(config__json=cfg(lr_g=float("nan"))),
         says="lr_g"),
    Case("check-config-no-config", CHECK, "issue 9: a key missing",
         setup=run_folder(config__json=lambda m: m.pop("config")), says="config"),
    Case("check-config-missing", CHECK, "issue 9: no config.json", setup=run_folder(config__json=None),
         says="config.json"),
    Case("report-config-missing", ["report", "run"], "telemetry without its config",
         setup=run_folder(config__json=None), says="config.json"),
    Case("check-spec-huge", CHECK, "a data shape that would make a 1e12-parameter output layer",
         setup=run_folder(config__json=lambda m: m["dataset"]["model_spec"].update(shape=[10**6, 10**6])),
         says="config.json"),
    Case("diagnose-dataset-string", ["diagnose", "run"], "dataset is an object",
         setup=run_folder(config__json=lambda m: m.update(dataset="ring8")), says="dataset"),
    Case("diagnose-num-modes-config", ["diagnose", "run"], "issue 9: -3 modes in config.json",
         setup=run_folder(config__json=lambda m: m["dataset"].update(num_modes=-3)), says="num_modes"),
    Case("report-d-output-number", ["report", "run"], "d_output is a name",
         setup=run_folder(config__json=lambda m: m.update(d_output=7)), says="d_output"),
    Case("check-weights-truncated", CHECK, "issue 9: a truncated generator.safetensors",
         setup=truncated("generator.safetensors", 0.5), says="generator.safetensors"),
    Case("check-weights-header-only", CHECK, "cut inside the header",
         setup=truncated("discriminator.safetensors", 0.01), says="discriminator.safetensors"),
    Case("check-weights-empty", CHECK, "a 0-byte weights file", setup=run_folder(generator__safetensors=b""),
         says="generator.safetensors"),
    Case("check-weights-garbage", CHECK, "random bytes", setup=run_folder(generator__safetensors=os.urandom(512)),
         says="generator.safetensors"),
    Case("check-weights-missing", CHECK, "no generator", setup=run_folder(generator__safetensors=None),
         says="generator.safetensors"),
    Case("diagnose-telemetry-garbage", ["diagnose", "run"], "issue 9 (report): telemetry.parquet garbage",
         setup=run_folder(telemetry__parquet=b"PAR1 not really"), says="telemetry.parquet"),
    Case("report-telemetry-garbage", ["report", "run"], "telemetry.parquet garbage",
         setup=run_folder(telemetry__parquet=os.urandom(256)), says="telemetry.parquet"),
    Case("check-telemetry-garbage", CHECK, "telemetry.parquet garbage",
         setup=run_folder(telemetry__parquet=b"\x00" * 64), says="telemetry.parquet"),
    Case("report-summary-binary", ["report", "run"], "summary.json binary",
         setup=run_folder(summary__json=b"\xff" * 32), says="summary.json"),
    Case("check-summary-list", CHECK, "summary.json a list", setup=run_folder(summary__json=b"[1]"),
         says="summary.json"),

    # -- check and diagnose numbers, on the command line and in [tool.ganlint] ------------------------------------
    Case("check-samples-zero", [*CHECK, "--samples", "0"], "issue 9: --samples 0 became 10,000",
         setup=run_folder(), says="--samples"),
    Case("check-samples-negative", [*CHECK, "--samples", "-5"], "a negative count", setup=run_folder(),
         says="--samples"),
    Case("check-samples-huge", [*CHECK, "--samples", "99999999999"], "1e11 samples", setup=run_folder(),
         says="--samples"),
    Case("check-seed-negative", [*CHECK, "--seed", "-1"], "issue 9: --seed -1", setup=run_folder(), says="--seed"),
    Case("check-z-dim-zero", [*CHECK, "--z-dim", "0"], "an empty latent", setup=run_folder(), says="--z-dim"),
    Case("check-classes-one", [*CHECK, "--num-classes", "1"], "a conditional G has two classes or more",
         setup=run_folder(), says="--num-classes"),
    Case("diagnose-num-modes-zero", ["diagnose", "run", "--num-modes", "0"], 'issue 9: --num-modes 0 was "ignored"',
         setup=run_folder(), says="--num-modes"),
    Case("diagnose-num-modes-negative", ["diagnose", "run", "--num-modes", "-3"], 'issue 9: "1 of -3 modes covered"',
         setup=run_folder(), says="--num-modes"),
    Case("settings-samples-zero", CHECK[:2], "[tool.ganlint] samples = 0 as --samples 0",
         setup=both(run_folder(), pyproject("samples = 0")), says="samples"),
    Case("settings-samples-float", CHECK[:2], "[tool.ganlint] samples = 1e4 is a float",
         setup=both(run_folder(), pyproject("samples = 1e4")), says="samples"),
    Case("settings-seed-negative", CHECK[:2], "[tool.ganlint] seed = -1",
         setup=both(run_folder(), pyproject("seed = -1")), says="seed"),
    Case("settings-classes-one", CHECK[:2], "[tool.ganlint] num_classes = 1",
         setup=both(run_folder(), pyproject("num_classes = 1")), says="num_classes"),

    # -- check --data -----------------------------------------------------------------------------------------------
    Case("data-missing-file", [*CHECK, "--data", "nope.npy"], "no such file", setup=run_folder(), says="nope.npy"),
    Case("data-empty-folder", [*CHECK, "--data", "imgs"], "a folder without images",
         setup=both(run_folder(), folder("imgs")), says="no images"),
    Case("data-wrong-shape", [*CHECK, "--data", "x.npy"], "samples of shape (3,) against G's (2,)",
         setup=both(run_folder(), npy("x.npy", np.zeros((50, 3), np.float32))), says="shape"),
    Case("data-one-dim", [*CHECK, "--data", "x.npy"], "a vector is not an array of samples",
         setup=both(run_folder(), npy("x.npy", np.zeros(50, np.float32))), says="shape"),
    Case("data-nan", [*CHECK, "--data", "x.npy"], "NaN in the real data",
         setup=both(run_folder(), npy("x.npy", np.full((50, 2), np.nan, np.float32))), says="nan"),
    Case("data-garbage-npy", [*CHECK, "--data", "x.npy"], "not an .npy file",
         setup=both(run_folder(), file("x.npy", os.urandom(300))), says="x.npy"),
    Case("data-mnist-empty-root", [*CHECK, "--data", "mnist", "--data-root", "empty"],
         "issue 9: a data root without MNIST", setup=both(run_folder(), folder("empty")), says="holds no mnist"),

    # -- paths that do not exist ------------------------------------------------------------------------------------
    Case("diagnose-missing", ["diagnose", "nowhere"], "no such run", says="nowhere"),
    Case("report-missing", ["report", "nowhere"], "no such run", says="nowhere"),
    Case("check-missing", ["check", "nowhere"], "no such checkpoint", says="nowhere"),
    Case("diagnose-empty-folder", ["diagnose", "empty"], "a folder with nothing in it", setup=folder("empty"),
         says="empty"),
]
# These also run through the installed console script on every run, one per command, to keep the forked
# path honest.
REAL_SCRIPT_CASES = ("train-steps-huge", "sc-bool-string", "check-config-binary", "diagnose-num-modes-zero",
                     "report-config-list", "check-samples-zero")


def _check(case: Case, work: Path, before: dict, r: Result) -> None:
    text = r.stdout + r.stderr
    assert "Traceback" not in text, text
    expected = case.rc if isinstance(case.rc, tuple) else (case.rc,)
    assert r.rc in expected, f"exit {r.rc}, expected {case.rc}\n{text}"
    if case.one_line:
        lines = r.stderr.splitlines()
        assert len(lines) == 1, f"stderr is not one line:\n{r.stderr}"
        assert re.match(r"ganlint( \w+)?: error: ", lines[0]), lines[0]
        assert case.says.lower() in lines[0].lower(), lines[0]
    after = tree(work)
    allowed = case.allowed
    def inside(p: bytes) -> bool:
        return allowed is not None and (p == allowed or p.startswith(allowed + os.sep.encode()))
    changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p) and not inside(p))
    assert not changed, f"the command changed {changed}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case: Case, runner: Runner, base_run: Path,
                                                         tmp_path: Path) -> None:
    case.setup(tmp_path, base_run)
    before = tree(tmp_path)
    _check(case, tmp_path, before, runner.run(tmp_path, case.argv))


@pytest.mark.parametrize("case", [c for c in CASES if c.id in REAL_SCRIPT_CASES], ids=list(REAL_SCRIPT_CASES))
def test_the_console_script_answers_as_the_forked_runs_do(case: Case, runner: Runner, base_run: Path,
                                                          tmp_path: Path) -> None:
    case.setup(tmp_path, base_run)
    before = tree(tmp_path)
    _check(case, tmp_path, before, runner.run(tmp_path, case.argv, real=True))


def test_the_table_is_big_and_every_case_says_why() -> None:
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)
    assert all(c.why for c in CASES)
    assert set(REAL_SCRIPT_CASES) <= {c.id for c in CASES}


# -- the library under the command line --------------------------------------------------------------------------

def _wrong_values(typ: type) -> list[object]:
    """Values of the wrong type for a field of scalar type `typ` (issue 7's loose values among them)."""
    return {bool: ["no", "false", 1, 0.0, None], int: [True, 5.0, 1e15, "64", None],
            float: [True, "1e-3", None, [0.1]], str: [5, True, None, b"ring8", "ring\x008"]}[typ]


def test_every_field_has_strict_types() -> None:
    """Issue 7: each field refuses each value of another type, naming the key and the value."""
    from ganlint.errors import ConfigError
    from ganlint.training.config import FIELD_TYPES, TrainConfig

    tried = 0
    for name, (typ, optional) in FIELD_TYPES.items():
        for value in _wrong_values(typ):
            if value is None and optional:
                continue
            with pytest.raises(ConfigError) as info:
                TrainConfig.from_dict({"dataset": "ring8", name: value})
            assert name in str(info.value) and repr(value) in str(info.value), info.value
            tried += 1
    assert tried > 100


def test_every_int_field_has_a_range_and_bounds_refuse_before_building() -> None:
    from ganlint.errors import ConfigError
    from ganlint.training.config import FIELD_TYPES, INT_RANGES, TrainConfig

    assert {n for n, (t, _) in FIELD_TYPES.items() if t is int} == set(INT_RANGES)
    for name, (low, high) in INT_RANGES.items():
        with pytest.raises(ConfigError, match=name):
            TrainConfig(dataset="ring8", **{name: high + 1}).resolve()
        if low > 0:
            with pytest.raises(ConfigError, match=name):
                TrainConfig(dataset="ring8", **{name: low - 1}).resolve()
    # each width alone is in range, the network is not (and is refused without allocating it)
    with pytest.raises(ConfigError, match="parameters"):
        TrainConfig(dataset="mnist", g_width=2**16, d_width=2**16).resolve()
    assert TrainConfig(dataset="ring8", steps=10**8, batch_size=2**16).resolve().steps == 10**8


def test_load_run_names_config_json_for_every_damage(tmp_path: Path, runner: Runner, base_run: Path) -> None:
    from ganlint.errors import DataError
    from ganlint.training.run import load_run

    assert load_run(base_run).config.dataset == "ring8"
    damage = {"binary": b"\x00\xff" * 10, "list": b"[]", "not json": b"{", "no dataset": b'{"config": {}}',
              "types": json.dumps({**json.loads((base_run / "config.json").read_text()),
                                   "config": {"dataset": "ring8", "spectral_norm": "no"}}).encode()}
    for what, content in damage.items():
        run = tmp_path / what.replace(" ", "_")
        shutil.copytree(base_run, run)
        (run / "config.json").write_bytes(content)
        with pytest.raises(DataError, match=r"config\.json") as info:
            load_run(run)
        assert "\n" not in str(info.value), what
    # an interrupted run (no summary, no telemetry yet) stays readable
    run = tmp_path / "interrupted"
    shutil.copytree(base_run, run)
    for name in ("summary.json", "telemetry.parquet", "telemetry.csv"):
        (run / name).unlink(missing_ok=True)
    loaded = load_run(run)
    assert loaded.summary == {} and loaded.telemetry.empty


class _Loop:
    """A user's plain GAN loop on a 2D Gaussian, with the Monitor's three lines."""

    def __init__(self, seed: int = 0) -> None:
        import torch

        torch.manual_seed(seed)
        self.torch = torch
        self.G = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
        self.D = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.LeakyReLU(0.2), torch.nn.Linear(16, 1))
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=1e-3)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=1e-3)

    def run(self, mon, steps: int, break_at: int | None = None, bad=None) -> None:
        torch, bce = self.torch, self.torch.nn.functional.binary_cross_entropy_with_logits
        for step in range(steps):
            real, z = torch.randn(64, 2) + 2.0, torch.randn(64, 2)
            fake = self.G(z)
            d_real, d_fake = self.D(real), self.D(fake.detach())
            loss_d = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))
            self.opt_d.zero_grad()
            loss_d.backward()
            self.opt_d.step()
            d_gen = self.D(fake)
            loss_g = bce(d_gen, torch.ones_like(d_gen))
            self.opt_g.zero_grad()
            loss_g.backward()
            self.opt_g.step()
            # a user's mistake at one step: a value the Monitor cannot read
            mon.step(loss_d=loss_d, loss_g=bad if step == break_at else loss_g, d_real=d_real, d_fake=d_fake,
                     fake=fake)


@pytest.mark.parametrize(("steps", "break_at", "recorded"), [(300, 20, 20), (300, 130, 130), (40, None, 40)])
def test_monitor_diagnoses_what_it_recorded_after_switching_itself_off(caplog, steps, break_at, recorded) -> None:
    """Issue 11: the README's `print(mon.diagnose().label)` after the Monitor disabled itself."""
    import ganlint
    from ganlint.diagnostics import LABELS

    loop = _Loop()
    mon = ganlint.Monitor(loop.G, loop.D, loop.opt_g, loop.opt_d, outputs="logits")
    loop.run(mon, steps, break_at, bad="not a number")
    err = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("ganlint"))  # the Monitor logs
    assert mon.disabled == (break_at is not None) and ("disabled after an error" in err) == mon.disabled
    d = mon.diagnose()  # must not raise
    print(d.label)
    assert d.label in LABELS
    tel = mon.telemetry
    assert len(tel) == recorded and tel["step"].max() == recorded  # the steps before the error are kept
    if break_at is not None:
        assert f"steps 1-{recorded} only" in d.summary and "disabled" in d.summary


def test_monitor_disabled_before_recording_says_so(capsys, tmp_path: Path) -> None:
    import ganlint
    from ganlint.errors import ConfigError

    loop = _Loop()
    mon = ganlint.Monitor(loop.G, loop.D, loop.opt_g, loop.opt_d, outputs="logits")
    loop.run(mon, 10, break_at=0, bad=object())
    d = mon.diagnose()
    assert d.confidence == 0.0 and "nothing to diagnose" in d.summary and "disabled" in d.summary
    assert [f.status for f in d.findings] == ["not-assessable"]
    assert mon.save(tmp_path / "mine").is_dir()  # saving still works (an empty table)
    fresh = ganlint.Monitor(loop.G, loop.D, loop.opt_g, loop.opt_d)
    assert "no step recorded yet" in fresh.diagnose().summary
    with pytest.raises(ConfigError, match="num_modes"):
        ganlint.Monitor(loop.G, loop.D, num_modes=0)
