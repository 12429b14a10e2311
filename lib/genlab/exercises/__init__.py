"""Exercises of the theory chapters with feedback: ``exercises.check("ex-diff-constant-beta", globals())``.

Every exercise names the variables a student assigns (``answers``) and the chapter's quantities it is
computed from (``given``); the reference answer is computed here, from those quantities, by the
chapter's module (:mod:`.diffusion`, :mod:`.ebm`), so the student edition shows the check but not the
answer. :func:`check` prints ``correct`` or what is wrong (:func:`.feedback.diagnose`) and returns a
:class:`Result`; :func:`grade` runs every exercise of a chapter on a namespace (the grader's hidden
tests, :mod:`genlab.grade`). A new chapter adds its module and its lines to :data:`EXERCISES`.
"""

from __future__ import annotations

import inspect
from dataclasses import asdict, dataclass
from typing import Any, Callable

from . import diffusion, ebm
from .feedback import diagnose


@dataclass(frozen=True)
class Exercise:
    label: str  # the exercise directive's :label:
    chapter: str  # theory/<chapter>.md
    reference: Callable[..., dict[str, Any]]  # given quantities -> expected value of every answer
    rtol: float = 1e-6
    atol: float = 0.0
    points: int = 1

    @property
    def given(self) -> tuple[str, ...]:
        return tuple(inspect.signature(self.reference).parameters)


@dataclass(frozen=True)
class Result:
    label: str
    passed: bool
    message: str
    points: int  # earned
    max_points: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


EXERCISES = {ex.label: ex for ex in (
    Exercise("ex-diff-constant-beta", "diffusion", diffusion.constant_beta),
    Exercise("ex-diff-short-chain", "diffusion", diffusion.short_chain),
    Exercise("ex-diff-posterior-bound", "diffusion", diffusion.posterior_bound, rtol=0),
    Exercise("ex-diff-conversions", "diffusion", diffusion.conversions, rtol=1e-6, atol=1e-9),
    Exercise("ex-diff-ddim-inversion", "diffusion", diffusion.ddim_inversion, rtol=1e-6, atol=1e-12),
    Exercise("ex-ebm-gaussian-z", "ebm", ebm.gaussian_z),
    Exercise("ex-ebm-mle", "ebm", ebm.mle),
    Exercise("ex-ebm-langevin-step", "ebm", ebm.langevin_step),
    Exercise("ex-ebm-min-energy-image", "ebm", ebm.min_energy_image, rtol=1e-6, atol=1e-8),
    Exercise("ex-ebm-temperature", "ebm", ebm.temperature),
)}


def chapter_exercises(chapter: str) -> list[Exercise]:
    found = [ex for ex in EXERCISES.values() if ex.chapter == chapter]
    if not found:
        chapters = sorted({ex.chapter for ex in EXERCISES.values()})
        raise ValueError(f"chapter '{chapter}' has no exercises here; chapters with exercises: {', '.join(chapters)}")
    return found


def evaluate(label: str, namespace: dict[str, Any]) -> Result:
    """Check exercise ``label`` against the variables in ``namespace`` (a notebook's ``globals()``)."""
    if label not in EXERCISES:
        raise ValueError(f"exercise '{label}' unknown; known: {', '.join(EXERCISES)}")
    ex = EXERCISES[label]
    missing = [name for name in ex.given if name not in namespace]
    if missing:
        return Result(label, False, f"the chapter's {', '.join(missing)} not defined: run the chapter's cells "
                                    f"above this exercise first", 0, ex.points)
    try:
        want = ex.reference(**{name: namespace[name] for name in ex.given})
    except Exception as exc:  # the chapter's quantities were changed into something unusable
        return Result(label, False, f"could not compute the reference from {', '.join(ex.given)} "
                                    f"({type(exc).__name__}: {exc}): restore them as the chapter sets them", 0, ex.points)
    problems = [p for name, value in want.items() if (p := diagnose(name, namespace.get(name), value, ex.rtol, ex.atol))]
    if problems:
        return Result(label, False, "; ".join(problems), 0, ex.points)
    return Result(label, True, "correct", ex.points, ex.points)


def check(label: str, namespace: dict[str, Any]) -> Result:
    """The check at the end of an exercise: prints ``correct`` or what is wrong, never the answer."""
    result = evaluate(label, namespace)
    print(f"{'correct' if result.passed else 'not yet'}: {label}" + ("" if result.passed else f": {result.message}"))
    return result


def grade(namespace: dict[str, Any], chapter: str) -> list[Result]:
    """Every exercise of ``chapter`` on ``namespace``: the grader's hidden tests."""
    return [evaluate(ex.label, namespace) for ex in chapter_exercises(chapter)]
