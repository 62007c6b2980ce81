"""The command's log: the original's summary lines, in its formats, so that
scripts parsing them keep working."""

from __future__ import annotations

import math
from typing import TextIO

from nanobragg.config import Config
from nanobragg.result import Result
from nanobragg.sampling import RTD

CONVENTION_WORD = {"mosflm": "mosflm", "xds": "xds", "adxv": "adxv", "denzo": "denzo",
                   "dials": "dials", "custom": "custom"}
SHAPE_WORD = {"square": "parallelpiped", "round": "ellipsoidal", "gauss": "gaussian",
              "tophat": "tophat-spot"}


class Report:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def line(self, text: str = "") -> None:
        self.stream.write(text + "\n")

    def banner(self, config: Config) -> None:
        self.line("nanoBragg nanocrystal diffraction simulator - nanobragg re-implementation")
        self.line(f"{CONVENTION_WORD[config.detector.convention]} convention selected.")

    def setup(self, r: Result) -> None:
        g, c, s = r.geometry, r.crystal, r.sampling
        cfg = r.config
        lengths, angles = c.cell_lengths_A, c.cell_angles_rad
        self.line("Unit Cell: %g %g %g %g %g %g" % (
            lengths[0], lengths[1], lengths[2], angles[0] * RTD, angles[1] * RTD,
            angles[2] * RTD))
        lengths, angles = c.reciprocal_lengths_per_A, c.reciprocal_angles_rad
        self.line("Recp Cell: %g %g %g %g %g %g" % (
            lengths[0], lengths[1], lengths[2], angles[0] * RTD, angles[1] * RTD,
            angles[2] * RTD))
        self.line("volume = %g A^3" % c.volume_A3)
        self.line("crystal is %g x %g x %g microns" % tuple(v * 1e6 for v in c.size_m))
        self.line("  created a total of %d sources:" % len(r.sources.wavelength_m))
        self.line("  created a total of %d mosaic domains" % len(r.mosaic_umats))
        self.line("  %d initialized hkls (all others =%g)" % (
            r.notes["hkls"], cfg.structure_factors.default_F))
        N = c.N_cells
        self.line("  %s xtal: %.0fx%.0fx%.0f cells" % (SHAPE_WORD[cfg.crystal.shape], *N))
        self.line("  wave=%g meters +/- %g%% in %d steps" % (
            float(cfg.beam.wavelength_A) / 1.0e10, s.dispersion.range * 100, s.dispersion.steps))
        if cfg.beam.nopolar:
            self.line("  polarization effect disabled")
        else:
            self.line("  Kahn polarization factor: %f" % cfg.beam.polarization)
        if cfg.detector.curved:
            self.line("  curved detector: all pixels same distance from origin")
        if cfg.detector.point_pixel:
            self.line("  pixel obliquity effect disabled")
        self.line("  incident fluence: %g photons/m^2" % r.notes["fluence"])
        self.line("  distance=%g detsize=%gx%g  pixel=%g meters (%dx%d pixels)" % (
            g.distance_m, g.detsize_f_m, g.detsize_s_m, g.pixel_size_m, g.fpixels,
            g.spixels))
        self.line("  sensor is %g m thick in %d layers with mu= %g" % (
            s.thickness.range, s.thickness.steps, s.detector_mu))
        self.line("  Xbeam=%g Ybeam=%g" % (g.Xbeam_m, g.Ybeam_m))
        self.line("  Fbeam=%g Sbeam=%g" % (g.Fbeam_m, g.Sbeam_m))
        self.line("  Xclose=%g Yclose=%g" % (g.Xclose_m, g.Yclose_m))
        self.line("  Fclose=%g Sclose=%g" % (g.Fclose_m, g.Sclose_m))
        self.line("  DIRECTION_OF_DETECTOR_X-AXIS= %g %g %g" % tuple(g.fdet))
        self.line("  DIRECTION_OF_DETECTOR_Y-AXIS= %g %g %g" % tuple(g.sdet))
        self.line("  DIRECTION_OF_DETECTOR_Z-AXIS= %g %g %g" % tuple(g.odet))
        self.line("  INCIDENT_BEAM_DIRECTION= %g %g %g" % tuple(g.beam))
        self.line("  spindle ROTATION_AXIS= %g %g %g" % tuple(g.spindle))
        self.line("  dials origin= %g %g %g" % tuple(g.dials_origin_mm))
        self.line("  roi: %d < x < %d && %d < y < %d" % r.roi)
        self.line("  hdivrange=%g hdivstep=%g  radians" % (s.hdiv.range, s.hdiv.step))
        self.line("  vdivrange=%g vdivstep=%g  radians" % (s.vdiv.range, s.vdiv.step))
        self.line("  %d divergence steps" % r.sources.divergence_steps)
        self.line("  %d sources" % len(r.sources.wavelength_m))
        self.line("  %d mosaic domains over mosaic spread of %g degrees" % (
            len(r.mosaic_umats), s.mosaic_spread * RTD))
        self.line("  %d phi steps from %g to %g degrees" % (
            s.phi.steps, s.phi0 * RTD, (s.phi0 + s.phi.range) * RTD))
        flags = "".join(suffix for suffix, on in (
            (" +thick", cfg.sampling.oversample_thick), (" +polar", cfg.sampling.oversample_polar),
            (" +omega", cfg.sampling.oversample_omega)) if on)
        self.line("  %dx%d pixel oversample steps%s" % (r.oversample, r.oversample, flags))
        work = r.setup.work
        self.line(f"  work: {work.describe()} (limit {r.setup.max_terms:.3g}, -max_terms)")
        if cfg.detector.mask_path is not None or cfg.detector.mask is not None:
            self.line(f"  skipping zero-flagged pixels in {cfg.detector.mask_path or 'the mask'}")
        if cfg.output.write_noise:
            self.line("")
            self.line("  noise image paramters:")
            self.line("  seed: %d" % r.noise_seed)
            self.line("  water droplet size: %g m" % (float(cfg.beam.water_um) / 1e6))

    def solid_angle(self, r: Result) -> None:
        """The blank line and solid angle the original prints after its pixel loop."""
        self.line("")
        omega = r.omega_sum / r.steps if r.steps else 0.0
        self.line("solid angle subtended by detector = %g steradian ( %g%% sphere)" % (
            omega, 100 * omega / 4 / math.pi))

    def statistics(self, r: Result) -> None:
        st = r.statistics
        self.line("max_I = %g  at %g %g" % (st.max_I, *st.max_I_position_m))
        self.line("mean= %g rms= %g rmsd= %g" % (st.mean, st.rms, st.rmsd))
