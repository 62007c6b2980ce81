"""The amorphous-scattering stage (the original ``nonBragg``) from Python.

``amorphous(AmorphousConfig(stol_file="water.stol", distance_mm=100), backend="c")``
places the detector and makes the sources with the shared ``detector_geometry`` and
``sources`` stages, then renders the scattering of the sample (water, air, a solvent:
F against sin(θ)/λ from a table) on the chosen engine.  The result holds the float image
and writes the original's files (float, SMV, PGM, noise).

nonBragg's geometry is the CUSTOM convention of nanoBragg with its own defaults: beam
along +x, fast along +z, slow along -y, the near point (Xclose, Yclose) at ((width -
pixel)/2, (height + pixel)/2) or ORGX x pixel, the beam centre there too unless given
and the detector normal always fast x slow.  Those differences live here, in the spec
this module builds (:func:`detector_spec`), not in the engines.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nanobragg import codes, engines
from nanobragg.amorphous_result import AmorphousResult
from nanobragg.config import PathName, as_float, is_tensor
from nanobragg.io import read_text_columns
from nanobragg.sampling import RTD, UNSET, StepsOverflow, Sweep, range_sweep
from nanobragg.stages import DetectorGeometry, DetectorSpec, Sources, SourceSpec
from nanobragg.stages.amorphous import (
    AVOGADRO_PER_MOL,
    R_E_SQR_M2,
    AmorphousSpec,
    StolTable,
    stol_table,
)
from nanobragg.stages.fields import to_numpy
from nanobragg.validation import MAX_SOURCES

if TYPE_CHECKING:
    from nanobragg.engines.base import Progress

__all__ = ["STOL_UNITS", "AmorphousConfig", "AmorphousResult", "amorphous"]

STOL_UNITS = {"stol": 1e10, "4stol": 1e10 / 4, "Q": 1e10 / math.pi / 4}
"""What the table's first column is (-stol, -4stol, -Q), and the factor to 1/m:
sin(θ)/λ in 1/Å, 4 sin(θ)/λ in 1/Å, Q = 4π sin(θ)/λ in 1/Å."""

MAX_PIXELS = 1 << 28
"""The most pixels a detector may have (as for simulate)."""

DEFAULT_FLUENCE_PER_M2 = 125932015286227086360700780544.0
"""The original's fluence when neither a fluence nor a flux is given."""


