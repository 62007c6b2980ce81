"""The table of flags: every flag of the original program, and this program's own.

:data:`FLAGS` is the single source of the flag list: both parses, the unknown-flag
check, :func:`~nanobragg.flags.mapping.config_to_argv` and the ``-h`` text
(:mod:`nanobragg.cli.usage`) read it.  Its order is the order in which the original's
argument loop tests its rules.  ``specs/flags.md`` describes every entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nanobragg.flags.record import (
    Action,
    cell_strict,
    detector_abs,
    energy,
    misset_strict,
    pixel_counts,
    select_convention,
    set_attr,
    set_attrs,
    set_const,
    set_ints,
    set_items,
    set_pivot,
    set_vector,
)

__all__ = ["FLAGS", "FLAG_BY_NAME", "PROGRAM_FLAGS", "PROGRAM_FLAG_BY_NAME", "Flag",
           "ProgramFlag"]


@dataclass(frozen=True)
class Flag:
    """One flag of the original program: one rule of its argument loop.

    ``names`` (``name`` and ``synonyms``) are the exact spellings accepted in strict mode.
    ``needles`` are what the original looks for in an argument (``c_parity`` mode): a
    substring, or, written ``=text``, the whole argument.  ``c_need``: how many arguments
    must follow for the original to apply the rule (None: the number of values).
    ``c_unchecked``: the original reads the next argument without checking there is one.
    ``c_stop``: once applied, the original's later rules do not see the argument.
    ``field``/``when``: the Config field :func:`config_to_argv` writes with this flag (a
    switch is written when the field equals ``when``); ``late`` flags are written after
    all others.  ``prescan_only``: only read before the loop (``-mask``).
    """

    name: str
    synonyms: tuple[str, ...]
    metavars: tuple[str, ...]
    kind: str
    """none, float, int, path, word, absorb, vector, cell or misset."""
    group: str
    sets: str
    help: str
    unit: str = ""
    default: str = ""
    needles: tuple[str, ...] = ()
    action: Action | None = None
    c_need: int | None = None
    c_unchecked: bool = False
    c_stop: bool = False
    field: str | None = None
    when: Any = None
    late: bool = False
    prescan_only: bool = False

    @property
    def nvalues(self) -> int:
        return len(self.metavars)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.synonyms)

    @property
    def need(self) -> int:
        return self.nvalues if self.c_need is None else self.c_need

    def c_matches(self, arg: str) -> bool:
        """Whether the original's rule takes up ``arg`` (substring or whole-word test)."""
        for needle in self.needles:
            if needle.startswith("="):
                if arg == needle[1:]:
                    return True
            elif needle in arg:
                # quirk substring_flag_matching: a needle anywhere in the argument matches
                return True
        return False


def _flag(name: str, metavars: str | tuple[str, ...], kind: str, group: str, sets: str,
          help: str, *, synonyms: tuple[str, ...] = (), needles: tuple[str, ...] | None = None,
          **kw: Any) -> Flag:
    if isinstance(metavars, str):
        metavars = (metavars,) if metavars else ()
    return Flag(name=name, synonyms=synonyms, metavars=metavars, kind=kind, group=group,
                sets=sets, help=help, needles=(name,) if needles is None else needles, **kw)


def _switch(name: str, group: str, sets: str, help: str, action: Action, **kw: Any) -> Flag:
    return _flag(name, "", "none", group, sets, help, action=action, **kw)


_XT = "Crystal"
_SF = "Structure factors"
_BM = "Beam"
_DT = "Detector"
_SA = "Sampling"
_OU = "Output"
_NO = "Accepted, without effect"
_V3 = ("X", "Y", "Z")

