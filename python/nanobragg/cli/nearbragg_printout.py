"""``nearBragg -printout``, ``-printout_pixel`` and ``-debug``: the original's console
lines.

``-debug`` prints ``blank`` for each line of the atom list that holds no atom (while
counting, then again while reading) and ``initializing: n X Y Z with Z=occupancy B=B``
for each atom read.  ``-printout`` prints a block for each rendered pixel (or the one
``-printout_pixel FAST SLOW`` names): sin(θ)/λ of its last sub-pixel, the amplitudes and
intensity it ends with, the Re/Im images, its photons per steradian, the last
sub-pixel's solid angle and its photons; with ``-debug`` too, each atom's term
``n  x y z -> phase Re Im`` (metres, radians, the running sums) before each block.

With c_parity a printed pixel is summed again here, term by term in the original's order
and arithmetic; so is every pixel with ``-debug`` (whose per-atom lines need the running
sums, in the mode's arithmetic); otherwise the block is read from the engine's images
(the corrected engine's phases are split and reduced exactly, which a sum term by term
in double precision would not reproduce to the printed digits); the photons are the
engine's."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nanobragg.io._files import read_bytes
from nanobragg.io.sourcefile import _fgets_lines
from nanobragg.scatterers import R_E_SQR_M2
from nanobragg.stages.scatterers import ScattererInputs

__all__ = ["atom_debug_lines", "printout_lines"]

_DELIMITERS = b" \t\r,;:!"
LEGACY_TWO_PI = 6.28318530717959
"""nearBragg's 2 pi, cut after 15 digits (the near_truncated_pi quirk)."""


def atom_debug_lines(path: str, atoms: np.ndarray, *, c_parity: bool
                     ) -> tuple[list[str], list[str]]:
    """(the lines -debug prints while counting the atoms, those while reading them)."""
    if c_parity:
        empty = [line.lstrip(_DELIMITERS) == b"\n" for line in _fgets_lines(read_bytes(path))]
    else:
        text = read_bytes(path).decode("latin-1").splitlines()
        empty = [not line.split("#", 1)[0].strip() for line in text]
    counting = ["blank"] * sum(empty)
    reading: list[str] = []
    n = 0
    for is_empty in empty:
        if is_empty:
            reading.append("blank")
            continue
        x, y, z, occupancy, B = (float(v) for v in atoms[n, :5])
        reading.append(f"initializing: {n} {x:g} {y:g} {z:g} with Z={occupancy:g} B={B:g}")
        n += 1
    return counting, reading


@dataclass
class _Pixel:
    lines: list[str]
    Fa: float
    Fb: float
    intensity: float
    position: tuple[float, float, float]
    omega_R2: float
    airpath: float


def _subpixel_position(inputs: ScattererInputs, Xdet: float, Ydet: float
                       ) -> tuple[float, float, float]:
    p = inputs.params
    fdet, sdet, pix0 = (np.asarray(v, dtype=np.float64) for v in (p.fdet, p.sdet, p.pix0_m))
    pos = [Xdet * float(fdet[k]) + Ydet * float(sdet[k]) + float(pix0[k]) for k in range(3)]
    if p.curved_detector:
        # the turn of the engines' subpixel_position (the mirrored legacy turn)
        d = p.distance_m
        ay = pos[2] / d if p.c_parity else -pos[2] / d
        az = pos[1] / d
        x = d * math.cos(ay)
        pos = [x * math.cos(az), x * math.sin(az), d * -math.sin(ay)]
    return pos[0], pos[1], pos[2]


def _solid_angle_R2(inputs: ScattererInputs, pos: tuple[float, float, float],
                    airpath: float) -> float:
    p = inputs.params
    pixel = p.pixel_size_m
    if p.point_pixel:
        return 1.0
    if p.c_parity:
        return pixel * pixel * p.distance_m / airpath
    if p.curved_detector:
        return pixel * pixel
    odet = np.asarray(p.odet, dtype=np.float64)
    return pixel * pixel * abs(sum(pos[k] * float(odet[k]) for k in range(3))) / airpath