@dataclass(frozen=True)
class AmorphousConfig:
    """Everything nonBragg reads, in the units of the field names (defaults: the
    original's).  ``None``: not given."""

    stol_file: PathName | None = None
    """The table of F against sin(θ)/λ (two columns); or give ``stol_rows``."""
    stol_rows: Any = None
    """The table as an (n, 2) array, read instead of a file."""
    stol_unit: str = "stol"
    """The first column's quantity: one of :data:`STOL_UNITS`."""
    sample_thickness_mm: float = 0.1
    """Along the beam (x)."""
    sample_width_mm: float = 0.1
    """Along y (clipped to the beam size)."""
    sample_height_mm: float = 0.1
    """Along z (clipped to the beam size)."""
    density_g_cm3: Any = 1.0
    molecular_weight_g_mol: float = 18.0
    molecules: float | None = None
    """When given, the density follows from it."""
    wavelength_A: float = 1.0
    fluence_per_m2: Any = None
    flux_per_s: float = 0.0
    exposure_s: float = 1.0
    beam_size_mm: float = 0.1
    dispersion_pct: float = 0.0
    dispersion_steps: int | None = None
    hdiv_range_mrad: float | None = None
    hdiv_step_mrad: float | None = None
    hdiv_steps: int | None = None
    vdiv_range_mrad: float | None = None
    vdiv_step_mrad: float | None = None
    vdiv_steps: int | None = None
    round_div: bool = True
    source_file: PathName | None = None
    source_distance_mm: float = 10000.0
    distance_mm: float = 100.0
    close_distance_mm: float | None = None
    pixel_size_mm: float = 0.1
    detsize_f_mm: float = 102.4
    detsize_s_mm: float = 102.4
    fpixels: int | None = None
    spixels: int | None = None
    beam_x_mm: float | None = None
    beam_y_mm: float | None = None
    close_x_mm: float | None = None
    close_y_mm: float | None = None
    orgx_px: float | None = None
    orgy_px: float | None = None
    pivot: str = "beam"
    rotx_deg: float = 0.0
    roty_deg: float = 0.0
    rotz_deg: float = 0.0
    twotheta_deg: float = 0.0
    fdet_vector: tuple[float, float, float] = (0.0, 0.0, 1.0)
    sdet_vector: tuple[float, float, float] = (0.0, -1.0, 0.0)
    beam_vector: tuple[float, float, float] = (1.0, 0.0, 0.0)
    polar_vector: tuple[float, float, float] = (0.0, 0.0, 1.0)
    twotheta_axis: tuple[float, float, float] = (0.0, 1.0, 0.0)
    pix0_vector_m: tuple[float, float, float] | None = None
    """Ignored by the original (c_parity); corrected, the first pixel's corner."""
    curved_detector: bool = False
    point_pixel: bool = False
    polarization: float = 0.0
    nopolar: bool = False
    oversample: int | None = None
    roi: tuple[int, int, int, int] | None = None
    """(xmin, xmax, ymin, ymax), pixels, bounds included."""
    Fmap: bool = False
    phi_deg: float = 0.0
    osc_deg: float | None = None
    phi_step_deg: float | None = None
    phi_steps: int | None = None
    seed: int | None = None
    adc_offset: float = 40.0
    int_scale: float = 0.0
    pgm_scale: float = 0.0

    def __post_init__(self) -> None:
        if (self.stol_file is None) == (self.stol_rows is None):
            raise ValueError("stol_file / stol_rows: give exactly one (the table of F "
                             "against sin(theta)/lambda)")
        if self.stol_unit not in STOL_UNITS:
            raise ValueError(f"stol_unit: {self.stol_unit!r} is not valid; expected one of "
                             + ", ".join(STOL_UNITS))
        if self.pivot not in ("beam", "sample"):
            raise ValueError(f"pivot: {self.pivot!r} is not valid; expected 'beam' or 'sample'")
        for name in ("pixel_size_mm", "wavelength_A", "distance_mm"):
            value = float(getattr(self, name))
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name}: {value!r} is not valid; expected a finite number > 0")
        for name in ("sample_thickness_mm", "sample_width_mm", "sample_height_mm",
                     "molecular_weight_g_mol", "detsize_f_mm", "detsize_s_mm"):
            value = float(as_float(getattr(self, name)))
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name}: {value!r} is not valid; expected a finite number > 0")
        for name, least in (("fpixels", 0), ("spixels", 0), ("oversample", -(1 << 31))):
            # an oversample of 0 or less is 1, as in the original
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int)
                                          and least <= value <= 1 << 20):
                raise ValueError(f"{name}: {value!r} is not valid; expected a whole number "
                                 f"from {max(least, 0)} to {1 << 20}")
        *_, fpixels, spixels = detector_size(self)
        if not fpixels * spixels <= MAX_PIXELS:
            raise ValueError(f"detector: {fpixels} x {spixels} pixels (fast x slow) is more "
                             f"than the {MAX_PIXELS} a render takes; expected a smaller "
                             "detector or larger pixels")
        if self.roi is not None and (len(self.roi) != 4
                                     or not all(isinstance(v, int) for v in self.roi)):
            raise ValueError(f"roi: {self.roi!r} is not valid; expected 4 whole numbers "
                             "(xmin, xmax, ymin, ymax)")

    def replace(self, **changes: Any) -> AmorphousConfig:
        return dataclasses.replace(self, **changes)


def _m(value_mm: float | None) -> float | None:
    return None if value_mm is None else float(value_mm) / 1000.0


def _sane(sweep: Sweep) -> Sweep:
    if sweep.range <= 0.0 or sweep.step <= 0.0 or sweep.steps <= 0:
        return Sweep(0.0, 0.0, 1)
    return sweep


def _count(value: int | None) -> int:
    return -1 if value is None else int(value)


def _mrad(value: float | None) -> float:
    return UNSET if value is None else float(value) / 1000.0


def detector_size(cfg: AmorphousConfig) -> tuple[float, float, int, int]:
    """(width, height) in metres and (fast, slow) pixel counts as the original sizes
    its detector: a pixel count sets the size, the count is ceil(size / pixel)."""
    pixel = float(cfg.pixel_size_mm) / 1000.0
    width = float(cfg.detsize_f_mm) / 1000.0
    height = float(cfg.detsize_s_mm) / 1000.0
    if cfg.fpixels:
        width = pixel * cfg.fpixels
    if cfg.spixels:
        height = pixel * cfg.spixels
    counts = []
    for axis, size in (("f", width), ("s", height)):
        ratio = size / pixel
        if not ratio <= MAX_PIXELS:
            raise ValueError(f"detsize_{axis}_mm / pixel_size_mm: {size * 1000.0:g} mm in "
                             f"pixels of {pixel * 1000.0:g} mm is {ratio:g} pixels, more than "
                             f"the {MAX_PIXELS} a render takes")
        counts.append(math.ceil(ratio))
    return width, height, counts[0], counts[1]


