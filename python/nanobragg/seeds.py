"""The seeds of a run: the noise, random-misset and mosaic seeds, as the original holds
them internally (negated), and the clock readings that stand in for unset ones."""

from __future__ import annotations

import dataclasses
import time

from nanobragg.config import Config


def legacy_seeds(config: Config, *, c_parity: bool = True,
                 clock: int | None = None) -> tuple[int, int, int]:
    """(noise, misset, mosaic) seeds as the original holds them internally (negated).

    An unset noise seed comes from the clock (``clock``: seconds, default now).  An
    unset misset seed is the clock reading too in the original, even when a noise seed
    is given (quirk misset_seed_ignores_seed); corrected, it follows the noise seed.
    """
    reading = -int(time.time() if clock is None else clock)
    out = config.output
    noise = -int(out.seed) if out.seed is not None else reading
    unset_misset = reading if c_parity else noise
    misset = (-int(config.crystal.misset_seed) if config.crystal.misset_seed is not None
              else unset_misset)
    return noise, misset, -int(config.crystal.mosaic_seed)


def with_clock_seeds(config: Config, *, c_parity: bool, clock: int | None = None) -> Config:
    """The config with the seeds that would come from the clock written in, so that
    every run of it (the image, a trace of one of its pixels, another engine) draws the
    same random misset and noise."""
    noise, misset, _ = legacy_seeds(config, c_parity=c_parity, clock=clock)
    return config.replace(output=dataclasses.replace(config.output, seed=-noise),
                          crystal=dataclasses.replace(config.crystal, misset_seed=-misset))
