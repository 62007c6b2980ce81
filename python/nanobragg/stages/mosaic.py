"""mosaic_rotations: the rotation of each mosaic domain of the crystal.

``MosaicSpec`` is what the stage reads (the spread and number of domains, and the seed
of the legacy generator that draws their axes and angles), ``MosaicRotations`` what it
gives.  Mirrored by ``nb_mosaic_spec`` in ``csrc/engine/nanobragg.h``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from nanobragg.config import Config, is_tensor
from nanobragg.sampling import RTD, Sampling

if TYPE_CHECKING:
    from nanobragg.stages.fields import Array, Real


@dataclass(frozen=True)
class MosaicSpec:
    spread_rad: Real
    """Largest rotation of a domain; a tensor scales the drawn angles (its gradient)."""
    domains: int
    seed: int
    """The original's internal (negated) mosaic seed."""


@dataclass(frozen=True)
class MosaicRotations:
    umats: Array
    """(domains, 3, 3) row-major rotations; the first is the identity."""


def mosaic_spec(config: Config, sampling: Sampling, *, seed: int) -> MosaicSpec:
    spread = config.crystal.mosaic_spread_deg
    # a spread given as a tensor keeps its graph (the angles are drawn from its value)
    differentiable = is_tensor(spread) and sampling.mosaic_spread > 0
    return MosaicSpec(spread_rad=spread / RTD if differentiable else sampling.mosaic_spread,
                      domains=sampling.mosaic_domains, seed=seed)
