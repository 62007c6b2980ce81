"""``nanobragg.Series``: a dataset described in one small file.

A series is a base :class:`~nanobragg.Config` (one image, written as its nanoBragg
command line), the engine that renders it, the series seed, and what varies from image
to image: a rotation :class:`Sweep` or a set of :class:`Stills`.  An optional
amorphous background (:class:`~nanobragg.AmorphousConfig`, the ``nonBragg`` stage) is
added to every image's photons, and an optional detector response
(:class:`~nanobragg.ResponseConfig`, the ``noisify`` stage) turns them into counts.

``image_config(i)`` is image ``i``'s own Config; every random number of an image comes
from ``numpy.random.SeedSequence([seed, i])`` (:meth:`Series.image_seeds`), so an image
is the same whichever process makes it, in whatever order.  ``to_toml``/``from_toml`` and
``to_json``/``from_json`` write and read the description; ``fingerprint()`` names it.
``specs/series.md`` says what each field means.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np

from nanobragg.amorphous_scattering import AmorphousConfig
from nanobragg.config import Config, is_tensor
from nanobragg.response import ResponseConfig
from nanobragg.series.orientation import matrix_to_misset_deg, random_rotation

__all__ = ["ImageSeeds", "Series", "Stills", "Sweep", "background_from_flags",
           "response_from_flags"]

DESCRIPTION_VERSION = 1
"""The version of the file layout ``to_toml``/``to_json`` write."""
BACKENDS = ("c", "torch")
DTYPES = ("float32", "float64")
MAX_SEED = 2**31 - 1
"""Per-image seeds are drawn from 1 to this (the legacy generator's range)."""

Triple: TypeAlias = tuple[float, float, float]


def _fail(field: str, value: Any, accepted: str) -> ValueError:
    return ValueError(f"{field}: {value!r} is not valid; expected {accepted}")


def _whole(field: str, value: Any, least: int = 0, most: int = 2**63 - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise _fail(field, value, f"a whole number from {least} to {most}")
    if not least <= int(value) <= most:
        raise _fail(field, value, f"a whole number from {least} to {most}")
    return int(value)


def _finite(field: str, value: Any, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise _fail(field, value, "a finite number" + (" > 0" if positive else ""))
    number = float(value)
    if not math.isfinite(number) or (positive and number <= 0.0):
        raise _fail(field, value, "a finite number" + (" > 0" if positive else ""))
    return number


def _path(field: str, value: Any) -> str:
    if not isinstance(value, str | os.PathLike):
        raise _fail(field, value, "a file name")
    return os.fspath(value)


def _triples(field: str, values: Any, images: int) -> tuple[Triple, ...] | None:
    if values is None:
        return None
    rows = np.asarray(values, dtype=object)
    if rows.shape != (images, 3):
        raise ValueError(f"{field}: expected {images} rows of 3 numbers (one a shot), got "
                         f"shape {rows.shape}")
    return tuple((_finite(field, a), _finite(field, b), _finite(field, c)) for a, b, c in rows)


@dataclass(frozen=True)
class Sweep:
    """A rotation sweep: image ``i`` integrates phi from ``start_deg + i * osc_deg`` to
    ``start_deg + (i + 1) * osc_deg`` in the base Config's phi steps, exactly as
    ``nanoBragg -phi START+i*OSC -osc OSC`` makes it alone."""

    start_deg: float
    osc_deg: float
    images: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "start_deg", _finite("sweep.start_deg", self.start_deg))
        object.__setattr__(self, "osc_deg", _finite("sweep.osc_deg", self.osc_deg,
                                                    positive=True))
        object.__setattr__(self, "images", _whole("sweep.images", self.images, 1))

    def phi_start_deg(self, index: int) -> float:
        return float(self.start_deg) + index * float(self.osc_deg)


@dataclass(frozen=True)
class Stills:
    """Still shots: one orientation each, without rotation (at the base Config's phi).

    The orientation is random, uniform over all rotations, from ``orientation_seed`` and
    the image index; or one misset (x, y, z angles, degrees, as ``-misset``) a shot; or
    one rotation matrix a shot (applied to the crystal as a misset is); or, with none of
    the three, the base Config's own.  The other lists, when given, hold one entry a
    shot and replace the base Config's value."""

    images: int
    orientation_seed: int | None = None
    missets_deg: tuple[Triple, ...] | None = None
    matrices: tuple[tuple[Triple, Triple, Triple], ...] | None = None
    N_cells: tuple[Triple, ...] | None = None
    """Unit cells along a, b, c (``-N``)."""
    crystal_size_mm: tuple[Triple, ...] | None = None
    """Crystal size along x, y, z (``-xtalsize``; sets the N)."""
    fluence: tuple[float, ...] | None = None
    """Photons per square metre (``-fluence``)."""
    source_paths: tuple[str, ...] | None = None
    """A source (spectrum) file a shot (``-sourcefile``)."""

    def __post_init__(self) -> None:
        images = _whole("stills.images", self.images, 1)
        given = [name for name in ("orientation_seed", "missets_deg", "matrices")
                 if getattr(self, name) is not None]
        if len(given) > 1:
            raise ValueError(f"stills.{given[1]}: give one of orientation_seed, missets_deg "
                             f"and matrices, not {' and '.join(given)}")
        if self.orientation_seed is not None:
            _whole("stills.orientation_seed", self.orientation_seed)
        set_ = object.__setattr__
        set_(self, "missets_deg", _triples("stills.missets_deg", self.missets_deg, images))
        set_(self, "N_cells", _triples("stills.N_cells", self.N_cells, images))
        set_(self, "crystal_size_mm", _triples("stills.crystal_size_mm", self.crystal_size_mm,
                                               images))
        if self.matrices is not None:
            stack = np.asarray(self.matrices, dtype=np.float64)
            if stack.shape != (images, 3, 3) or not np.isfinite(stack).all():
                raise ValueError(f"stills.matrices: expected {images} finite 3 x 3 rotation "
                                 f"matrices (one a shot), got shape {stack.shape}")
            for i, matrix in enumerate(stack):
                if (not np.allclose(matrix @ matrix.T, np.eye(3), atol=1e-6)
                        or np.linalg.det(matrix) < 0):
                    raise ValueError(f"stills.matrices[{i}]: not a rotation (orthonormal "
                                     "with determinant +1)")
            set_(self, "matrices", tuple(tuple(tuple(float(v) for v in row) for row in m)
                                         for m in stack))
        for name in ("fluence", "source_paths"):
            values = getattr(self, name)
            if values is None:
                continue
            if (isinstance(values, str | bytes | os.PathLike)
                    or not isinstance(values, Sequence | np.ndarray) or len(values) != images):
                raise ValueError(f"stills.{name}: expected {images} values (one a shot), got "
                                 f"{values!r}")
            if name == "fluence":
                set_(self, name, tuple(_finite("stills.fluence", v, positive=True)
                                       for v in values))
            else:
                set_(self, name, tuple(_path("stills.source_paths", v) for v in values))

    def misset_deg(self, index: int) -> Triple | None:
        """Shot ``index``'s misset angles, or None for the base Config's orientation."""
        if self.missets_deg is not None:
            return self.missets_deg[index]
        if self.matrices is not None:
            return matrix_to_misset_deg(np.asarray(self.matrices[index]))
        if self.orientation_seed is not None:
            rng = np.random.default_rng(np.random.SeedSequence([self.orientation_seed, index]))
            return matrix_to_misset_deg(random_rotation(rng))
        return None


@dataclass(frozen=True)
class ImageSeeds:
    """One image's seeds, each from 1 to 2^31 - 1."""

    noise: int
    """The render's noise image (``-seed``)."""
    mosaic: int
    """The mosaic domains (``-mosaic_seed``): a still's own crystal; a sweep keeps the
    base Config's, since every image of a sweep shows the same crystal."""
    response: int
    """The detector response's noise (``noisify -seed``)."""


@dataclass(frozen=True)
class Series:
    """A dataset: a base Config, the engine, the seed and what varies per image."""

    config: Config
    scan: Sweep | Stills
    seed: int = 0
    """Every image's random numbers come from it and the image index."""
    backend: str = "c"
    c_parity: bool = False
    device: str | None = None
    """torch only: cpu, cuda, cuda:N (None: the engine's default)."""
    dtype: str | None = None
    """torch only: float32 or float64."""
    background: AmorphousConfig | None = None
    """Amorphous scattering added to every image (same detector; see render)."""
    response: ResponseConfig | None = None
    """The detector response that turns photons into counts."""

    def __post_init__(self) -> None:
        self.validate()

    @property
    def images(self) -> int:
        return int(self.scan.images)

    def validate(self) -> None:
        """One-line ValueError (TypeError for a wrong type) naming the first bad field."""
        if not isinstance(self.config, Config):
            raise TypeError(f"config: expected a nanobragg.Config, got {self.config!r}")
        if not isinstance(self.scan, Sweep | Stills):
            raise TypeError(f"scan: expected a Sweep or Stills, got {self.scan!r}")
        _whole("seed", self.seed)
        if self.backend not in BACKENDS:
            raise _fail("backend", self.backend, "'c' or 'torch'")
        if not isinstance(self.c_parity, bool):
            raise _fail("c_parity", self.c_parity, "True or False")
        for name, accepted in (("device", "a torch device name such as 'cpu' or 'cuda:0'"),
                               ("dtype", "'float32' or 'float64'")):
            value = getattr(self, name)
            if value is None:
                continue
            if self.backend != "torch":
                raise ValueError(f"{name}: {value!r} is for the torch engine; the series uses "
                                 f"backend {self.backend!r}")
            if not isinstance(value, str) or (name == "dtype" and value not in DTYPES):
                raise _fail(name, value, accepted)
        for name, cls in (("background", AmorphousConfig), ("response", ResponseConfig)):
            value = getattr(self, name)
            if value is not None and not isinstance(value, cls):
                raise TypeError(f"{name}: expected a nanobragg.{cls.__name__} or None, got "
                                f"{value!r}")
        if self.response is not None:
            from nanobragg.response import validate_response

            try:
                validate_response(self.response, c_parity=self.c_parity)
            except (TypeError, ValueError) as error:
                raise type(error)(f"response.{error}") from None
            if self.response.seed is not None:
                raise ValueError(f"response.seed: {self.response.seed!r} is set by the series "
                                 "from its seed and the image index; leave it out")
        crystal, output = self.config.crystal, self.config.output
        if output.seed is not None:
            raise ValueError(f"config.output.seed: {output.seed!r} is set by the series from "
                             "its seed and the image index; leave -seed out")
        if isinstance(self.scan, Sweep):
            for name, given, default in (("phi_deg", crystal.phi_deg, 0.0),
                                         ("osc_deg", crystal.osc_deg, None)):
                if given is not None and given != default:
                    raise ValueError(f"config.crystal.{name}: {given!r} is set by the sweep "
                                     "(start_deg, osc_deg); leave -phi and -osc out")
        elif crystal.misset_random and (self.scan.orientation_seed is not None
                                        or self.scan.missets_deg is not None
                                        or self.scan.matrices is not None):
            raise ValueError("config.crystal.misset_random: the stills give each shot its "
                             "orientation; leave -misset random out")
        self.config.validate()

    # ------------------------------------------------------------------ images

    def image_seeds(self, index: int) -> ImageSeeds:
        """Image ``index``'s seeds, from ``SeedSequence([seed, index])`` only."""
        self._check_index(index)
        words = np.random.SeedSequence([self.seed, index]).generate_state(3, dtype=np.uint64)
        noise, mosaic, response = (1 + int(w) % MAX_SEED for w in words)
        if isinstance(self.scan, Sweep):
            mosaic = int(self.config.crystal.mosaic_seed)
        return ImageSeeds(noise=noise, mosaic=mosaic, response=response)

    def image_config(self, index: int) -> Config:
        """Image ``index``'s own Config (its scan point, seeds and per-shot values)."""
        seeds = self.image_seeds(index)
        config = self.config
        crystal = dataclasses.replace(config.crystal, mosaic_seed=seeds.mosaic)
        beam = config.beam
        if isinstance(self.scan, Sweep):
            crystal = dataclasses.replace(crystal, phi_deg=self.scan.phi_start_deg(index),
                                          osc_deg=float(self.scan.osc_deg))
            if crystal.misset_random and crystal.misset_seed is None:
                # one crystal for the whole sweep: its random misset from the series seed
                crystal = dataclasses.replace(crystal, misset_seed=self._sweep_misset_seed())
        else:
            stills = self.scan
            crystal = dataclasses.replace(crystal, osc_deg=0.0, phi_steps=None,
                                          phi_step_deg=None)
            misset = stills.misset_deg(index)
            if misset is not None:
                crystal = dataclasses.replace(crystal, misset_deg=misset, misset_random=False)
            elif crystal.misset_random and crystal.misset_seed is None:
                crystal = dataclasses.replace(crystal, misset_seed=seeds.mosaic)
            if stills.N_cells is not None:
                crystal = dataclasses.replace(crystal, N_cells=stills.N_cells[index])
            if stills.crystal_size_mm is not None:
                crystal = dataclasses.replace(crystal, size_mm=stills.crystal_size_mm[index])
            if stills.fluence is not None:
                beam = dataclasses.replace(beam, fluence=stills.fluence[index])
            if stills.source_paths is not None:
                beam = dataclasses.replace(beam, source_path=stills.source_paths[index])
        output = dataclasses.replace(config.output, seed=seeds.noise)
        return config.replace(crystal=crystal, beam=beam, output=output)

    def _sweep_misset_seed(self) -> int:
        word = np.random.SeedSequence([self.seed]).generate_state(1, dtype=np.uint64)[0]
        return 1 + int(word) % MAX_SEED

    def _check_index(self, index: int) -> None:
        if isinstance(index, bool) or not isinstance(index, int | np.integer) \
                or not 0 <= int(index) < self.images:
            raise ValueError(f"index: {index!r} is not an image of the series; expected 0 to "
                             f"{self.images - 1}")

    # ------------------------------------------------------------------ files

    def to_dict(self) -> dict[str, Any]:
        """The description as plain TOML/JSON values (what the files hold)."""
        table: dict[str, Any] = {"version": DESCRIPTION_VERSION, "seed": int(self.seed),
                                 "backend": self.backend, "c_parity": self.c_parity}
        for name in ("device", "dtype"):
            if getattr(self, name) is not None:
                table[name] = getattr(self, name)
        try:
            table["config"] = shlex.join(self.config.to_cli())
        except ValueError as error:
            raise ValueError(f"config: cannot be written as nanoBragg flags ({error}); keep "
                             "in-memory arrays in files (-hkl, -mat, -sourcefile, -mask)"
                             ) from None
        kind = "sweep" if isinstance(self.scan, Sweep) else "stills"
        table[kind] = fields_table(self.scan, kind)
        for name in ("background", "response"):
            value = getattr(self, name)
            if value is not None:
                table[name] = fields_table(value, name)
        return table

    @classmethod
    def from_dict(cls, table: Mapping[str, Any]) -> Series:
        """The series a :meth:`to_dict` table describes (ValueError naming a bad key)."""
        if not isinstance(table, Mapping):
            raise ValueError(f"series: expected a table, got {table!r}")
        known = {"version", "seed", "backend", "c_parity", "device", "dtype", "config", "sweep",
                 "stills", "background", "response"}
        unknown = sorted(set(table) - known)
        if unknown:
            raise ValueError(f"series: unknown key {unknown[0]!r}; expected "
                             f"{', '.join(sorted(known))}")
        if table.get("version", DESCRIPTION_VERSION) != DESCRIPTION_VERSION:
            raise _fail("version", table["version"], str(DESCRIPTION_VERSION))
        argv = table.get("config")
        if isinstance(argv, str):
            try:
                argv = shlex.split(argv)
            except ValueError as error:
                raise ValueError(f"config: {error} in {argv!r}") from None
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            raise _fail("config", argv, "the base image's nanoBragg arguments (a string, or "
                        "a list of strings)")
        if ("sweep" in table) == ("stills" in table):
            raise ValueError("series: give exactly one of [sweep] and [stills]")
        scan: Sweep | Stills = (_from_table(Sweep, table["sweep"], "sweep") if "sweep" in table
                                else _from_table(Stills, table["stills"], "stills"))
        extras = {name: _from_table(kind, table[name], name)
                  for name, kind in (("background", AmorphousConfig),
                                     ("response", ResponseConfig)) if name in table}
        try:
            config = Config.from_cli(argv)
        except ValueError as error:  # UsageError too
            raise ValueError(f"config: {error}") from None
        return cls(config=config, scan=scan, seed=table.get("seed", 0),
                   backend=table.get("backend", "c"), c_parity=table.get("c_parity", False),
                   device=table.get("device"), dtype=table.get("dtype"), **extras)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Series:
        try:
            table = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"series JSON: {error}") from None
        return cls.from_dict(table)

    def to_toml(self) -> str:
        try:
            import tomli_w
        except ImportError:
            raise ModuleNotFoundError("writing TOML needs tomli-w: pip install "
                                      "nanobragg[series]") from None
        return tomli_w.dumps({"series": self.to_dict()})

    @classmethod
    def from_toml(cls, text: str) -> Series:
        import tomllib

        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"series TOML: {error}") from None
        if set(document) != {"series"}:
            raise ValueError("series TOML: expected one [series] table, got "
                             f"{sorted(document) or 'nothing'}")
        return cls.from_dict(document["series"])

    def fingerprint(self) -> str:
        """SHA-256 of the canonical description (in-memory arrays by their bytes): what
        the manifest of an output folder records, so that images of two different series
        are never mixed."""
        try:
            table = self.to_dict()
        except ValueError:
            table = {**dataclasses.replace(self, config=_without_arrays(self.config))
                     .to_dict(), "arrays": _array_digests(self.config)}
        contents = self._input_digests()
        if contents:
            table = {**table, "file_contents": contents}
        canonical = json.dumps(table, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def _input_digests(self) -> dict[str, str]:
        """SHA-256 of each input file the description names that exists here (HKL,
        matrix, source, mask, stol tables; not Fdump.bin, which runs write), so that a
        file edited between two runs makes another series."""
        config = self.config
        named = {f"{group}.{name}": getattr(getattr(config, group), name)
                 for group, name in _INPUT_FILES}
        if isinstance(self.scan, Stills) and self.scan.source_paths is not None:
            named.update({f"stills.source_paths[{i}]": path
                          for i, path in enumerate(self.scan.source_paths)})
        if self.background is not None:
            named.update({f"background.{name}": getattr(self.background, name)
                          for name in ("stol_file", "source_file")})
        digests = {}
        for key, path in named.items():
            if path is not None and os.path.isfile(path):
                with open(path, "rb") as handle:
                    digests[key] = hashlib.file_digest(handle, "sha256").hexdigest()
        return digests


_INPUT_FILES = (("crystal", "matrix_path"), ("structure_factors", "hkl_path"),
                ("structure_factors", "stol_path"), ("beam", "source_path"),
                ("detector", "mask_path"))


_IN_MEMORY = (("crystal", "mosflm_matrix"), ("structure_factors", "structure_factors"),
              ("beam", "sources"), ("detector", "mask"))


def _without_arrays(config: Config) -> Config:
    groups = {group: dataclasses.replace(getattr(config, group), **{name: None})
              for group, name in _IN_MEMORY if getattr(getattr(config, group), name) is not None}
    return config.replace(**groups)


def _array_digests(config: Config) -> dict[str, str]:
    digests = {}
    for group, name in _IN_MEMORY:
        value = getattr(getattr(config, group), name)
        if value is None:
            continue
        if not isinstance(value, np.ndarray) and hasattr(value, "__dataclass_fields__"):
            value = [np.asarray(getattr(value, f.name)) for f in dataclasses.fields(value)
                     if isinstance(getattr(value, f.name), np.ndarray)]
        arrays = value if isinstance(value, list) else [np.asarray(value)]
        digest = hashlib.sha256()
        for array in arrays:
            digest.update(str(array.dtype).encode() + str(array.shape).encode())
            digest.update(np.ascontiguousarray(array).tobytes())
        digests[f"{group}.{name}"] = digest.hexdigest()
    return digests


def _plain(value: Any, where: str) -> Any:
    """A field value as TOML/JSON data (tuples and arrays as lists, paths as str)."""
    if is_tensor(value):
        raise ValueError(f"{where}: a tensor cannot be written; give a number")
    if isinstance(value, np.ndarray):
        return _plain(value.tolist(), where)
    if isinstance(value, tuple | list):
        return [_plain(v, where) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def fields_table(obj: Any, where: str) -> dict[str, Any]:
    """The fields of a dataclass that differ from their defaults."""
    table = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        default = f.default if f.default is not dataclasses.MISSING else None
        if value is None or (not isinstance(value, np.ndarray) and value == default):
            if value is None and default is not None:
                raise ValueError(f"{where}.{f.name}: None cannot be written (its default is "
                                 f"{default!r})")
            continue
        table[f.name] = _plain(value, f"{where}.{f.name}")
    return table


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _from_table(cls: type[Any], table: Any, where: str) -> Any:
    if not isinstance(table, Mapping):
        raise ValueError(f"{where}: expected a table of {cls.__name__} fields, got {table!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(table) - names)
    if unknown:
        raise ValueError(f"{where}.{unknown[0]}: unknown field; expected one of "
                         f"{', '.join(sorted(names))}")
    try:
        return cls(**{key: _tuples(value) for key, value in table.items()})
    except TypeError as error:
        raise ValueError(f"{where}: {error}") from None


def background_from_flags(argv: list[str]) -> AmorphousConfig:
    """An amorphous background from ``nonBragg`` flags (``-stol water.stol -thick 0.1
    ...``); its detector flags must describe the series' detector."""
    from nanobragg.cli.nonbragg_command import config_from_args
    from nanobragg.flags.nonbragg import parse_nonbragg

    return config_from_args(parse_nonbragg(argv))


def response_from_flags(argv: list[str], config: Config) -> ResponseConfig:
    """A detector response from ``noisify`` flags (``-readout 3 -psf gauss ...``); the
    detector (pixels, pixel size, distance, wavelength, beam centre) is ``config``'s, the
    seed the series' (a ``-seed`` is refused)."""
    from nanobragg.cli.noisify_command import resolve_frame, response_config
    from nanobragg.errors import UsageError
    from nanobragg.flags.noisify import parse_noisify
    from nanobragg.simulation import prepare
    from nanobragg.stages import to_numpy

    command = parse_noisify(argv)
    if "seed" in command.values:
        raise UsageError("response -seed: set by the series from its seed and the image "
                         "index; leave it out")
    geometry = to_numpy(prepare(config).geometry)
    values = {"pixel_mm": geometry.pixel_size_m * 1000.0,
              "detpixels_x": int(geometry.fpixels), "detpixels_y": int(geometry.spixels),
              "distance_mm": float(geometry.distance_m) * 1000.0,
              "xbeam_mm": float(geometry.Fbeam_m) * 1000.0,
              "ybeam_mm": float(geometry.Sbeam_m) * 1000.0}
    command.values = {**values, **command.values}
    frame = resolve_frame(command, int(geometry.fpixels) * int(geometry.spixels))
    response = response_config(command, frame)
    return response.replace(wavelength_A=float(config.beam.wavelength_A))
