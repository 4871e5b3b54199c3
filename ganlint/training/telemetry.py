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

import numpy as np
import pandas as pd
import torch

STEP_COLUMNS = (
    "loss_d",
    "loss_g",
    "d_real",
    "d_fake",
    "grad_norm_g",
    "grad_norm_d",
    "update_ratio_g",
    "update_ratio_d",
    "fake_mean",
    "fake_std",
    "real_mean",
    "real_std",
)
EVAL_COLUMNS = (
    "distance",
    "diversity",
    "modes_covered",
    "high_quality",
    "mode_kl",
    "precision",
    "recall",
    "density",
    "coverage",
    "category_coverage",
)
COLUMNS = ("step", *STEP_COLUMNS, "time_s", *EVAL_COLUMNS)
# A run stops when any of these is NaN or infinite (the others follow from them).
FINITE_COLUMNS = ("loss_d", "loss_g", "grad_norm_g", "grad_norm_d")


@torch.no_grad()
def total_norm(tensors: list[torch.Tensor]) -> torch.Tensor:
    """L2 norm of all tensors together, as a 0-d tensor on their device (no host sync)."""
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
    """

    def __init__(self) -> None:
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
        norms = torch.stack(torch._foreach_norm(flat)).float()
        return (self._sums[key] @ norms.square()).sqrt()


class TelemetryRecorder:
    """Collects per-step rows on the device and evaluation rows on the host; builds the DataFrame."""

    def __init__(self, device: torch.device, flush_every: int) -> None:
        self.buffer = torch.empty(flush_every, len(STEP_COLUMNS), device=device)
        self.n = 0
        self._steps: list[int] = []
        self._times: list[float] = []
        self._rows: list[np.ndarray] = []
        self._evals: dict[int, dict[str, float]] = {}
        self._written_blocks = self._written = 0  # what take_unwritten has handed out

    @property
    def full(self) -> bool:
        return self.n == len(self.buffer)

    def record(self, step: int, time_s: float, values: dict[str, torch.Tensor]) -> None:
        """Buffer one step's values, given by column name."""
        self.record_row(step, time_s, torch.stack([values[c].detach().float().reshape(()) for c in STEP_COLUMNS]))

    def record_row(self, step: int, time_s: float, row: torch.Tensor) -> None:
        """Buffer one step's values as one vector in STEP_COLUMNS order (one device copy, no sync)."""
        self.buffer[self.n] = row
        self._steps.append(step)
        self._times.append(time_s)
        self.n += 1

    def flush(self) -> tuple[int, str] | None:
        """Copy buffered rows to the host (one sync). Returns (step, column) of the first non-finite value."""
        if self.n == 0:
            return None
        rows = self.buffer[: self.n].cpu().numpy().copy()
        self.n = 0
        self._rows.append(rows)
        idx = [STEP_COLUMNS.index(c) for c in FINITE_COLUMNS]
        bad = ~np.isfinite(rows[:, idx])
        if bad.any():
            r, c = np.argwhere(bad)[0]
            offset = sum(len(x) for x in self._rows) - len(rows)  # rows flushed before this batch
            return self._steps[offset + r], FINITE_COLUMNS[c]
        return None

    def latest(self) -> np.ndarray | None:
        """The last flushed row (STEP_COLUMNS order), for progress lines."""
        return self._rows[-1][-1] if self._rows and len(self._rows[-1]) else None

    def record_eval(self, step: int, metrics: dict[str, float]) -> None:
        self._evals[step] = metrics

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