def detector_spec(cfg: AmorphousConfig, *, c_parity: bool) -> DetectorSpec:
    """nonBragg's detector as a CUSTOM-convention spec of the shared geometry stage."""
    pixel = float(cfg.pixel_size_mm) / 1000.0
    width, height, fpixels, spixels = detector_size(cfg)
    Xclose = _m(cfg.close_x_mm)
    Yclose = _m(cfg.close_y_mm)
    if cfg.orgx_px is not None:
        Xclose = float(cfg.orgx_px) * pixel
    if cfg.orgy_px is not None:
        Yclose = float(cfg.orgy_px) * pixel
    if Xclose is None:
        Xclose = (width - pixel) / 2.0
    if Yclose is None:
        Yclose = (height + pixel) / 2.0
    sample = cfg.pivot == "sample"
    # the CUSTOM convention pivots about the sample at the beam centre it is given:
    # nonBragg pivots there about its near point
    Xbeam = Xclose if sample or cfg.beam_x_mm is None else float(cfg.beam_x_mm) / 1000.0
    Ybeam = Yclose if sample or cfg.beam_y_mm is None else float(cfg.beam_y_mm) / 1000.0
    return DetectorSpec(
        c_parity=c_parity, convention=codes.Convention.CUSTOM,
        pivot=codes.Pivot.SAMPLE if sample else codes.Pivot.BEAM,
        pixel_size_m=pixel, fpixels=fpixels, spixels=spixels,
        detsize_f_m=pixel * fpixels, detsize_s_m=pixel * spixels,
        distance_m=float(cfg.distance_mm) / 1000.0, close_distance_m=_m(cfg.close_distance_mm),
        Xbeam_m=Xbeam, Ybeam_m=Ybeam, Xclose_m=Xclose, Yclose_m=Yclose,
        ORGX_px=None, ORGY_px=None,
        rotx_rad=float(cfg.rotx_deg) / RTD, roty_rad=float(cfg.roty_deg) / RTD,
        rotz_rad=float(cfg.rotz_deg) / RTD, twotheta_rad=float(cfg.twotheta_deg) / RTD,
        fdet=np.asarray(cfg.fdet_vector, dtype=np.float64),
        sdet=np.asarray(cfg.sdet_vector, dtype=np.float64),
        # a zero normal: the geometry stage takes fast x slow, as nonBragg always does
        odet=np.zeros(3),
        beam=np.asarray(cfg.beam_vector, dtype=np.float64),
        polar=np.asarray(cfg.polar_vector, dtype=np.float64),
        spindle=np.asarray((0.0, 0.0, 1.0)),
        twotheta_axis=np.asarray(cfg.twotheta_axis, dtype=np.float64),
        pix0_m=None if cfg.pix0_vector_m is None else np.asarray(cfg.pix0_vector_m,
                                                                  dtype=np.float64),
    )


def sweeps(cfg: AmorphousConfig, *, c_parity: bool) -> tuple[Sweep, Sweep, Sweep]:
    """(hdiv, vdiv, dispersion) as nanoBragg samples them."""
    try:
        hdiv = range_sweep(_mrad(cfg.hdiv_range_mrad), _mrad(cfg.hdiv_step_mrad),
                           _count(cfg.hdiv_steps), c_parity=c_parity)
        vdiv = range_sweep(_mrad(cfg.vdiv_range_mrad), _mrad(cfg.vdiv_step_mrad),
                           _count(cfg.vdiv_steps), c_parity=c_parity)
    except StepsOverflow as overflow:
        raise ValueError(
            f"hdiv_range_mrad / hdiv_step_mrad or vdiv_range_mrad / vdiv_step_mrad: "
            f"{overflow.ratio:g} steps, more than the {MAX_SOURCES} sources a run takes; use "
            "a coarser step") from None
    dispersion = range_sweep(float(cfg.dispersion_pct) / 100.0, UNSET,
                             _count(cfg.dispersion_steps))
    points = hdiv.steps * vdiv.steps * dispersion.steps
    if points > MAX_SOURCES:
        raise ValueError(
            f"the source grid of {hdiv.steps} x {vdiv.steps} divergence x "
            f"{dispersion.steps} wavelength points is more than the {MAX_SOURCES} sources a "
            "run takes; use coarser steps (hdiv_step_mrad, vdiv_step_mrad, "
            "dispersion_steps)")
    return _sane(hdiv), _sane(vdiv), _sane(dispersion)