#: Every flag of the original program, in the order its argument loop tests them.
FLAGS: tuple[Flag, ...] = (
    # --- crystal: size in unit cells, cell, orientation
    _flag("-Na", "N", "int", _XT, "crystal.N_cells[0]", "unit cells along a (0 counts as 1)",
          unit="cells", default="1", action=set_items("N", (0,), "i"), c_stop=True,
          field="crystal.N_cells[0]"),
    _flag("-Nb", "N", "int", _XT, "crystal.N_cells[1]", "unit cells along b",
          unit="cells", default="1", action=set_items("N", (1,), "i"), c_stop=True,
          field="crystal.N_cells[1]"),
    _flag("-Nc", "N", "int", _XT, "crystal.N_cells[2]", "unit cells along c",
          unit="cells", default="1", action=set_items("N", (2,), "i"), c_stop=True,
          field="crystal.N_cells[2]"),
    _flag("-N", "N", "int", _XT, "crystal.N_cells (all three)", "unit cells along a, b and c",
          unit="cells", default="1", needles=("=-N",), action=set_items("N", (0, 1, 2), "i"),
          c_stop=True),
    _flag("-cell", ("A", "B", "C", "ALPHA", "BETA", "GAMMA"), "cell", _XT, "crystal.cell",
          "unit cell, instead of -mat (c_parity: reading stops at a value starting with '-')",
          unit="A, deg", default="none", action=cell_strict, c_need=1, field="crystal.cell"),
    _flag("-misset", ("RX", "RY", "RZ"), "misset", _XT,
          "crystal.misset_deg; crystal.misset_random",
          "rotations of the cell about x, y and z, or the one word 'random'", unit="deg",
          default="none", action=misset_strict, field="crystal.misset_deg"),
    # several rules of the original with the same effect are merged into one entry each
    _flag("-xtalsize", "MM", "float", _XT, "crystal.size_mm (all three)",
          "crystal size along x, y and z; a non-zero size sets N along that axis",
          synonyms=("-xtal_size", "-samplesize", "-sample_size"),
          needles=("-samplesize", "-sample_size", "-xtalsize", "-xtal_size"),
          unit="mm", default="0", action=set_items("sample", (0, 1, 2))),
    _flag("-xtal_thick", "MM", "float", _XT, "crystal.size_mm[0]", "crystal size along x",
          synonyms=("-xtal_x", "-sample_thick", "-sample_x"),
          needles=("-sample_thick", "-sample_x", "-xtal_thick", "-xtal_x"),
          unit="mm", default="0", action=set_items("sample", (0,)),
          field="crystal.size_mm[0]"),
    _flag("-xtal_width", "MM", "float", _XT, "crystal.size_mm[1]", "crystal size along y",
          synonyms=("-xtal_y", "-sample_width", "-sample_y", "-width"),
          needles=("-sample_width", "-sample_y", "-width", "-xtal_width", "-xtal_y"),
          unit="mm", default="0", action=set_items("sample", (1,)),
          field="crystal.size_mm[1]"),
    _flag("-xtal_height", "MM", "float", _XT, "crystal.size_mm[2]", "crystal size along z",
          synonyms=("-xtal_heigh", "-xtal_z", "-sample_height", "-sample_heigh", "-sample_z",
                    "-height", "-heigh"),
          needles=("-sample_heigh", "-sample_z", "-heigh", "-xtal_heigh", "-xtal_z"),
          unit="mm", default="0", action=set_items("sample", (2,)),
          field="crystal.size_mm[2]"),
    _flag("-density", "G_PER_CM3", "float", _NO, "nothing",
          "sample density (the original overwrites it before use)",
          synonyms=("-sample_density", "-sample_den"), needles=("-density", "-sample_den"),
          action=set_attr("density")),
    _flag("-MW", "DALTON", "float", _NO, "nothing",
          "molecular weight (the original overwrites it before use)",
          synonyms=("-molecular_weight", "-molec"), needles=("=-MW", "-molec"),
          action=set_attr("molecular_weight")),
    # --- beam centre and detector origin
    _flag("-Xbeam", "MM", "float", _DT, "detector.beam_x_mm; pivot=beam",
          "direct-beam position along the convention's X axis", unit="mm",
          default="the convention's centre", action=set_attr("Xbeam", pivot="beam"),
          field="detector.beam_x_mm"),
    _flag("-Ybeam", "MM", "float", _DT, "detector.beam_y_mm; pivot=beam",
          "direct-beam position along the convention's Y axis", unit="mm",
          default="the convention's centre", action=set_attr("Ybeam", pivot="beam"),
          field="detector.beam_y_mm"),
    _flag("-Xclose", "MM", "float", _DT, "detector.close_x_mm; pivot=sample",
          "fast coordinate of the detector point nearest the sample", unit="mm",
          default="detector centre", action=set_attr("Xclose", pivot="sample"),
          field="detector.close_x_mm"),
    _flag("-Yclose", "MM", "float", _DT, "detector.close_y_mm; pivot=sample",
          "slow coordinate of the detector point nearest the sample", unit="mm",
          default="detector centre", action=set_attr("Yclose", pivot="sample"),
          field="detector.close_y_mm"),
    _flag("-ORGX", "PIXELS", "float", _DT, "detector.orgx_px; pivot=sample",
          "XDS origin along the fast axis", unit="pixels", default="detector centre",
          action=set_attr("ORGX", pivot="sample"), field="detector.orgx_px"),
    _flag("-ORGY", "PIXELS", "float", _DT, "detector.orgy_px; pivot=sample",
          "XDS origin along the slow axis", unit="pixels", default="detector centre",
          action=set_attr("ORGY", pivot="sample"), field="detector.orgy_px"),
    _flag("-pivot", "beam|sample", "word", _DT, "detector.pivot (kept by CUSTOM only)",
          "what the detector rotates about; the other conventions impose their own",
          default="beam", action=set_pivot),
    # --- conventions
    _switch("-mosflm", _DT, "detector.convention=mosflm; pivot=beam",
            "MOSFLM axes and beam centre (the default convention)",
            select_convention("mosflm", "beam")),
    _switch("-xds", _DT, "detector.convention=xds; pivot=sample", "XDS axes and origin",
            select_convention("xds", "sample")),
    _switch("-adxv", _DT, "detector.convention=adxv; pivot=beam", "ADXV axes and beam centre",
            select_convention("adxv", "beam")),
    _switch("-denzo", _DT, "detector.convention=denzo; pivot=beam",
            "DENZO axes and beam centre", select_convention("denzo", "beam")),
    _switch("-dials", _DT, "detector.convention=dials; pivot=beam",
            "DIALS axes and origin (its sample pivot is imposed after the parse)",
            select_convention("dials", "beam")),
    # --- vectors: each selects the CUSTOM convention
    _flag("-fdet_vector", _V3, "vector", _DT, "detector.fdet_vector; convention=custom",
          "direction of the fast pixel axis", default="0 0 1", action=set_vector("fdet"),
          field="detector.fdet_vector"),
    _flag("-sdet_vector", _V3, "vector", _DT, "detector.sdet_vector; convention=custom",
          "direction of the slow pixel axis", default="0 -1 0", action=set_vector("sdet"),
          field="detector.sdet_vector"),
    _flag("-odet_vector", _V3, "vector", _DT, "detector.odet_vector; convention=custom",
          "detector normal, away from the sample", default="1 0 0",
          action=set_vector("odet"), field="detector.odet_vector"),
    _flag("-beam_vector", _V3, "vector", _BM, "beam.beam_vector; convention=custom",
          "direction of the incident beam", default="1 0 0", action=set_vector("beam"),
          field="beam.beam_vector"),
    _flag("-polar_vector", _V3, "vector", _BM, "beam.polar_vector; convention=custom",
          "direction of the beam's electric field", default="0 0 1",
          action=set_vector("polar"), field="beam.polar_vector"),
    _flag("-spindle_axis", _V3, "vector", _XT, "crystal.spindle_axis; convention=custom",
          "phi rotation axis (right-handed)", default="0 0 1", action=set_vector("spindle"),
          field="crystal.spindle_axis"),
    _flag("-twotheta_axis", _V3, "vector", _DT, "detector.twotheta_axis; convention=custom",
          "axis of the two-theta swing (c_parity: also sets -twotheta to X)",
          default="0 1 0 under CUSTOM", action=set_vector("twotheta_axis"),
          field="detector.twotheta_axis"),
    _flag("-pix0_vector", _V3, "vector", _DT, "detector.pix0_vector_m; convention=custom",
          "position of the first pixel (read, but not used by the original)", unit="m",
          default="none", action=set_vector("pix0"), field="detector.pix0_vector_m"),
    # --- distance, sensor, detector angles
    _flag("-distance", "MM", "float", _DT, "detector.distance_mm; pivot=beam",
          "sample to detector along the beam", unit="mm", default="100",
          action=set_attr("distance", pivot="beam"), field="detector.distance_mm"),
    _flag("-close_distance", "MM", "float", _DT, "detector.close_distance_mm; pivot=sample",
          "sample to the nearest point of the detector plane", unit="mm", default="none",
          action=set_attr("close_distance", pivot="sample"), field="detector.close_distance_mm"),
    _flag("-detector_abs", "UM|inf", "absorb", _DT,
          "detector.attenuation_length_um (inf or 0: also detector.thickness_um=0)",
          "attenuation length of the sensor; 'inf' or 0 means no absorption and no thickness",
          synonyms=("-detector_absorb",), needles=("-detector_abs",), unit="um",
          default="the thickness", action=detector_abs, c_unchecked=True,
          field="detector.attenuation_length_um"),
    _flag("-detector_thick", "UM", "float", _DT, "detector.thickness_um", "sensor thickness",
          needles=("=-detector_thick",), unit="um", default="0", action=set_attr("thick"),
          c_unchecked=True, field="detector.thickness_um"),
    _flag("-detector_thicksteps", "N", "int", _DT, "detector.thickness_steps",
          "number of sensor layers", synonyms=("-thicksteps",),
          needles=("-detector_thicksteps", "-thicksteps"), default="auto",
          action=set_attr("thicksteps", "i"), c_unchecked=True, field="detector.thickness_steps"),
    _flag("-twotheta", "DEG", "float", _DT, "detector.twotheta_deg; pivot=sample",
          "detector swing about the two-theta axis", unit="deg", default="0",
          action=set_attr("twotheta", pivot="sample"), field="detector.twotheta_deg"),
    _flag("-detector_rotx", "DEG", "float", _DT, "detector.rotx_deg",
          "detector rotation about x", unit="deg", default="0",
          action=set_items("rot", (0,)), field="detector.rotx_deg"),
    _flag("-detector_roty", "DEG", "float", _DT, "detector.roty_deg",
          "detector rotation about y", unit="deg", default="0",
          action=set_items("rot", (1,)), field="detector.roty_deg"),
    _flag("-detector_rotz", "DEG", "float", _DT, "detector.rotz_deg",
          "detector rotation about z", unit="deg", default="0",
          action=set_items("rot", (2,)), field="detector.rotz_deg"),
    # --- detector size
    _flag("-detsize", "MM", "float", _DT, "detector.detsize_f_mm and detsize_s_mm",
          "detector width and height", needles=("=-detsize",), unit="mm", default="102.4",
          action=set_items("detsize", (0, 1))),
    _flag("-detsize_f", "MM", "float", _DT, "detector.detsize_f_mm",
          "detector size along the fast axis", unit="mm", default="102.4",
          action=set_items("detsize", (0,)), field="detector.detsize_f_mm"),
    _flag("-detsize_s", "MM", "float", _DT, "detector.detsize_s_mm",
          "detector size along the slow axis", unit="mm", default="102.4",
          action=set_items("detsize", (1,)), field="detector.detsize_s_mm"),
    _flag("-detpixels", "N", "int", _DT, "detector.fpixels and spixels",
          "pixels along both axes (a pixel count overrides the size)",
          needles=("=-detpixels",), default="size / pixel", action=pixel_counts((0, 1))),
    _flag("-detpixels_f", "N", "int", _DT, "detector.fpixels", "pixels along the fast axis",
          synonyms=("-detpixels_x",), needles=("-detpixels_f", "-detpixels_x"),
          default="size / pixel", action=pixel_counts((0,)), field="detector.fpixels"),
    _flag("-detpixels_s", "N", "int", _DT, "detector.spixels", "pixels along the slow axis",
          synonyms=("-detpixels_y",), needles=("-detpixels_s", "-detpixels_y"),
          default="size / pixel", action=pixel_counts((1,)), field="detector.spixels"),
    _switch("-curved_det", _DT, "detector.curved",
            "every pixel at the same distance from the sample (c_parity: ignored when it is "
            "the last argument)", set_const(curved=True), c_need=1, field="detector.curved",
            when=True),
    _flag("-pixel", "MM", "float", _DT, "detector.pixel_size_mm", "pixel size", unit="mm",
          default="0.1", action=set_attr("pixel"), field="detector.pixel_size_mm"),
    _switch("-point_pixel", _DT, "detector.point_pixel",
            "solid angle of a point (1/R^2) instead of the pixel's",
            set_const(point_pixel=True), field="detector.point_pixel", when=True),
    _flag("-polar", "K", "float", _BM, "beam.polarization; beam.nopolar=False",
          "Kahn polarization factor", needles=("=-polar",), default="0",
          action=set_attr("polarization", nopolar=False), field="beam.polarization"),
    _switch("-nopolar", _BM, "beam.nopolar", "no polarization factor",
            set_const(nopolar=True), field="beam.nopolar", when=True),
    # --- sampling
    _switch("-oversample_thick", _SA, "sampling.oversample_thick",
            "sensor absorption recomputed for every sub-pixel",
            set_const(oversample_thick=True), c_stop=True, field="sampling.oversample_thick",
            when=True),
    _switch("-oversample_polar", _SA, "sampling.oversample_polar",
            "polarization recomputed for every sub-pixel",
            set_const(oversample_polar=True), c_stop=True, field="sampling.oversample_polar",
            when=True),
    _switch("-oversample_omega", _SA, "sampling.oversample_omega",
            "solid angle recomputed for every sub-pixel",
            set_const(oversample_omega=True), c_stop=True, field="sampling.oversample_omega",
            when=True),
    _flag("-oversample", "N", "int", _SA, "sampling.oversample",
          "sub-pixels per pixel edge", default="auto", action=set_attr("oversample", "i"),
          field="sampling.oversample"),
    _flag("-roi", ("XMIN", "XMAX", "YMIN", "YMAX"), "int", _SA, "sampling.roi",
          "render only these pixels (bounds included)", unit="pixels", default="all",
          action=set_ints("roi"), field="sampling.roi"),
    # --- beam
    _flag("-lambda", "A", "float", _BM, "beam.wavelength_A", "wavelength",
          synonyms=("-wave", "-wavelength"), needles=("-lambda", "-wave"), unit="A",
          default="1", action=set_attr("lambda0"), field="beam.wavelength_A"),
    _flag("-energy", "EV", "float", _BM, "beam.wavelength_A = 12398.42/EV",
          "photon energy, instead of -lambda", unit="eV", default="12398.42",
          action=energy),
    _flag("-fluence", "PER_M2", "float", _BM, "beam.fluence", "photons per square metre",
          unit="photons/m^2", default="1.26e29", action=set_attr("fluence"), field="beam.fluence"),
    _flag("-flux", "PER_S", "float", _BM, "beam.flux",
          "photons per second; with -exposure and -beamsize it replaces -fluence",
          unit="photons/s", default="0", action=set_attr("flux"), field="beam.flux"),
    _flag("-exposure", "S", "float", _BM, "beam.exposure_s", "exposure time", unit="s",
          default="1", action=set_attr("exposure"), field="beam.exposure_s"),
    _flag("-beamsize", "MM", "float", _BM, "beam.beamsize_mm",
          "beam width (the crystal is clipped to it)", unit="mm", default="0.1",
          action=set_attr("beamsize"), field="beam.beamsize_mm"),
    _flag("-mosaic", "DEG", "float", _XT, "crystal.mosaic_spread_deg",
          "isotropic mosaic spread", synonyms=("-mosaicity", "-mosaic_spread"),
          needles=("=-mosaic", "-mosaici", "-mosaic_spr"), unit="deg", default="none",
          action=set_attr("mosaic_spread"), field="crystal.mosaic_spread_deg"),
    _flag("-mosaic_domains", "N", "int", _XT, "crystal.mosaic_domains",
          "number of mosaic domains", synonyms=("-mosaic_dom",), needles=("-mosaic_dom",),
          default="10 with a spread", action=set_attr("mosaic_domains", "i"),
          field="crystal.mosaic_domains"),
    _flag("-dispersion", "PERCENT", "float", _BM, "beam.dispersion_pct",
          "spectral width, delta-lambda over lambda", unit="%", default="0",
          action=set_attr("dispersion"), field="beam.dispersion_pct"),
    _flag("-dispsteps", "N", "int", _BM, "beam.dispersion_steps",
          "number of wavelengths", default="auto", action=set_attr("dispsteps", "i"),
          field="beam.dispersion_steps"),
    _flag("-divergence", "MRAD", "float", _BM, "beam.hdiv_range_mrad and vdiv_range_mrad",
          "horizontal and vertical divergence range", unit="mrad", default="0",
          action=set_attrs(("hdivrange", "vdivrange"))),
    _flag("-hdivrange", "MRAD", "float", _BM, "beam.hdiv_range_mrad",
          "horizontal divergence range", unit="mrad", default="0",
          action=set_attr("hdivrange"), field="beam.hdiv_range_mrad"),
    _flag("-vdivrange", "MRAD", "float", _BM, "beam.vdiv_range_mrad",
          "vertical divergence range", unit="mrad", default="0",
          action=set_attr("vdivrange"), field="beam.vdiv_range_mrad"),
    _flag("-hdivstep", "MRAD", "float", _BM, "beam.hdiv_step_mrad",
          "horizontal divergence step", needles=("=-hdivstep",), unit="mrad",
          default="auto", action=set_attr("hdivstep"), field="beam.hdiv_step_mrad"),
    _flag("-hdivsteps", "N", "int", _BM, "beam.hdiv_steps",
          "number of horizontal divergence steps", default="auto",
          action=set_attr("hdivsteps", "i"), field="beam.hdiv_steps"),
    _flag("-vdivstep", "MRAD", "float", _BM, "beam.vdiv_step_mrad",
          "vertical divergence step", needles=("=-vdivstep",), unit="mrad",
          default="auto", action=set_attr("vdivstep"), field="beam.vdiv_step_mrad"),
    _flag("-vdivsteps", "N", "int", _BM, "beam.vdiv_steps",
          "number of vertical divergence steps", default="auto",
          action=set_attr("vdivsteps", "i"), field="beam.vdiv_steps"),
    _flag("-divsteps", "N", "int", _BM, "beam.hdiv_steps and vdiv_steps",
          "number of divergence steps in both directions", default="auto",
          action=set_attrs(("hdivsteps", "vdivsteps"), "i")),
    _switch("-round_div", _BM, "beam.round_div=True",
            "keep the divergence points inside an ellipse (the default)",
            set_const(round_div=True), field="beam.round_div", when=True),
    _switch("-square_div", _BM, "beam.round_div=False", "keep the whole divergence grid",
            set_const(round_div=False), field="beam.round_div", when=False),
    _flag("-adc", "ADU", "float", _OU, "output.adc_offset",
          "offset added to the integer images", default="40", action=set_attr("adc"),
          field="output.adc_offset"),
    # --- spindle
    _flag("-phi", "DEG", "float", _XT, "crystal.phi_deg", "spindle angle at the start",
          needles=("=-phi",), unit="deg", default="0", action=set_attr("phi0"),
          field="crystal.phi_deg"),
    _flag("-osc", "DEG", "float", _XT, "crystal.osc_deg", "oscillation range", unit="deg",
          default="auto", action=set_attr("osc"), field="crystal.osc_deg"),
    _flag("-phistep", "DEG", "float", _XT, "crystal.phi_step_deg", "spindle step",
          needles=("=-phistep",), unit="deg", default="auto", action=set_attr("phistep"),
          field="crystal.phi_step_deg"),
    _flag("-phisteps", "N", "int", _XT, "crystal.phi_steps", "number of spindle steps",
          default="auto", action=set_attr("phisteps", "i"), field="crystal.phi_steps"),
    # --- inputs
    _flag("-dmin", "A", "float", _SF, "structure_factors.dmin_A",
          "skip reflections of higher resolution than this", unit="A", default="0 (none)",
          action=set_attr("dmin"), field="structure_factors.dmin_A"),
    _flag("-mat", "FILE", "path", _XT, "crystal.matrix_path",
          "MOSFLM orientation matrix (reciprocal vectors times the wavelength)",
          default="none", action=set_attr("matfile", "s"), field="crystal.matrix_path"),
    _flag("-hkl", "FILE", "path", _SF, "structure_factors.hkl_path",
          "text file of h k l F", default="none (read the dump file)",
          action=set_attr("hklfile", "s"), field="structure_factors.hkl_path"),
    _flag("-default_F", "F", "float", _SF, "structure_factors.default_F",
          "structure factor of every reflection the HKL file lacks", default="0",
          action=set_attr("default_F"), field="structure_factors.default_F"),
    _flag("-dump", "FILE", "path", _SF, "structure_factors.dump_path",
          "structure-factor cache file", default="Fdump.bin", action=set_attr("dumpfile", "s"),
          field="structure_factors.dump_path"),
    _flag("-img", "FILE", "path", _DT, "geometry from the SMV header (read before all flags)",
          "take pixel counts, pixel size, distances, wavelength, beam centre, PHI and "
          "OSC_RANGE (strict: also TWOTHETA) from this image's header", default="none",
          action=set_attr("img", "s")),
    _flag("-stolout", "FILE", "path", _NO, "nothing", "file name the original never writes",
          action=set_attr("stolout", "s")),
    _flag("-stol", "FILE", "path", _SF, "structure_factors.stol_path",
          "background F against sin(theta)/lambda (1/A); read and checked, then unused",
          needles=("=-stol",), default="none", action=set_attr("stolfile", "s"),
          field="structure_factors.stol_path"),
    _flag("-4stol", "FILE", "path", _SF, "structure_factors.stol_path",
          "like -stol, first column 4 sin(theta)/lambda", needles=("=-4stol",),
          default="none", action=set_attr("stolfile", "s")),
    _flag("-Q", "FILE", "path", _SF, "structure_factors.stol_path",
          "like -stol, first column Q = 4 pi sin(theta)/lambda", needles=("=-Q",),
          default="none", action=set_attr("stolfile", "s")),
    _flag("-sourcefile", "FILE", "path", _BM, "beam.source_path",
          "list of sources (X Y Z weight wavelength_m), replacing divergence and dispersion",
          default="none", action=set_attr("sourcefile", "s"), field="beam.source_path"),
    # --- outputs
    _flag("-floatfile", "FILE", "path", _OU, "output.floatfile", "raw float32 image",
          synonyms=("-floatimage",), needles=("-floatfile", "-floatimage"),
          default="floatimage.bin", action=set_attr("floatfile", "s"), field="output.floatfile"),
    _flag("-intfile", "FILE", "path", _OU, "output.intfile", "noiseless SMV image",
          synonyms=("-intimage",), needles=("-intfile", "-intimage"),
          default="intimage.img", action=set_attr("intfile", "s"), field="output.intfile"),
    _flag("-pgmfile", "FILE", "path", _OU, "output.pgmfile; output.write_pgm=True",
          "8-bit PGM preview", synonyms=("-pgmimage",), needles=("-pgmfile", "-pgmimage"),
          default="image.pgm", action=set_attr("pgmfile", "s", write_pgm=True),
          field="output.pgmfile"),
    _flag("-noisefile", "FILE", "path", _OU, "output.noisefile; output.write_noise=True",
          "SMV image with Poisson noise", synonyms=("-noiseimage",),
          needles=("-noisefile", "-noiseimage"), default="noiseimage.img",
          action=set_attr("noisefile", "s", write_noise=True), field="output.noisefile"),
    _switch("-nonoise", _OU, "output.write_noise=False", "do not write the noise image",
            set_const(write_noise=False), field="output.write_noise", when=False, late=True),
    _switch("-nopgm", _OU, "output.write_pgm=False", "do not write the PGM image",
            set_const(write_pgm=False), field="output.write_pgm", when=False, late=True),
    _flag("-scale", "FACTOR", "float", _OU, "output.int_scale",
          "scale of the integer image", default="55000 / max", action=set_attr("int_scale"),
          field="output.int_scale"),
    _flag("-pgmscale", "FACTOR", "float", _OU, "output.pgm_scale; output.write_pgm=True",
          "scale of the PGM image", default="auto",
          action=set_attr("pgm_scale", write_pgm=True), field="output.pgm_scale"),
    _switch("-coherent", _NO, "nothing", "coherent addition (not implemented by the original)",
            set_const(coherent=True)),
    _switch("-printout", _OU, "output.printout", "print pixel values",
            set_const(printout=True), field="output.printout", when=True),
    _switch("-noprogress", _OU, "output.progress=False", "no progress meter",
            set_const(progress=False), field="output.progress", when=False),
    _switch("-progress", _OU, "output.progress=True", "progress meter (the default)",
            set_const(progress=True), field="output.progress", when=True),
    _switch("-interpolate", _SF, "structure_factors.interpolate=True",
            "tricubic interpolation of F between reflections (default: when any N <= 2)",
            set_const(interpolate=True), field="structure_factors.interpolate", when=True),
    _switch("-nointerpolate", _SF, "structure_factors.interpolate=False",
            "no interpolation of F", set_const(interpolate=False),
            field="structure_factors.interpolate", when=False),
    _switch("-round_xtal", _XT, "crystal.shape=round", "ellipsoidal crystal",
            set_const(shape="round"), field="crystal.shape", when="round"),
    _switch("-square_xtal", _XT, "crystal.shape=square", "parallelepiped crystal (default)",
            set_const(shape="square"), field="crystal.shape", when="square"),
    _switch("-gauss_xtal", _XT, "crystal.shape=gauss", "Gaussian spots",
            set_const(shape="gauss"), field="crystal.shape", when="gauss"),
    _switch("-tophat_spots", _XT, "crystal.shape=tophat", "flat-topped spots",
            set_const(shape="tophat"), synonyms=("-binary_spots",),
            needles=("-binary_spots", "-tophat_spots"), field="crystal.shape", when="tophat"),
    _flag("-fudge", "FACTOR", "float", _XT, "crystal.fudge",
          "width factor of the spot shapes", default="1", action=set_attr("fudge"),
          field="crystal.fudge"),
    _flag("-printout_pixel", ("FAST", "SLOW"), "int", _OU, "output.printout_pixel",
          "print only this pixel (c_parity: also turns -printout on)", unit="pixels",
          default="all", action=set_ints("printout_pixel"), field="output.printout_pixel"),
    _flag("-seed", "N", "int", _OU, "output.seed", "seed of the noise image",
          default="from the clock", action=set_attr("seed", "i"), field="output.seed"),
    _flag("-mosaic_seed", "N", "int", _XT, "crystal.mosaic_seed", "seed of the mosaic domains",
          default="12345678", action=set_attr("mosaic_seed", "i"), field="crystal.mosaic_seed"),
    _flag("-misset_seed", "N", "int", _XT, "crystal.misset_seed",
          "seed of -misset random (c_parity: also read as -misset N NEXT NEXT)",
          default="from the clock", action=set_attr("misset_seed", "i")),
    _flag("-water", "UM", "float", _BM, "beam.water_um",
          "thickness of water around the crystal (background)", unit="um", default="0",
          action=set_attr("water"), field="beam.water_um"),
    # only read before the argument loop
    _flag("-mask", "FILE", "path", _DT, "detector.mask_path; geometry from its header",
          "SMV mask (0 = skip the pixel); its header is read like -img's, before -img's, "
          "with BEAM_CENTER_Y measured from the other edge", default="none",
          prescan_only=True, field="detector.mask_path"),
)