def _trace(inputs: ScattererInputs, fast: int, slow: int, debug: bool) -> _Pixel:
    """The pixel summed term by term as the original sums it."""
    p, atoms, sources = inputs.params, inputs.atoms, inputs.sources
    xyz = np.asarray(atoms.position_m, dtype=np.float64)
    occupancy = np.asarray(atoms.occupancy, dtype=np.float64)
    B = np.asarray(atoms.B_A2, dtype=np.float64)
    phase0 = np.asarray(atoms.phase_rad, dtype=np.float64)
    src = np.asarray(sources.position_m, dtype=np.float64)
    k_in = np.asarray(sources.direction, dtype=np.float64)
    lam = np.asarray(sources.wavelength_m, dtype=np.float64)
    group = np.asarray(sources.group)
    two_pi = LEGACY_TWO_PI if p.c_parity else 2.0 * math.pi
    n = int(p.oversample)
    sub = p.pixel_size_m / n
    steps = len(lam) * n * n
    lines: list[str] = []
    Fa = Fb = intensity = 0.0
    pos = (0.0, 0.0, 0.0)
    omega_R2 = airpath = omega_sum = 0.0
    for suby in range(n):
        for subz in range(n):
            pos = _subpixel_position(inputs, sub * (fast * n + subz) + sub / 2.0,
                                     sub * (slow * n + suby) + sub / 2.0)
            airpath = math.sqrt(pos[0] * pos[0] + pos[1] * pos[1] + pos[2] * pos[2])
            omega_R2 = _solid_angle_R2(inputs, pos, airpath)
            omega_sum += omega_R2
            intensity_sub = 0.0
            for s in range(len(lam)):
                out = np.asarray(pos) - xyz
                out_path = np.sqrt(out[:, 0] * out[:, 0] + out[:, 1] * out[:, 1]
                                   + out[:, 2] * out[:, 2])
                if p.far_source:
                    in_path = xyz[:, 0] if p.c_parity else (
                        k_in[s, 0] * xyz[:, 0] + k_in[s, 1] * xyz[:, 1] + k_in[s, 2] * xyz[:, 2])
                    S0 = (np.array([1.0, 0.0, 0.0]) if p.c_parity else k_in[s])[None, :]
                else:
                    delta = src[s] - xyz
                    in_path = np.sqrt(delta[:, 0] * delta[:, 0] + delta[:, 1] * delta[:, 1]
                                      + delta[:, 2] * delta[:, 2])
                    S0 = -delta / in_path[:, None]
                phase = two_pi * (in_path + out_path) / lam[s] + phase0
                q = (out / out_path[:, None] - S0) / (lam[s] * 1e10)
                stol = np.sqrt(q[:, 0] * q[:, 0] + q[:, 1] * q[:, 1] + q[:, 2] * q[:, 2]) / 2.0
                # libm's exp, cos and sin, as the C programs call them
                DWF = np.array([o * math.exp(-b * t * t) if b != 0.0 else o
                                for o, b, t in zip(occupancy, B, stol, strict=True)])
                cos = np.array([math.cos(v) for v in phase])
                sin = np.array([math.sin(v) for v in phase])
                if p.far_source:
                    re, im = DWF * cos / out_path, DWF * sin / out_path
                elif p.c_parity:
                    re, im = DWF * cos / in_path / out_path, DWF * sin / in_path / out_path
                else:
                    amplitude = DWF * math.sqrt(float(src[s, 0] * src[s, 0] + src[s, 1] * src[s, 1]
                                                     + src[s, 2] * src[s, 2])) / in_path / out_path
                    re, im = amplitude * cos, amplitude * sin
                Fa_run = np.cumsum(np.concatenate(([Fa], re)))
                Fb_run = np.cumsum(np.concatenate(([Fb], im)))
                if debug:
                    lines += ["%d  %g %g %g -> %g %g %g" % (i, *xyz[i], phase[i], Fa_run[i + 1],
                                                            Fb_run[i + 1])
                              for i in range(len(xyz))]
                Fa, Fb = float(Fa_run[-1]), float(Fb_run[-1])
                if not p.coherent and (s == len(lam) - 1 or group[s + 1] != group[s]):
                    if p.c_parity:
                        intensity += Fa * Fa + Fb * Fb
                    else:
                        intensity_sub += Fa * Fa + Fb * Fb
                    Fa = Fb = 0.0
            if not p.c_parity:
                intensity += intensity_sub * omega_R2
    if p.coherent:
        j = slow * int(p.fpixels) + fast
        re_in = 0.0 if inputs.real is None else float(np.asarray(inputs.real).reshape(-1)[j])
        im_in = 0.0 if inputs.imag is None else float(np.asarray(inputs.imag).reshape(-1)[j])
        if p.c_parity:
            Fa += float(np.float32(re_in) * np.float32(steps))
            Fb += float(np.float32(im_in) * np.float32(steps))
        else:
            Fa += re_in * steps
            Fb += im_in * steps
        Fa /= math.sqrt(steps)
        Fb /= math.sqrt(steps)
        intensity += Fa * Fa + Fb * Fb
        if not p.c_parity:
            intensity *= omega_sum / (n * n)
    return _Pixel(lines, Fa, Fb, intensity, pos, omega_R2, airpath)