def source_spec(cfg: AmorphousConfig, geometry: DetectorGeometry, *,
                c_parity: bool) -> SourceSpec:
    hdiv, vdiv, dispersion = sweeps(cfg, c_parity=c_parity)
    g = to_numpy(geometry)
    return SourceSpec(
        wavelength_m=float(cfg.wavelength_A) / 1e10, beam=g.beam, polar=g.polar, vert=g.vert,
        hdiv_steps=hdiv.steps, vdiv_steps=vdiv.steps, dispersion_steps=dispersion.steps,
        hdiv_range_rad=hdiv.range, hdiv_step_rad=hdiv.step, vdiv_range_rad=vdiv.range,
        vdiv_step_rad=vdiv.step, dispersion_range=dispersion.range,
        dispersion_step=dispersion.step, round_div=bool(cfg.round_div),
        source_distance_m=float(cfg.source_distance_mm) / 1000.0)


def source_weights(sources: Sources, from_table: bool, *, c_parity: bool) -> Sources:
    """The weight each term is multiplied by: 1 for a grid; a file's weights as given
    (legacy) or scaled to a mean of 1 (corrected: quirk amorphous_source_weights)."""
    weight = np.asarray(to_numpy(sources.weight), dtype=np.float64)
    if not from_table:
        weight = np.ones_like(weight)
    elif not c_parity:
        total = float(weight.sum())
        if not (math.isfinite(total) and total > 0.0):
            raise ValueError(f"source_file: the weights sum to {total!r}; expected a "
                             "positive total")
        weight = weight * (len(weight) / total)
    return dataclasses.replace(sources, weight=weight)


def _ieee(value: Any) -> Any:
    """A plain number as a numpy float64 (IEEE arithmetic: x / 0 is inf, not an error, as
    in the original); a tensor as it is."""
    return value if is_tensor(value) else np.float64(value)


def _plain(value: Any) -> Any:
    return value if is_tensor(value) else float(value)


def sample(cfg: AmorphousConfig) -> tuple[Any, Any, Any, Any, Any, Any]:
    """(fluence, x, y, z, density g/m^3, molecules) as the original settles them: the
    fluence from flux x exposure / beam size², the sample's y and z clipped to the
    beam, the density from a molecule count when one is given."""
    beamsize = np.float64(cfg.beam_size_mm) / 1000.0
    fluence = _ieee(DEFAULT_FLUENCE_PER_M2 if cfg.fluence_per_m2 is None
                    else cfg.fluence_per_m2)
    flux, exposure = np.float64(cfg.flux_per_s), np.float64(cfg.exposure_s)
    with np.errstate(all="ignore"):
        if flux != 0.0 and exposure > 0.0 and beamsize >= 0:
            fluence = flux * exposure / beamsize / beamsize
        x = _ieee(cfg.sample_thickness_mm) / 1000
        y = _ieee(cfg.sample_width_mm) / 1000
        z = _ieee(cfg.sample_height_mm) / 1000
        if beamsize >= 0:
            if beamsize < y:
                y = beamsize
            if beamsize < z:
                z = beamsize
        volume = x * y * z
        weight = np.float64(cfg.molecular_weight_g_mol)
        density = _ieee(cfg.density_g_cm3) * 1e6
        if cfg.molecules is not None and cfg.molecules != 0:
            density = np.float64(cfg.molecules) / volume / AVOGADRO_PER_MOL * weight
        molecules = volume * density * AVOGADRO_PER_MOL / weight
    return (_plain(fluence), _plain(x), _plain(y), _plain(z), _plain(density),
            _plain(molecules))


