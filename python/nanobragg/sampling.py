"""Automatic choice of step counts and ranges, shared by both engines.

Each swept quantity (phi, horizontal and vertical divergence, spectral
dispersion, sensor thickness) is given by any two of range, step and count;
the rules below fill in the third, or pick defaults, exactly as the original
program does.  Results are in SI units (radians, metres, fractions).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from nanobragg.config import Config, as_float
from nanobragg.field_classes import shown
from nanobragg.validation import MAX_STEPS

M_1_PI = 0.31830988618379067154
RTD = 180.0 * M_1_PI
"""Degrees per radian, computed as the original computes it."""

UNSET = -1.0


class StepsOverflow(ValueError):
    """A range over a step that makes more steps than any render can take (infinitely
    many, say); :func:`resolve_sampling` names the fields that gave it."""

    def __init__(self, ratio: float):
        super().__init__(f"{ratio:g} steps")
        self.ratio = ratio


def _steps_in(span: float, step: float, rounding: Any = math.ceil, extra: float = 0.0) -> int:
    """``rounding(span / step + extra)``: the count of steps of ``step`` in ``span``."""
    ratio = span / step + extra
    if not ratio <= MAX_STEPS:
        raise StepsOverflow(ratio)
    return int(rounding(ratio))


@dataclass(frozen=True)
class Sweep:
    """A range swept in ``steps`` steps of ``step`` (units of the quantity)."""

    range: float
    step: float
    steps: int


@dataclass(frozen=True)
class Sampling:
    phi0: float
    phi: Sweep
    hdiv: Sweep
    vdiv: Sweep
    dispersion: Sweep
    thickness: Sweep
    detector_mu: float
    mosaic_spread: float
    mosaic_domains: int


def _angle(value_deg: float | None) -> float:
    return UNSET if value_deg is None else float(value_deg) / RTD


def _count(value: int | None) -> int:
    return -1 if value is None else int(value)


def phi_sweep(osc: float, step: float, steps: int, *, c_parity: bool = True) -> Sweep:
    if not c_parity and steps > 0 and step > 0.0 and osc < 0.0:
        # quirk step_overrides_count: the original turns "step and count" into 2 steps
        return Sweep(step * steps, step, steps)
    if steps < 0:
        if osc < 0.0:
            if step <= 0.0:
                return Sweep(0.0, 0.0, 1)
            return Sweep(step, step, 2)
        if step <= 0.0:
            return Sweep(osc, osc / 2.0, 2)
        return Sweep(osc, step, _steps_in(osc, step))
    if steps == 0:
        steps = 1
    if osc < 0.0:
        if step <= 0.0:
            osc = 1.0 / RTD
            return Sweep(osc, osc / steps, steps)
        return Sweep(step, step, 2)
    if step < 0.0:
        return Sweep(osc, osc / steps, steps)
    return Sweep(osc, step, steps)


def range_sweep(span: float, step: float, steps: int, *, default_span: float = 1.0,
                c_parity: bool = True) -> Sweep:
    """Divergence and dispersion: points at both ends of the range."""
    if not c_parity and step > 0.0:
        if steps > 0 and span < 0.0:
            # quirk step_overrides_count: keep the user's count
            return Sweep(step * (steps - 1), step, steps)
        if steps <= 0 and span > 0.0:
            # quirk off_centre_grid: ceil(range/step) points from -range/2 stop short of
            # +range/2; corrected, whole steps that fit, centred
            count = _steps_in(span, step, math.floor, 1e-9) + 1
            return Sweep(step * (count - 1), step, count)
    if steps <= 0:
        if span < 0.0:
            if step <= 0.0:
                return Sweep(0.0, 0.0, 1)
            return Sweep(step, step, 2)
        if step <= 0.0:
            return Sweep(span, span, 2)
        return Sweep(span, step, _steps_in(span, step))
    if span < 0.0:
        if step <= 0.0:
            # quirk divergence_count_spans_one_radian: a count alone spans default_span,
            # 1 radian of divergence, so one step is a beam tilted by half of it;
            # corrected, one step is the beam itself (resolve_sampling refuses more)
            if not c_parity:
                return Sweep(0.0, 0.0, 1)
            return Sweep(default_span, default_span / steps, steps)
        return Sweep(step, step, 2)
    if step <= 0.0:
        if steps <= 1:
            steps = 2
        return Sweep(span, span / (steps - 1), steps)
    return Sweep(span, step, steps)


def thickness_sweep(thick: float, step: float, steps: int, *, c_parity: bool = True) -> Sweep:
    if steps > 0 and thick > 0.0 and step <= 0.0 and not c_parity:
        # quirk thicksteps_overcount: the original makes each of n layers thick/(n - 1) deep,
        # so the sensor is n/(n - 1) times too thick; corrected, n layers fill it.
        return Sweep(thick, thick / steps, steps)
    if steps <= 0:
        if thick < 0.0:
            if step <= 0.0:
                return Sweep(0.0, 0.0, 1)
            return Sweep(step, step, 2)
        if step <= 0.0:
            return Sweep(thick, thick / 2, 2)
        return Sweep(thick, step, _steps_in(thick, step))
    if thick < 0.0:
        if step <= 0.0:
            thick = 0.5e-6
            return Sweep(thick, thick / steps, steps)
        return Sweep(step, step, 2)
    if step <= 0.0:
        if steps <= 1:
            steps = 2
        return Sweep(thick, thick / (steps - 1), steps)
    return Sweep(thick, step, steps)


def _sane(sweep: Sweep) -> Sweep:
    """A degenerate sweep collapses to a single point."""
    if sweep.range <= 0.0 or sweep.step <= 0.0 or sweep.steps <= 0:
        return Sweep(0.0, 0.0, 1)
    return sweep


def detector_mu(attenuation_length_um: float | None, thick: float) -> float:
    """Sensor attenuation coefficient (1/m); -1 until chosen."""
    if attenuation_length_um is None:
        mu = UNSET
    elif math.isinf(attenuation_length_um) or attenuation_length_um == 0.0:
        mu = 0.0
    else:
        # a length that is 0 in metres (below 5e-318 um) has an infinite inverse, as in
        # the original's C; Python's division by it would raise
        length_m = attenuation_length_um * 1e-6
        mu = 1.0 / length_m if length_m != 0.0 else math.inf
    if thick > 0.0 and mu < 0.0:
        mu = 1.0 / thick
    return mu


def mosaic_choice(spread: float, domains: int) -> tuple[float, int]:
    if domains <= 0:
        if spread < 0.0:
            return 0.0, 1
        return spread, 1 if spread == 0.0 else 10
    if spread < 0.0:
        return 0.0, 1
    if spread == 0.0:
        return spread, 1
    return spread, domains


def _mrad(value: float | None) -> float:
    return UNSET if value is None else float(value) / 1000.0


SWEEP_FIELDS = {
    "phi": ("crystal.osc_deg", "crystal.phi_step_deg", "-osc and -phistep"),
    "hdiv": ("beam.hdiv_range_mrad", "beam.hdiv_step_mrad", "-hdivrange and -hdivstep"),
    "vdiv": ("beam.vdiv_range_mrad", "beam.vdiv_step_mrad", "-vdivrange and -vdivstep"),
}
"""The range and step fields of each sweep whose count they may give, and their flags."""


@contextlib.contextmanager
def _named_step_counts(config: Config) -> Iterator[None]:
    """A :class:`StepsOverflow` as a ValueError naming the fields (and flags) that gave it."""
    try:
        yield
    except StepsOverflow as overflow:
        for span_name, step_name, flags in SWEEP_FIELDS.values():
            span, step = (getattr(getattr(config, group), field) for group, field
                          in (name.split(".") for name in (span_name, step_name)))
            if (span is not None and step is not None and float(step) != 0.0
                    and not abs(float(span) / float(step)) <= MAX_STEPS):
                raise ValueError(
                    f"{span_name} / {step_name}: {shown(span)} / {shown(step)} is "
                    f"{overflow.ratio:g} steps, more than the {MAX_STEPS} a render can take; "
                    f"use a coarser step ({flags})") from None
        raise


def resolve_sampling(config: Config, *, c_parity: bool = True) -> Sampling:
    crystal, beam, det = config.crystal, config.beam, config.detector
    if not c_parity:
        # quirk divergence_count_spans_one_radian: a count alone makes the original sweep
        # 1 radian (57 degrees) of divergence
        for axis in ("hdiv", "vdiv"):
            steps = getattr(beam, f"{axis}_steps")
            if (steps is not None and steps > 1 and getattr(beam, f"{axis}_range_mrad") is None
                    and getattr(beam, f"{axis}_step_mrad") is None):
                raise ValueError(
                    f"beam.{axis}_steps: {shown(steps)} divergence steps need a range or a step "
                    f"(beam.{axis}_range_mrad or beam.{axis}_step_mrad); the original "
                    "would spread them over 1 radian")
    with _named_step_counts(config):
        phi = phi_sweep(_angle(crystal.osc_deg), _angle(crystal.phi_step_deg),
                        _count(crystal.phi_steps), c_parity=c_parity)
        hdiv = range_sweep(_mrad(beam.hdiv_range_mrad), _mrad(beam.hdiv_step_mrad),
                           _count(beam.hdiv_steps), c_parity=c_parity)
        vdiv = range_sweep(_mrad(beam.vdiv_range_mrad), _mrad(beam.vdiv_step_mrad),
                           _count(beam.vdiv_steps), c_parity=c_parity)
    dispersion = range_sweep(float(beam.dispersion_pct) / 100.0, UNSET,
                             _count(beam.dispersion_steps))
    thick = thickness_sweep(float(det.thickness_um) * 1e-6, UNSET, _count(det.thickness_steps),
                            c_parity=c_parity)
    mu = detector_mu(det.attenuation_length_um, thick.range)
    if not c_parity and mu == 0.0:
        # quirk transparent_sensor_captures_nothing: an infinite attenuation length (the
        # original's "do not model absorption") gives capture fractions of 0 there
        thick = Sweep(0.0, 0.0, 1)
    spread, domains = mosaic_choice(_angle(_plain(crystal.mosaic_spread_deg)),
                                    _count(crystal.mosaic_domains))
    return Sampling(
        phi0=as_float(crystal.phi_deg) / RTD,
        phi=phi,
        hdiv=_sane(hdiv),
        vdiv=_sane(vdiv),
        dispersion=_sane(dispersion),
        thickness=_sane(thick),
        detector_mu=mu,
        mosaic_spread=spread,
        mosaic_domains=domains,
    )


def _plain(value: Any) -> float | None:
    return None if value is None else as_float(value)