def _from_images(inputs: ScattererInputs, added: float, real: float, imag: float,
                 fast: int, slow: int) -> _Pixel:
    """The pixel's block values from the engine's double-precision images (``added`` the
    photons this run added), without summing it again: equal to the term-by-term sums to
    within a few units in the last place, far below the printed digits."""
    p = inputs.params
    n = int(p.oversample)
    sub = p.pixel_size_m / n
    steps = len(inputs.sources.wavelength_m) * n * n
    pos = _subpixel_position(inputs, sub * (fast * n + n - 1) + sub / 2.0,
                             sub * (slow * n + n - 1) + sub / 2.0)
    airpath = math.sqrt(pos[0] * pos[0] + pos[1] * pos[1] + pos[2] * pos[2])
    omega_R2 = _solid_angle_R2(inputs, pos, airpath)
    per_photon = p.fluence_per_m2 * R_E_SQR_M2 * (omega_R2 if p.c_parity else 1.0)
    Fa = Fb = 0.0
    if p.coherent:
        Fa, Fb = real * steps / math.sqrt(steps), imag * steps / math.sqrt(steps)
    return _Pixel([], Fa, Fb, added / per_photon * steps, pos, omega_R2, airpath)


def printout_lines(inputs: ScattererInputs, image: np.ndarray, real: np.ndarray,
                   imag: np.ndarray, pixel: tuple[int, int] | None, *, wavelength_m: float,
                   debug: bool) -> list[str]:
    """The blocks of the rendered pixels (or of ``pixel``, (fast, slow)), in the
    original's order, from the engine's double-precision ``image``, ``real`` and
    ``imag``.  -debug's terms, and with c_parity one pixel, are summed again term by
    term; otherwise the blocks are taken from the images (the same printed digits, in a
    fraction of the time)."""
    p = inputs.params
    prior = None if inputs.image is None else np.asarray(inputs.image, dtype=np.float64)
    lines: list[str] = []
    for slow in range(max(p.roi_ymin, 0), min(p.roi_ymax, p.spixels - 1) + 1):
        for fast in range(max(p.roi_xmin, 0), min(p.roi_xmax, p.fpixels - 1) + 1):
            if pixel is not None and pixel != (fast, slow):
                continue
            added = float(image[slow, fast]) - (0.0 if prior is None else
                                                 float(prior[slow, fast]))
            resum = debug or (pixel is not None and p.c_parity)
            traced = (_trace(inputs, fast, slow, debug) if resum
                      else _from_images(inputs, added, float(real[slow, fast]),
                                        float(imag[slow, fast]), fast, slow))
            x, y, z = traced.position
            twotheta = math.atan2(math.sqrt(y * y + z * z), x)
            stol = math.sin(twotheta / 2.0) / (wavelength_m * 1e10)
            omega = traced.omega_R2 / traced.airpath / traced.airpath
            value = float(np.float32(image[slow, fast]))
            lines += traced.lines
            lines += ["%4d %4d : stol = %g" % (fast, slow, stol),
                      " Fa=%g  Fb=%g   I = %g" % (traced.Fa, traced.Fb, traced.intensity),
                      "cos=%g sin=%g" % (float(np.float32(real[slow, fast])),
                                         float(np.float32(imag[slow, fast]))),
                      "I/sr   %15.10g" % (value / omega),
                      "omega  %15.10g" % omega,
                      "pixel  %15.10g" % value]
    return lines
