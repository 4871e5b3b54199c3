"""The telemetry schema and its device-side recorder.

One row per generator step (each step = `n_critic` discriminator updates, then one generator update):

| column | meaning |
| --- | --- |
| step | generator step, 1-based |
| loss_d | D's adversarial loss at its last update of the step (summed real + fake terms; penalties excluded) |
| loss_g | G's loss at its update |
| d_real, d_fake | D's mean output on the real and the fake batch at its last update; a probability for BCE losses, the raw score otherwise (see `d_output` in config.json) |
| grad_norm_g, grad_norm_d | total L2 norm of the gradients each optimizer step applied |
| update_ratio_g, update_ratio_d | ||theta_after - theta_before|| / ||theta_after|| of that step (weight clipping included) |
| fake_mean, fake_std, real_mean, real_std | mean and std over all values of the fake and real batches |
| time_s | host wall time since training began when the step was issued |
| distance | distance of `eval_samples` fakes to as many reals: W1 (gaussian1d), sliced W1 (ring8, grid25), Frechet distance of the MNIST classifier's features (mnist), mean column JS (reviews) |
| diversity | mean pairwise distance of the fakes over that of the reals (~1 healthy, near 0 collapsed) |
| modes_covered | mixtures: modes with >= 1 sample within 3 std; mnist: digits with > 2% of the samples; reviews: clusters present |
| high_quality | mixtures: share within 3 std of a centre; mnist: share with top class probability > 0.9 that PRDC also finds realistic; reviews: 1 |
| mode_kl | KL(fake mode histogram || the data's), nats: 0 ideal, log K for a single mode (mixtures: high-quality samples only, NaN when none) |
| precision, recall, density, coverage | k-NN PRDC (k = 5, Naeem et al. 2020) of fakes vs reals: raw values (mixtures), classifier features (mnist), encoded rows (reviews) |
| category_coverage | reviews: the worst categorical column's share of categories drawn at >= 1/4 of their real frequency; NaN elsewhere |

The evaluation columns (distance to category_coverage; see ganlint.training.evaluation) are filled every
`eval_every` steps (and at steps 1 and last), NaN elsewhere.

Why a device buffer: `.item()` on a CUDA tensor makes the host wait for the GPU, which on small GANs
costs more than the step itself. Each step's scalars are written into a preallocated device tensor with
one `torch.stack` (no sync), and the buffer is copied to the host every `flush_every` steps. The finite
check for a NaN/inf run happens at that flush, so a broken run stops at most `flush_every` steps late.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

# The schema's names live in ganlint.schema (no torch there, so reading a log needs none); re-exported here.
from ganlint.schema import COLUMNS, EVAL_COLUMNS, FINITE_COLUMNS, STEP_COLUMNS


@torch.no_grad()
def total_norm(tensors: list[torch.Tensor]) -> torch.Tensor:
    """L2 norm of all tensors together, as a 0-d tensor on their device (no host sync); one group of GroupNorms."""
    if not tensors:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(tensors)))


@torch.no_grad()  # without it the copies would carry autograd history of the parameters
def snapshot(params: list[torch.Tensor]) -> list[torch.Tensor]:
    """Copies of the parameters before an optimizer step (one fused op per device)."""
    return torch._foreach_mul(params, 1.0)


@torch.no_grad()
def update_ratio(params: list[torch.Tensor], before: list[torch.Tensor]) -> torch.Tensor:
    """||delta theta|| / ||theta|| after a step, as a 0-d device tensor."""
    delta = torch._foreach_sub(params, before)
    return total_norm(delta) / total_norm(params).clamp_min(1e-12)


class GroupNorms:
    """L2 norms of several groups of tensors at once: `GroupNorms()([grads_d, grads_g, ...])` -> (groups,).

    The same numbers as one `total_norm` per group, in 5 operations whatever the number of groups (one
    `_foreach_norm` over all tensors, a stack, a square, a 0/1 matrix product that sums each group's squares,
    a sqrt) instead of 3 per group. On a GPU, where a small GAN's step is bound by kernel launches, this
    halves what the trainer's telemetry costs. The 0/1 matrix is built once per group layout and kept on the
    device (building it per call would copy from the host, which a CUDA graph cannot capture).

    `per_copy=True` is for stacked tensors of K independent copies (ganlint.training.batched: every tensor
    is (K, ...)): each copy's norm over every dim but the first, -> (groups, K). One norm per tensor and
    copy (`_foreach_norm` has no dim), then the same matrix product, so both modes sum squares alike.
    """

    def __init__(self, per_copy: bool = False) -> None:
        self.per_copy = per_copy
        self._sums: dict[tuple[tuple[int, ...], str], torch.Tensor] = {}

    @torch.no_grad()
    def __call__(self, groups: list[list[torch.Tensor]]) -> torch.Tensor:
        flat = [t for g in groups for t in g]
        sizes = tuple(len(g) for g in groups)
        device = flat[0].device
        key = (sizes, str(device))
        if key not in self._sums:
            sums = torch.zeros(len(groups), len(flat))
            start = 0
            for i, n in enumerate(sizes):
                sums[i, start : start + n] = 1.0
                start += n
            self._sums[key] = sums.to(device)
        if self.per_copy:
            norms = torch.stack([torch.linalg.vector_norm(t.reshape(len(t), -1), dim=1) for t in flat]).float()
        else:
            norms = torch.stack(torch._foreach_norm(flat)).float()
        return (self._sums[key] @ norms.square()).sqrt()


@torch.no_grad()
def batch_statistics(loss, out_real: torch.Tensor, out_fake: torch.Tensor, fake: torch.Tensor, real: torch.Tensor,
                     copies: int | None = None) -> dict[str, torch.Tensor]:
    """d_real, d_fake (D's mean output, read as `loss.d_output` says), fake_mean, fake_std, real_mean, real_std.

    With `copies` (ganlint.training.batched), every tensor is (K, ...) and each statistic is per copy, (K,).
    Without, the reductions are the plain whole-tensor ones (the trainer's numbers stay bit for bit).
    """
    if copies is None:
        def per(x: torch.Tensor) -> torch.Tensor:
            return x
        dim: dict[str, int] = {}
    else:
        def per(x: torch.Tensor) -> torch.Tensor:
            return x.reshape(copies, -1)
        dim = {"dim": 1}
    fake, real = per(fake.detach().float()), per(real.detach().float())
    return {"d_real": per(loss.d_output(out_real)).mean(**dim), "d_fake": per(loss.d_output(out_fake)).mean(**dim),
            "fake_mean": fake.mean(**dim), "fake_std": fake.std(**dim),
            "real_mean": real.mean(**dim), "real_std": real.std(**dim)}


def step_row(values: dict[str, torch.Tensor], copies: int | None = None) -> torch.Tensor:
    """One step's values as one float32 tensor in STEP_COLUMNS order: (columns,), or (K, columns) for copies."""
    shape = () if copies is None else (copies,)
    return torch.stack([values[c].detach().float().reshape(shape) for c in STEP_COLUMNS], dim=-1)


class DeviceRows:
    """Per-step rows kept on the device in a preallocated buffer and handed to the host in one copy.

    A row is (columns,) for one run, (K, columns) for K batched copies. Writing a row is one device copy
    and no sync; `take` is the one host sync per `capacity` steps.
    """

    def __init__(self, device: torch.device, capacity: int, row_shape: tuple[int, ...] = (len(STEP_COLUMNS),)) -> None:
        self.buffer = torch.empty(capacity, *row_shape, device=device)
        self.n = 0
        self.steps: list[int] = []
        self.times: list[float] = []

    @property
    def full(self) -> bool:
        return self.n == len(self.buffer)

    def record(self, step: int, time_s: float, row: torch.Tensor) -> None:
        self.buffer[self.n] = row
        self.steps.append(step)
        self.times.append(time_s)
        self.n += 1

    def take(self, reduce: Callable[[torch.Tensor], torch.Tensor] | None = None
             ) -> tuple[list[int], list[float], np.ndarray]:
        """(steps, times, rows) of the buffered steps, rows on the host (a host sync); the buffer is emptied.
        `reduce` maps the device rows first (the Monitor averages them over DDP ranks)."""
        rows = self.buffer[: self.n]
        if reduce is not None:
            rows = reduce(rows)
        host = rows.cpu().numpy().copy()
        steps, times = self.steps, self.times
        self.drop()
        return steps, times, host

    def drop(self) -> None:
        """Forget the buffered steps (after an error that may have left the device unusable)."""
        self.n = 0
        self.steps, self.times = [], []


def first_non_finite(steps: list[int], rows: np.ndarray) -> tuple[int, str] | None:
    """(step, column) of the first NaN/inf among FINITE_COLUMNS in rows (STEP_COLUMNS order), or None."""
    bad = ~np.isfinite(rows[:, [STEP_COLUMNS.index(c) for c in FINITE_COLUMNS]])
    if bad.any():
        r, c = np.argwhere(bad)[0]
        return steps[r], FINITE_COLUMNS[c]
    return None


def rows_frame(rows: list[list[float]] | list[dict[str, float]]) -> pd.DataFrame:
    """Rows as TelemetryRecorder.take_unwritten hands them out (COLUMNS-ordered lists, or dicts by column)
    as a telemetry DataFrame: the trainer and the Monitor send them to the loggers this way."""
    return pd.DataFrame(rows, columns=list(COLUMNS)).astype({"step": "int64"})


class TelemetryRecorder:
    """Collects per-step rows on the device (DeviceRows) and evaluation rows on the host; builds the DataFrame.

    The trainer, the Monitor and (one per copy, fed through `add`) ganlint.training.batched keep their
    telemetry here.
    """

    def __init__(self, device: torch.device, flush_every: int) -> None:
        self.pending = DeviceRows(device, flush_every)
        self._steps: list[int] = []  # of the flushed rows, in order
        self._times: list[float] = []
        self._rows: list[np.ndarray] = []  # flushed blocks of rows, STEP_COLUMNS order
        self._evals: dict[int, dict[str, float]] = {}
        self._written_blocks = self._written = 0  # what take_unwritten has handed out

    @property
    def full(self) -> bool:
        return self.pending.full

    def record(self, step: int, time_s: float, values: dict[str, torch.Tensor]) -> None:
        """Buffer one step's values, given by column name."""
        self.record_row(step, time_s, step_row(values))

    def record_row(self, step: int, time_s: float, row: torch.Tensor) -> None:
        """Buffer one step's values as one vector in STEP_COLUMNS order (one device copy, no sync)."""
        self.pending.record(step, time_s, row)

    def flush(self, reduce: Callable[[torch.Tensor], torch.Tensor] | None = None) -> tuple[int, str] | None:
        """Copy buffered rows to the host (one sync). Returns (step, column) of the first non-finite value."""
        if self.pending.n == 0:
            return None
        return self.add(*self.pending.take(reduce))

    def add(self, steps: list[int], times: list[float], rows: np.ndarray) -> tuple[int, str] | None:
        """Append rows already on the host (STEP_COLUMNS order); (step, column) of the first non-finite value."""
        if not len(rows):
            return None
        self._rows.append(np.asarray(rows, dtype=np.float32))
        self._steps.extend(int(s) for s in steps)
        self._times.extend(float(t) for t in times)
        return first_non_finite(steps, rows)

    def drop_pending(self) -> None:
        """Forget the steps not flushed yet."""
        self.pending.drop()

    def trim(self, keep: int) -> None:
        """Drop the oldest flushed blocks while at least `keep` rows remain without them (the Monitor's
        rolling window), and the evaluations before the first row kept."""
        total = sum(len(r) for r in self._rows)
        while self._rows and total - len(self._rows[0]) >= keep:
            n = len(self._rows.pop(0))
            total -= n
            del self._steps[:n], self._times[:n]
            self._written_blocks, self._written = max(self._written_blocks - 1, 0), max(self._written - n, 0)
        if self._steps:
            first = self._steps[0]
            self._evals = {s: m for s, m in self._evals.items() if s >= first}

    def latest(self) -> np.ndarray | None:
        """The last flushed row (STEP_COLUMNS order), for progress lines."""
        return self._rows[-1][-1] if self._rows and len(self._rows[-1]) else None

    def record_eval(self, step: int, metrics: dict[str, float]) -> None:
        self._evals[step] = metrics

    def evaluation(self, step: int) -> dict[str, float] | None:
        """The metrics recorded for `step` by record_eval, or None."""
        return self._evals.get(step)

    def take_unwritten(self) -> list[list[float]]:
        """The flushed rows not yet handed out, as COLUMNS-ordered lists (for the journal); each row once."""
        rows = np.concatenate(self._rows[self._written_blocks:]) if len(self._rows) > self._written_blocks else []
        self._written_blocks = len(self._rows)
        out = []
        for r in rows:
            i = self._written
            step = self._steps[i]
            ev = self._evals.get(step, {})
            out.append([step, *map(float, r), self._times[i], *(float(ev.get(c, np.nan)) for c in EVAL_COLUMNS)])
            self._written += 1
        return out

    def restore(self, df: pd.DataFrame) -> None:
        """Start from the rows of an earlier, interrupted part of the run (ganlint train --resume)."""
        if not len(df):
            return
        self._rows = [df[list(STEP_COLUMNS)].to_numpy(np.float32)]
        self._steps = [int(s) for s in df["step"]]
        self._times = [float(t) for t in df["time_s"]]
        for _, r in df.iterrows():
            if any(np.isfinite(r[c]) for c in EVAL_COLUMNS):
                self._evals[int(r["step"])] = {c: float(r[c]) for c in EVAL_COLUMNS}
        self._written_blocks, self._written = 1, len(df)

    def frame(self, last_step: int | None = None) -> pd.DataFrame:
        """The telemetry table, cut after `last_step` when given (a run stopped on NaN keeps that row)."""
        rows = np.concatenate(self._rows) if self._rows else np.empty((0, len(STEP_COLUMNS)), np.float32)
        n = len(rows)
        df = pd.DataFrame(rows.astype(np.float64), columns=list(STEP_COLUMNS))
        df.insert(0, "step", np.asarray(self._steps[:n], dtype=np.int64))
        df["time_s"] = np.asarray(self._times[:n], dtype=np.float64)
        for col in EVAL_COLUMNS:
            df[col] = df["step"].map(lambda s, col=col: self._evals.get(int(s), {}).get(col, np.nan)).astype(np.float64)
        if last_step is not None:
            df = df[df["step"] <= last_step].reset_index(drop=True)
        return df[list(COLUMNS)]


class TelemetryJournal:
    """The telemetry table on disk while a run trains: rows appended as they are flushed (a CSV in COLUMNS
    order), so a run killed at any moment keeps every row flushed before the kill.

    Crash safety: each block of rows is one write() of whole lines; a write that fails (a full disk) is cut
    back to the last whole line, so the file never ends in half a row. Rows are written with repr() of
    their floats, which reads back bit for bit (what `ganlint train --resume` relies on). At the end of a
    run the trainer replaces the file with the finished table (ganlint.training.run.save_telemetry).
    """

    def __init__(self, path) -> None:
        self.path = path

    def start(self, rows: list[list[float]] | None = None) -> None:
        """Begin the file: the header, then `rows` (the kept part of an interrupted run), atomically."""
        from ganlint.files import atomic_write

        text = ",".join(COLUMNS) + "\n" + _lines(rows or [])

        def write(tmp: str) -> None:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)

        atomic_write(self.path, write)

    def append(self, rows: list[list[float]], sync: bool = False) -> None:
        """Append whole rows; `sync` also forces them to the disk (at evaluations and checkpoints)."""
        from ganlint.files import writing

        if not rows:
            return
        data = _lines(rows).encode()
        with writing(self.path):
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            try:
                size = os.fstat(fd).st_size
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                except OSError:
                    os.ftruncate(fd, size)  # no half row left behind
                    raise
                if sync:
                    os.fsync(fd)
            finally:
                os.close(fd)


def read_journal(path, up_to: int | None = None) -> pd.DataFrame:
    """The rows of a telemetry CSV (a journal or a finished table), those after step `up_to` dropped.
    A last line without its newline (a write cut short by a crash of the machine) is ignored."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    df = pd.read_csv(io.StringIO(text), dtype={c: np.float64 for c in COLUMNS if c != "step"})
    if up_to is not None:
        df = df[df["step"] <= up_to].reset_index(drop=True)
    return df


def _lines(rows: list[list[float]]) -> str:
    return "".join(",".join(repr(int(r[0])) if i == 0 else _num(v) for i, v in enumerate(r)) + "\n"
                   for r in rows)


def _num(v: float) -> str:
    return "" if v != v else repr(float(v))  # NaN as an empty field, as pandas writes it
