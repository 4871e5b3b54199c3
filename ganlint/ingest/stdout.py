"""Training logs as people have them: the stdout of the most-copied GAN scripts, saved to a file.

    log = parse_stdout(Path("train.log").read_text())          # a known script's lines, recognised
    log = parse_stdout(text, regex=r"it (?P<step>\\d+) d=(?P<errD>\\S+) g=(?P<errG>\\S+)")
    df = to_telemetry(log.table)                                # its names mapped like a table's

Recognised line formats (a file's lines are tried against each; the format most of them match wins):
  * pytorch/examples `dcgan/main.py` (and its copies: the PyTorch DCGAN tutorial, tab-separated):
        [0/25][0/469] Loss_D: 1.5900 Loss_G: 1.1600 D(x): 0.4000 D(G(z)): 0.4500 / 0.4300
    D's loss sums its two BCE terms (errD = errD_real + errD_fake).
  * eriklindernoren/PyTorch-GAN (gan.py, dcgan.py, wgan_gp.py, acgan.py, ...):
        [Epoch 0/200] [Batch 0/938] [D loss: 0.693147] [G loss: 0.693147]
    D's loss averages its two BCE terms (d_loss = (real_loss + fake_loss) / 2). Bracketed fields are
    `name: value[, name: value ...]`; the known names map through ganlint.ingest.names, others
    (`acc`, `adv`, ...) are dropped. wgan_gp.py prints only every n_critic batches: its steps have gaps.
  * `key: value` / `key=value` pairs with a step: a `step`/`iter`/`global_step` key, or `Epoch [e/E]`
    with `Step [i/N]` (or Batch/Iter) counters, as pytorch-tutorial's GAN prints them.
  * with `regex`: a Python regex with named groups, searched in each line. Groups named `step`, or
    `epoch`, `batch` and `batches`, give the step; every other group is a column, named by the group
    (mapped like a table's column: `(?P<errD>...)` is loss_d).
Other lines (argparse's `Namespace(...)`, "Random Seed:", warnings, tqdm's `\\r` progress residue) are
skipped and counted; a carriage return separates lines, as it does on a terminal.

The step: epoch * batches_per_epoch + batch, batches_per_epoch from the line's `/N` total, so steps keep
increasing across epochs (batch 0 of epoch 1 is step N, not 0 again).

Pure functions of text: no files, no printing.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

import pandas as pd

from ganlint.errors import ConfigError, DataError
from ganlint.ingest.names import normalise

log = logging.getLogger(__name__)

# A printed number, including what Python prints for a diverged loss (nan, inf).
NUMBER = r"[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|nan|inf(?:inity)?)"
_DCGAN = re.compile(r"\[(?P<epoch>\d+)/(?P<epochs>\d+)\]\s*\[(?P<batch>\d+)/(?P<batches>\d+)\]\s*(?P<rest>.*)")
# The key may hold parentheses: D(x), D(G(z)). The second value after " / " is D(G(z)) after D's update.
_DCGAN_PAIR = re.compile(rf"(?P<key>[A-Za-z_][\w()]*)\s*:\s*(?P<v1>{NUMBER})(?:\s*/\s*(?P<v2>{NUMBER}))?", re.I)
_PYTORCH_GAN = re.compile(r"\[Epoch (?P<epoch>\d+)/(?P<epochs>\d+)\]\s*\[Batch (?P<batch>\d+)/(?P<batches>\d+)\]"
                          r"(?P<rest>.*)", re.I)
_BRACKET = re.compile(r"\[([^\[\]]*)\]")
_FIELD = re.compile(rf"^\s*(?P<key>[^:]+?)\s*:\s*(?P<v>{NUMBER})%?\s*$", re.I)
_PAIR = re.compile(rf"(?P<key>[A-Za-z_][\w()/.\-]*)\s*[:=]\s*(?P<v>{NUMBER})(?![\w.])", re.I)
_COUNTER = re.compile(r"\b(?P<name>epoch|step|batch|iter|iteration)\s*\[?\s*(?P<i>\d+)\s*/\s*(?P<n>\d+)\s*\]?", re.I)
STEP_GROUPS = ("step", "epoch", "batch", "batches", "epochs")


@dataclass(frozen=True)
class Format:
    """A printed line format: its name in messages, and how its D loss combines the two BCE terms."""

    name: str
    d_loss_reduction: str | None
    reason: str


FORMATS = {
    "dcgan": Format("pytorch/examples dcgan", "sum", "errD = errD_real + errD_fake"),
    "pytorch-gan": Format("PyTorch-GAN", "mean", "d_loss = (real_loss + fake_loss) / 2"),
    "key-value": Format("key: value pairs", None, ""),
    "regex": Format("--regex", None, ""),
}


@dataclass(frozen=True)
class StdoutLog:
    """A parsed stdout log: the raw table (a `step` column and the log's own names), its format key
    (FORMATS), how many non-blank lines it had and how many were skipped."""

    table: pd.DataFrame
    format: str
    lines: int
    skipped: int

    @property
    def info(self) -> dict:
        """What the engine keeps of it (meta["log"]): format, its D loss reduction, line counts."""
        fmt = FORMATS[self.format]
        return {"format": fmt.name, "d_loss_reduction": fmt.d_loss_reduction, "reduction_reason": fmt.reason,
                "lines": self.lines, "skipped": self.skipped}


def _float(text: str) -> float:
    return float(text)  # Python reads nan, inf, infinity in any case


def _epoch_step(g) -> int:
    """epoch * batches_per_epoch + batch (see the module docstring), from a match's groups or a dict."""
    return int(g["epoch"]) * int(g["batches"]) + int(g["batch"])


def _dcgan(line: str) -> dict | None:
    m = _DCGAN.match(line)
    if not m:
        return None
    row: dict = {"step": _epoch_step(m)}
    for p in _DCGAN_PAIR.finditer(m["rest"]):
        # D(G(z)) is printed twice: before D's update (D_G_z1, from the batch errD_fake was computed on)
        # and after it (D_G_z2, the batch errG was computed on). The first is d_fake: it pairs with D(x) and
        # loss_d, taken on the same D, as ganlint's d_real/d_fake are. The schema has no column for the
        # second, so it is dropped.
        row.setdefault(p["key"], _float(p["v1"]))
    return row if len(row) > 1 else None


def _pytorch_gan(line: str) -> dict | None:
    m = _PYTORCH_GAN.search(line)
    if not m:
        return None
    row: dict = {"step": _epoch_step(m)}
    for bracket in _BRACKET.findall(m["rest"]):
        for part in bracket.split(","):  # acgan: [D loss: 0.69, acc: 50%]; cyclegan: [G loss: .., adv: ..]
            f = _FIELD.match(part)
            if f:
                row.setdefault(f["key"], _float(f["v"]))
    return row if len(row) > 1 else None


def _key_value(line: str) -> dict | None:
    pairs = {p["key"]: _float(p["v"]) for p in _PAIR.finditer(line)}
    signals = [k for k in pairs if normalise(k)[0] not in ("", "step")]
    if not signals:
        return None  # "Random Seed: 999", Namespace(lr=0.0002, ...): no signal ganlint reads
    steps = [k for k in pairs if normalise(k)[0] == "step"]
    counters = {c["name"].lower(): (int(c["i"]), int(c["n"])) for c in _COUNTER.finditer(line)}
    inner = next((counters[n] for n in ("step", "batch", "iter", "iteration") if n in counters), None)
    if steps:
        step = pairs[steps[0]]
    elif "epoch" in counters and inner:
        step = counters["epoch"][0] * inner[1] + inner[0]
    elif inner:
        step = inner[0]
    else:
        return None
    if step != step or step < 0:  # a NaN or negative step cannot order the rows
        return None
    return {"step": int(step), **{k: pairs[k] for k in signals}}


PARSERS = {"dcgan": _dcgan, "pytorch-gan": _pytorch_gan, "key-value": _key_value}


def lines_of(text: str) -> list[str]:
    """The non-blank lines of a log; a carriage return ends a line too (tqdm and `print(..., end="\\r")`)."""
    return [ln.strip() for ln in re.split(r"\r\n|\r|\n", text) if ln.strip()]


def compile_regex(pattern: str) -> re.Pattern:
    """A user's --regex, checked: it compiles and has named groups, with a step among them.

    Raises:
        ConfigError: one line saying what is wrong.
    """
    try:
        rx = re.compile(pattern)
    except re.error as e:
        raise ConfigError(f"--regex {pattern!r} is not a valid Python regular expression: {e}") from None
    groups = set(rx.groupindex)
    if not groups:
        raise ConfigError(f"--regex {pattern!r} has no named groups: name what to read, e.g. "
                          r"(?P<step>\d+) and (?P<loss_d>\S+)")
    if "step" not in groups and not {"epoch", "batch", "batches"} <= groups:
        raise ConfigError(f"--regex {pattern!r} gives no step: name a group step, or epoch, batch and batches "
                          f"(the /N total) (its groups: {', '.join(sorted(groups))})")
    if not groups - set(STEP_GROUPS):
        raise ConfigError(f"--regex {pattern!r} names only step groups ({', '.join(sorted(groups))}): "
                          f"name the values too, e.g. (?P<loss_d>\\S+)")
    return rx


def _regex_row(rx: re.Pattern, line: str) -> dict | None:
    m = rx.search(line)
    if not m:
        return None
    g = m.groupdict()
    try:
        step = int(g["step"]) if g.get("step") is not None else _epoch_step(g)
    except (TypeError, ValueError, KeyError):
        return None  # an optional step group that did not take part, or a non-integer step
    return {"step": step, **{k: v for k, v in g.items() if k not in STEP_GROUPS}}


def detect(lines: list[str], limit: int = 2000) -> str | None:
    """The recognised format of the first `limit` lines that most of them match, or None."""
    counts = {k: sum(1 for ln in lines[:limit] if p(ln) is not None) for k, p in PARSERS.items()}
    best = max(counts, key=lambda k: counts[k])  # dict order breaks ties: the specific formats first
    return best if counts[best] else None


def parse_stdout(text: str, regex: str | None = None, *, name: str = "the log") -> StdoutLog:
    """The rows of a stdout log (see the module docstring).

    Args:
        text: the log's text.
        regex: a Python regex with named groups; None to recognise the known formats.
        name: how messages call the log.

    Raises:
        ConfigError: a regex that does not compile, has no named groups or gives no step.
        DataError: no line matches (the message says how many lines were skipped and what was looked for).
    """
    rx = compile_regex(regex) if regex is not None else None
    lines = lines_of(text)
    if not lines:
        raise DataError(f"{name} is empty (blank lines only)")
    if rx is not None:
        key, rows = "regex", [r for ln in lines if (r := _regex_row(rx, ln)) is not None]
        if not rows:
            raise DataError(f"--regex matched none of the {len(lines)} lines of {name} "
                            f"(it is searched in each line; first line: {lines[0][:80]!r})")
    else:
        key = detect(lines)
        rows = [r for ln in lines if (r := PARSERS[key](ln)) is not None] if key else []
        if not rows:
            raise DataError(f"{name}: none of its {len(lines)} lines is a training-log line ({len(lines)} skipped): "
                            f"looked for pytorch/examples dcgan's '[e/E][i/N] Loss_D: ..', PyTorch-GAN's "
                            f"'[Epoch e/E] [Batch i/N] [D loss: ..]' and 'key: value' pairs with a step; "
                            f"describe yours with --regex")
    skipped = len(lines) - len(rows)
    if skipped > len(rows):
        log.warning("%s: most lines were skipped (%d of %d): only %d are %s lines", name, skipped, len(lines),
                    len(rows), FORMATS[key].name)
    else:
        log.info("%s: read %d %s lines, skipped %d", name, len(rows), FORMATS[key].name, skipped)
    table = pd.DataFrame.from_records(rows)
    return StdoutLog(table=table, format=key, lines=len(lines), skipped=skipped)


# Files read by content rather than by name (a table, JSON or printed lines may hide behind any of these).
TEXT_LOG_SUFFIXES = (".log", ".txt", ".out")


def sniff_text(text: str) -> str:
    """What a text file holds, by content: 'stdout' (lines of a known printed format, tried first since a
    DCGAN line starts with '[' like JSON), 'json' (a JSON document or JSON lines), 'csv' or 'tsv' (a header
    and rows with as many fields), else 'stdout' (to be read, and refused with the formats looked for)."""
    lines = lines_of(text[:200_000])[:200]
    if detect(lines):
        return "stdout"
    if lines and lines[0][:1] in "{[":  # JSON only if it parses: "[INFO] ..." log lines start with '[' too
        try:
            json.loads(lines[0] if lines[0].startswith("{") else text)
            return "json"
        except ValueError:
            pass
    for sep, kind in (("\t", "tsv"), (",", "csv")):
        if lines and lines[0].count(sep) >= 1:
            width = lines[0].count(sep)
            rows = lines[1:6]
            if rows and all(r.count(sep) == width for r in rows):
                return kind
    return "stdout"