FLAG_BY_NAME: dict[str, Flag] = {name: flag for flag in FLAGS for name in flag.names}
"""Exact spellings (names and synonyms) -> flag."""


@dataclass(frozen=True)
class ProgramFlag:
    """A flag of this program (not of the original); removed before the original's rules.

    ``in_python``: what a Python caller does instead, for the message that refuses the
    flag in an argument list read into a Config.
    """

    name: str
    synonyms: tuple[str, ...]
    metavars: tuple[str, ...]
    help: str
    in_python: str


PROGRAM_FLAGS: tuple[ProgramFlag, ...] = (
    ProgramFlag("-backend", (), ("c|torch",), "simulation engine (default: c)",
                "pass backend= to nanobragg.simulate"),
    ProgramFlag("-c_parity", (), (),
                "read the command line and simulate exactly like the original, quirks "
                "included (default: strict flags)",
                "pass c_parity=True to Config.from_cli (the original's parse) and to "
                "nanobragg.simulate (its quirks)"),
    ProgramFlag("-device", (), ("NAME",), "torch device, e.g. cpu or cuda:0 (torch backend)",
                "pass device= to nanobragg.simulate"),
    ProgramFlag("-dtype", (), ("float32|float64",), "torch floating-point type",
                "pass dtype= to nanobragg.simulate"),
    ProgramFlag("-trace_pixel", (), ("SLOW", "FAST"), "print the computation of one pixel",
                "call nanobragg.trace_pixel(config, slow, fast)"),
    ProgramFlag("-max_terms", (), ("N",),
                "refuse a render of more than N terms: pixels x sub-pixels x layers x sources "
                "x phi steps x mosaic domains (default 1e11; inf for no limit)",
                "pass max_terms= to nanobragg.simulate"),
    ProgramFlag("-h", ("-help", "--help"), (), "print this help and exit",
                "nanobragg.flags.FLAGS lists the flags a Config takes"),
)

PROGRAM_FLAG_BY_NAME: dict[str, ProgramFlag] = {
    name: flag for flag in PROGRAM_FLAGS for name in (flag.name, *flag.synonyms)}
"""Exact spellings (names and synonyms) -> flag of this program."""
