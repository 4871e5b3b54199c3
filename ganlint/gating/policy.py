"""`--fail-on`: which diagnoses fail a CI gate, and with which exit code.

    policy = parse_fail_on("collapsed,vanishing-gradient")
    code = policy.exit_code(diagnosis)              # 0 passes, 1 fails, 3 inconclusive
    if code:
        print("\\n".join(policy.reasons(diagnosis)), file=sys.stderr)

A gate looks at three things, kept apart because they answer different questions:

- labels: *what is wrong with the run* (the engine's verdict). A failure label fails the gate when it is
  the primary label or one of `other_labels` (a run labelled vanishing-gradient whose samples have also
  collapsed fails `--fail-on collapsed`: the user asked whether the run collapsed, and it did).
- inconclusive: *nothing decisive could be judged* (a loss-only log, too few rows). It is neither a
  failure nor a pass, so it has an exit code of its own (3), and the default gate fails on it: a gate
  never passes on no evidence. Leaving `inconclusive` out of the spec ("any,error") lets such a run
  pass, and the CLI says on stderr that it passed without evidence.
- finding statuses: *how strict to be about the evidence*. `warn` and `fail` let a gate trip on a
  single check before the engine would name a label; `error` (a check that crashed) means the verdict
  rests on less evidence than it claims, which a gate must not mistake for a pass.

A failure outranks inconclusive: a diagnosis with any other reason to fail exits 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ganlint.diagnostics.findings import Diagnosis
from ganlint.errors import ConfigError
from ganlint.vocabulary import ERROR, FAIL, FAILURE_LABELS, INCONCLUSIVE, LABELS, PASSING_LABEL, WARN

# The labels that say the run is unhealthy (`any` in a spec).
FAILING_LABELS = frozenset(FAILURE_LABELS)
# The labels a gate can hold: the failure labels and inconclusive (stable, the passing verdict, never fails).
GATE_LABELS = frozenset((*FAILURE_LABELS, INCONCLUSIVE))
# The statuses a gate can trip on; pass and not-assessable never do.
GATE_STATUSES = (WARN, FAIL, ERROR)
# The items --fail-on accepts besides the labels (in the order they are documented and listed).
KEYWORDS = ("any", "none", *GATE_STATUSES)
# Exit codes of a gated diagnosis: the same numbers as the CLI's EXIT_OK, EXIT_FAILING and EXIT_NOTHING
# (ganlint.cli), kept here so that the library, the CLI and the pytest plugin agree without importing the CLI.
EXIT_PASSED, EXIT_FAILED, EXIT_INCONCLUSIVE = 0, 1, 3


@dataclass(frozen=True)
class FailPolicy:
    """What fails the gate.

    Attributes:
        labels: labels that fail the gate when the run has them (primary or among other_labels); a
            subset of the failure labels and inconclusive (ganlint.vocabulary).
        statuses: finding statuses that fail the gate when any finding has one; a subset of
            warn, fail, error.
    """

    labels: frozenset[str]
    statuses: frozenset[str]

    def __post_init__(self) -> None:
        # Accept any iterable (a set, a list) but keep the policy hashable and immutable.
        object.__setattr__(self, "labels", frozenset(self.labels))
        object.__setattr__(self, "statuses", frozenset(self.statuses))
        bad = sorted(set(self.labels) - GATE_LABELS) + sorted(set(self.statuses) - set(GATE_STATUSES))
        if bad:
            raise ConfigError(f"a FailPolicy takes labels from {', '.join(x for x in LABELS if x in GATE_LABELS)} "
                              f"and statuses from {', '.join(GATE_STATUSES)}; got {', '.join(map(repr, bad))}")

    @property
    def fails_inconclusive(self) -> bool:
        """Whether an inconclusive verdict fails the gate (exit 3) rather than passing without evidence."""
        return INCONCLUSIVE in self.labels

    def fails(self, d: Diagnosis) -> bool:
        """True when the diagnosis does not pass the gate (exit code 1 or 3)."""
        return self.exit_code(d) != EXIT_PASSED

    def exit_code(self, d: Diagnosis) -> int:
        """The gate's exit code for the diagnosis: 1 when it fails (a failure label the gate includes, or a
        finding whose status it includes), else 3 when the verdict is inconclusive and the gate fails on
        that, else 0. A failure outranks inconclusive."""
        if self._failures(d):
            return EXIT_FAILED
        if d.label == INCONCLUSIVE and self.fails_inconclusive:
            return EXIT_INCONCLUSIVE
        return EXIT_PASSED

    def passed_without_evidence(self, d: Diagnosis) -> bool:
        """True when the gate passes an inconclusive verdict (the spec leaves `inconclusive` out): the CLI
        says so on stderr, since nothing showed the run healthy."""
        return d.label == INCONCLUSIVE and self.exit_code(d) == EXIT_PASSED

    def reasons(self, d: Diagnosis) -> list[str]:
        """One line per reason the gate does not pass, for messages; empty when it passes.

        The labels come first (the primary one, then other_labels that the gate includes), then each
        finding whose status the gate includes, in the diagnosis's order; an inconclusive verdict that
        the gate fails on is one line naming what to record to decide.
        """
        out = []
        if d.label == INCONCLUSIVE and self.fails_inconclusive:
            out.append(inconclusive_reason(d))
        return out + self._failures(d)

    def _failures(self, d: Diagnosis) -> list[str]:
        out = []
        if d.label in self.labels and d.label != INCONCLUSIVE:
            onset = f", onset {d.onset_text}" if d.onset_text else ""
            out.append(f"label is {d.label} (confidence {d.confidence:.2f}{onset})")
        out.extend(f"{label} also holds" for label in d.other_labels
                   if label in self.labels and label not in (d.label, INCONCLUSIVE))
        for f in d.findings:
            if f.status in self.statuses:
                value = f" [{_num(f.value)} vs {_num(f.threshold)}]" if f.value is not None else ""
                out.append(f"{f.status} {f.check}: {f.message}{value}")
        return out

    def to_spec(self) -> str:
        """The canonical --fail-on string; parse_fail_on(p.to_spec()) == p (the default is
        'any,inconclusive,error')."""
        if not self.labels and not self.statuses:
            return "none"
        failing = self.labels & FAILING_LABELS
        labels = ["any"] if failing == FAILING_LABELS else [x for x in LABELS if x in failing]
        if self.fails_inconclusive:
            labels.append(INCONCLUSIVE)
        return ",".join(labels + [s for s in GATE_STATUSES if s in self.statuses])


def inconclusive_reason(d: Diagnosis) -> str:
    """The line that says a verdict is inconclusive and what would decide it."""
    needs = f"; to decide, record: {'; '.join(d.needs)}" if d.needs else ""
    return f"label is {INCONCLUSIVE}: nothing decisive could be judged, no failure and no evidence of health{needs}"


DEFAULT_POLICY = FailPolicy(labels=GATE_LABELS, statuses=frozenset({ERROR}))


def valid_items() -> list[str]:
    """Every item --fail-on accepts, in the order messages list them."""
    return [*KEYWORDS, *(x for x in LABELS if x in GATE_LABELS)]


def parse_fail_on(spec: str | Sequence[str] | None) -> FailPolicy:
    """The FailPolicy for a --fail-on value.

    `spec` is None (the default), a comma-separated string, or a list of such strings (a TOML list, or a
    repeated flag). Items are trimmed and case-insensitive; each one adds to what fails the gate:

    - None: every failure label fails (exit 1), and so does a crashed check (status error); an
      inconclusive verdict fails too, with exit code 3. Same as "any,inconclusive,error".
    - a failure label (ganlint.vocabulary.FAILURE_LABELS: diverged, ..., still-weak): the run fails when
      it has that label, as its primary label or among other_labels. Labels alone fail on those labels
      only: "collapsed" passes a run whose checks crashed; write "collapsed,error" to fail on crashes
      too. `stable` is refused (it is the passing verdict).
    - `inconclusive`: an inconclusive verdict (no failure, no evidence of health) fails with exit code 3.
      Leave it out ("any,error") to let such a run pass; the CLI then says it passed without evidence.
    - `any`: every failure label (not inconclusive).
    - `warn`: stricter than the default: any finding with status warn or fail fails, and so does every
      failure label, inconclusive and a crashed check ("warn" = "any,inconclusive,warn,fail,error").
    - `fail`: any finding with status fail fails (a single failing check, even one the engine did not
      turn into a label), plus the default ("fail" = "any,inconclusive,fail,error").
    - `error`: a crashed check fails; adds no labels ("error" alone fails only on crashed checks).
    - `none`: nothing fails (report only). It must stand alone.

    Examples: "collapsed,vanishing-gradient" fails only on those two labels; "warn" is the default plus
    warnings; "collapsed,warn" is the same as "warn" (warn already includes every label).

    Raises:
        ConfigError: an empty spec, an unknown item (the message lists the valid ones), `stable`, or
            `none` combined with anything else.
    """
    if spec is None:
        return DEFAULT_POLICY
    parts = [spec] if isinstance(spec, str) else list(spec)
    if not all(isinstance(p, str) for p in parts):
        raise ConfigError(f"--fail-on takes a string or a list of strings, got {spec!r}")
    items = [item.strip().lower() for part in parts for item in part.split(",") if item.strip()]
    valid = valid_items()
    if not items:
        raise ConfigError(f"--fail-on is empty; give one or more of: {', '.join(valid)}")
    unknown = [item for item in items if item not in valid]
    if unknown:
        hint = (f" ({PASSING_LABEL} is the passing label; it cannot fail the gate)"
                if PASSING_LABEL in unknown else "")
        raise ConfigError(f"unknown --fail-on item(s) {', '.join(map(repr, unknown))}{hint}; "
                          f"valid: {', '.join(valid)}")
    if "none" in items:
        if set(items) != {"none"}:
            raise ConfigError(f"--fail-on none (report only) cannot be combined with other items, got {spec!r}")
        return FailPolicy(frozenset(), frozenset())
    labels: set[str] = {x for x in items if x in GATE_LABELS}
    statuses: set[str] = set()
    if "any" in items:
        labels |= FAILING_LABELS
    if "warn" in items:
        statuses |= {WARN, FAIL, ERROR}
        labels |= GATE_LABELS
    if "fail" in items:
        statuses |= {FAIL, ERROR}
        labels |= GATE_LABELS
    if "error" in items:
        statuses.add(ERROR)
    return FailPolicy(frozenset(labels), frozenset(statuses))


def _num(v: float | None) -> str:
    return "nan" if v is None else f"{v:.4g}"