def read_table(cfg: AmorphousConfig, *, c_parity: bool) -> StolTable:
    multiplier = STOL_UNITS[cfg.stol_unit]
    if cfg.stol_rows is not None:
        rows = np.asarray(cfg.stol_rows, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != 2 or len(rows) < 1:
            raise ValueError(f"stol_rows: expected shape (n, 2) with n >= 1, got {rows.shape}")
        return stol_table(rows, multiplier=multiplier, c_parity=c_parity, source="stol_rows")
    if c_parity:
        rows = read_text_columns(cfg.stol_file, 2)  # type: ignore[arg-type]
    else:
        rows = read_strict_table(cfg.stol_file)  # type: ignore[arg-type]
    return stol_table(rows, multiplier=multiplier, c_parity=c_parity,
                      source=str(cfg.stol_file))


def read_strict_table(path: PathName) -> np.ndarray:
    """quirk stol_table_comment_rows: a corrected reader: every line two numbers;
    comments, blank lines and anything else are errors naming the line."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise FileNotFoundError(f"{path}: {error.strerror or error}") from None
    rows = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        words = line.replace(b",", b" ").split()
        if not words:
            if line.strip() or number < data.count(b"\n") + 1:
                raise ValueError(f"{path}: line {number} is blank; expected two numbers "
                                 "(sin(theta)/lambda and F) on every line")
            continue
        try:
            values = [float(word) for word in words]
        except ValueError:
            raise ValueError(f"{path}: line {number}: {line.decode('latin-1').strip()!r} is "
                             "not two numbers (sin(theta)/lambda and F)") from None
        if len(values) != 2:
            raise ValueError(f"{path}: line {number} has {len(values)} values; expected two "
                             "(sin(theta)/lambda and F)")
        rows.append(values)
    if not rows:
        raise ValueError(f"{path}: no rows; expected lines of sin(theta)/lambda and F")
    return np.asarray(rows, dtype=np.float64)


def amorphous_spec(cfg: AmorphousConfig, geometry: DetectorGeometry, *,
                   c_parity: bool) -> AmorphousSpec:
    g = to_numpy(geometry)
    fluence, *_, molecules = sample(cfg)
    fpixels, spixels = int(g.fpixels), int(g.spixels)
    xmin, xmax, ymin, ymax = cfg.roi if cfg.roi is not None else (-1, -1, -1, -1)
    return AmorphousSpec(
        c_parity=c_parity, fpixels=fpixels, spixels=spixels, pixel_size_m=g.pixel_size_m,
        oversample=max(int(cfg.oversample or 0), 1),
        fdet=g.fdet, sdet=g.sdet, pix0_m=g.pix0_m, beam=g.beam, polar=g.polar,
        distance_m=geometry.distance_m, close_distance_m=geometry.close_distance_m,
        Fbeam_m=geometry.Fbeam_m, Sbeam_m=geometry.Sbeam_m,
        curved_detector=bool(cfg.curved_detector), point_pixel=bool(cfg.point_pixel),
        nopolar=bool(cfg.nopolar), polarization=float(cfg.polarization),
        roi_xmin=max(xmin, 0), roi_xmax=fpixels if xmax < 0 else xmax,
        roi_ymin=max(ymin, 0), roi_ymax=spixels if ymax < 0 else ymax,
        r_e_sqr_m2=R_E_SQR_M2, fluence_per_m2=fluence, molecules=molecules,
        Fmap=bool(cfg.Fmap))


def amorphous(config: AmorphousConfig, *, backend: str = "c", c_parity: bool = False,
              threads: int | None = None, device: Any = None, dtype: Any = None,
              progress: Progress | None = None, clock: int | None = None) -> AmorphousResult:
    """Render the amorphous scattering of ``config`` on ``backend`` ("c" or "torch").

    The detector and the sources come from the shared stages of the same engine; the
    torch engine computes in ``dtype`` (float64 default) on ``device``."""
    options: Any = None
    if backend == "c" and threads is not None:
        options = engines.COptions(threads=threads)
    elif backend == "torch" and (device is not None or dtype is not None):
        options = engines.TorchOptions(device=device, dtype=dtype)
    engine = engines.create(backend, options)
    table = read_table(config, c_parity=c_parity)
    geometry = engine.detector_geometry(detector_spec(config, c_parity=c_parity))
    spec_sources = source_spec(config, geometry, c_parity=c_parity)
    source_table = None
    if config.source_file is not None:
        from nanobragg.io import read_source_file

        source_table = read_source_file(config.source_file)
    sources = source_weights(engine.sources(spec_sources, source_table),
                             source_table is not None, c_parity=c_parity)
    spec = amorphous_spec(config, geometry, c_parity=c_parity)
    output = engine.amorphous(spec, sources, table, progress)
    reading = -int(time.time() if clock is None else clock)
    seed = -int(config.seed) if config.seed is not None else reading
    _, height, _, _ = detector_size(config)
    return AmorphousResult(config=config, c_parity=c_parity, geometry=to_numpy(geometry),
                           sources=to_numpy(sources), spec=to_numpy(spec),
                           table=to_numpy(table), output=to_numpy(output),
                           image_tensor=output.image if backend == "torch" else None,
                           detsize_s_m=height, extras={"seed": seed,
                                                       "source_table": source_table,
                                                       "source_spec": spec_sources})
