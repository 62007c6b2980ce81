"""The point-scatterer stage (nearBragg) on both engines: the engines agree in both modes,
each quirk shows in c_parity and is fixed without it, gradients of the torch stage match
finite differences of the C stage."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nanobragg as nb
from nanobragg.scatterers import atom_table
from nanobragg.stages.scatterers import scatterer_atoms, scatterer_sources, source_grids, step_grid

RNG = np.random.default_rng(7)
ATOMS = np.column_stack([RNG.uniform(-20, 20, (12, 3)), RNG.uniform(0.5, 1, 12),
                         RNG.uniform(0, 30, 12), RNG.uniform(-180, 180, 12)])
SMALL = {"fpixels": 10, "spixels": 8, "pixel_size_mm": 0.5, "distance_mm": 40.0}

SCENES = {
    "incoherent": {},
    "coherent": {"coherent": True},
    "oversample": {"oversample": 2},
    "divergence_depth": {"hdiv_range_mrad": 1, "hdiv_step_mrad": 0.5, "vdiv_range_mrad": 1,
                         "vdiv_step_mrad": 0.5, "source_distance_mm": 500,
                         "source_depth_A": 100, "depth_steps": 2},
    "dispersion_coherent": {"dispersion_pct": 5, "dispersion_steps": 3, "coherent": True},
    "far": {"far_source": True, "hdiv_range_mrad": 2, "hdiv_steps": 3},
    "curved_twotheta": {"curved": True, "twotheta_deg": 20},
    "point_pixel_roi": {"point_pixel": True, "roi": (2, 6, 1, 5)},
}


def render(engine, c_parity, **settings):
    return nb.point_scatterers(ATOMS, backend=engine, c_parity=c_parity, **{**SMALL, **settings})


@pytest.mark.parametrize("scene", sorted(SCENES))
def test_the_engines_agree(scene, c_parity):
    c = render("c", c_parity, **SCENES[scene])
    t = render("torch", c_parity, **SCENES[scene])
    peak = np.abs(c.image).max()
    assert peak > 0
    np.testing.assert_allclose(t.image, c.image, rtol=0, atol=1e-9 * peak)
    if SCENES[scene].get("coherent"):
        np.testing.assert_allclose(t.real, c.real, rtol=0, atol=1e-9 * np.abs(c.real).max())
        np.testing.assert_allclose(t.imag, c.imag, rtol=0, atol=1e-9 * np.abs(c.imag).max())


def test_float32_torch_follows_the_c_engine(c_parity):
    c = render("c", c_parity)
    t = nb.point_scatterers(ATOMS, backend="torch", dtype="float32", c_parity=c_parity, **SMALL)
    np.testing.assert_allclose(t.image, c.image, rtol=0, atol=1e-4 * c.image.max())


def _long_double_image(result, far_source: bool) -> np.ndarray:
    """The corrected incoherent image of ATOMS (one source, no oversampling) with every
    path and phase in long double: 64-bit mantissas put a phase of 6e11 radians (the
    default source at 10 m) within 1e-7 radians."""
    ld = np.longdouble
    p = result.params
    atoms = scatterer_atoms(atom_table(ATOMS, c_parity=False), c_parity=False)
    config = nb.ScattererConfig(atoms=ATOMS, far_source=far_source, oversample=1, **SMALL)
    sources = scatterer_sources(config, result.grids, c_parity=False)
    xyz = np.asarray(atoms.position_m).astype(ld)
    src = np.asarray(sources.position_m)[0].astype(ld)
    direction = np.asarray(sources.direction)[0].astype(ld)
    lam = ld(sources.wavelength_m[0])
    two_pi = 8 * np.arctan(ld(1))
    slow, fast = np.meshgrid(np.arange(p.spixels), np.arange(p.fpixels), indexing="ij")
    X = p.pixel_size_m * fast + p.pixel_size_m / 2.0
    Y = p.pixel_size_m * slow + p.pixel_size_m / 2.0
    pos = (X[..., None] * np.asarray(p.fdet) + Y[..., None] * np.asarray(p.sdet)
           + np.asarray(p.pix0_m)).astype(ld)                           # (S, F, 3)
    out_vec = pos[:, :, None, :] - xyz                                  # (S, F, N, 3)
    out = np.sqrt((out_vec * out_vec).sum(-1))
    if far_source:
        in_path, S0, weight = xyz @ direction, direction, ld(1)
    else:
        in_vec = xyz - src
        in_path = np.sqrt((in_vec * in_vec).sum(-1))
        S0, weight = in_vec / in_path[:, None], np.sqrt((src * src).sum()) / in_path
    phase = two_pi * (in_path + out) / lam + np.asarray(atoms.phase_rad).astype(ld)
    q = (out_vec / out[..., None] - S0) / (lam * ld(1e10))
    dwf = np.asarray(atoms.occupancy).astype(ld) * np.exp(
        -np.asarray(atoms.B_A2).astype(ld) * (q * q).sum(-1) / 4)
    amplitude = weight * dwf / out
    F2 = (amplitude * np.cos(phase)).sum(-1) ** 2 + (amplitude * np.sin(phase)).sum(-1) ** 2
    R = np.sqrt((pos * pos).sum(-1))
    omega = p.pixel_size_m ** 2 * np.abs(pos @ np.asarray(p.odet).astype(ld)) / R
    return np.asarray(F2 * omega * ld(p.fluence_per_m2) * ld(7.94079248018965e-30), float)


@pytest.mark.skipif(np.finfo(np.longdouble).eps > 1e-18, reason="needs an 80-bit long double")
@pytest.mark.parametrize(("far_source", "tolerance"), [(False, 3e-7), (True, 1e-8)],
                         ids=("near", "far"))
def test_corrected_sums_hold_their_phases_to_long_double_accuracy(engine, far_source,
                                                                  tolerance):
    # the original's double phases (some 6e11 radians for the source at 10 m, 2e9 for a far
    # one) move pixels by 1e-4 and 3e-7 of the peak here; the long double reference is
    # good to about 1e-7 and 1e-10
    result = nb.point_scatterers(ATOMS, backend=engine, far_source=far_source, oversample=1,
                                 **SMALL)
    expected = _long_double_image(result, far_source)
    np.testing.assert_allclose(result.image, expected, rtol=0, atol=tolerance * expected.max())


def test_threads_do_not_change_the_image(c_parity):
    one = nb.point_scatterers(ATOMS, threads=1, c_parity=c_parity, **SMALL).image
    two = nb.point_scatterers(ATOMS, threads=2, c_parity=c_parity, **SMALL).image
    assert np.array_equal(one, two)


def test_progress_reports_and_cancels(engine):
    seen = []
    nb.point_scatterers(ATOMS, backend=engine, progress=lambda done, total: seen.append(
        (done, total)), **SMALL)
    assert seen
    assert seen[-1][0] == seen[-1][1]
    for answer in (False, 0):
        with pytest.raises(RuntimeError, match="cancelled by the progress callback"):
            nb.point_scatterers(ATOMS, backend=engine,
                                progress=lambda done, total, answer=answer: answer, **SMALL)


def test_the_roi_alone_is_rendered(engine):
    image = render(engine, False, roi=(2, 6, 1, 5)).image
    assert np.all(image[1:6, 2:7] > 0)
    image[1:6, 2:7] = 0
    assert not image.any()


def test_accumulation_adds_to_the_given_images(engine, c_parity):
    once = render(engine, c_parity)
    twice = render(engine, c_parity, image=once.image)
    np.testing.assert_allclose(twice.image, 2 * once.image, rtol=1e-12)
    coherent = render(engine, c_parity, coherent=True)
    again = render(engine, c_parity, coherent=True, real=coherent.real, imag=coherent.imag)
    # the mean amplitude per term stays; the intensity of twice the amplitude is 4 times
    np.testing.assert_allclose(again.real, 2 * coherent.real, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(again.image, 4 * coherent.image, rtol=1e-5)


def test_incoherent_sum_of_one_atom_is_its_inverse_square(engine, c_parity):
    r = nb.point_scatterers([(0, 0, 0)], backend=engine, c_parity=c_parity, far_source=True,
                            fpixels=1, spixels=1, beam_x_mm=0.05, beam_y_mm=0.05)
    # r_e^2 x fluence = 1, pixel^2 / distance^2 = 1e-6 at the beam centre
    assert r.image[0, 0] == pytest.approx(1e-6, rel=1e-12)


# ---- each quirk in both modes on both engines -------------------------------------------

QUIRK_SCENES = {
    "near_truncated_pi": {},
    "near_curved_detector_mirrored": {"curved": True, "far_source": True, "coherent": True},
    "near_solid_angle_ignores_tilt": {"far_source": True, "pix0_vector_m": (0.06, 0.002, -0.002)},
    "near_far_source_ignores_divergence": {"far_source": True, "hdiv_range_mrad": 40,
                                           "hdiv_steps": 3},
    "near_source_inverse_square": {},
    "near_solid_angle_last_subpixel": {"far_source": True, "oversample": 3},
    "near_beam_centre_off_by_pixel": {"far_source": True},
    "near_divergence_atan": {"hdiv_range_mrad": 300, "hdiv_steps": 3, "source_distance_mm": 100},
    "near_default_phase": {"far_source": True, "coherent": True},
    "near_detector_vectors_as_given": {"far_source": True, "fdet_vector": (0, 0, 2),
                                       "twotheta_deg": 5, "spindle_axis": (0, 0, 1.5)},
}
"""A scene in which the quirk changes the image; the other quirks held equal in both
modes where they would also (beam centre given, far source, phases given)."""


def _scene(name, engine, c_parity):
    settings = {**SMALL, **QUIRK_SCENES[name]}
    atoms = ATOMS
    if name != "near_beam_centre_off_by_pixel":
        settings |= {"beam_x_mm": 2.1, "beam_y_mm": 1.9}
    if name == "near_default_phase":
        atoms = ATOMS[:, :5]
    return nb.point_scatterers(atoms, backend=engine, c_parity=c_parity, **settings)


@pytest.mark.parametrize("name", sorted(QUIRK_SCENES))
def test_each_quirk_differs_between_the_modes_the_same_way_on_both_engines(name):
    images = {(engine, mode): _scene(name, engine, mode)
              for engine in ("c", "torch") for mode in (False, True)}
    field = "imag" if QUIRK_SCENES[name].get("coherent") else "image"
    values = {key: getattr(r, field) for key, r in images.items()}
    for mode in (False, True):
        c, t = values[("c", mode)], values[("torch", mode)]
        np.testing.assert_allclose(t, c, rtol=0, atol=1e-9 * np.abs(c).max())
    legacy, corrected = values[("c", True)], values[("c", False)]
    if name == "near_truncated_pi":
        legacy, corrected = legacy / legacy.max(), corrected / corrected.max()
    assert np.abs(legacy - corrected).max() > 1e-6 * np.abs(corrected).max()


def test_source_inverse_square_is_a_factor_of_the_source_distance_squared():
    near = nb.point_scatterers([(0, 0, 0)], c_parity=True, fpixels=1, spixels=1)
    far = nb.point_scatterers([(0, 0, 0)], c_parity=True, fpixels=1, spixels=1,
                              far_source=True)
    fixed = nb.point_scatterers([(0, 0, 0)], fpixels=1, spixels=1)
    assert near.image[0, 0] == pytest.approx(far.image[0, 0] / 100, rel=1e-9)
    assert fixed.image[0, 0] == pytest.approx(far.image[0, 0], rel=1e-6)


def test_step_grid_is_centred_when_corrected():
    assert step_grid("h", 1.0, 0.5, None, c_parity=True).values(c_parity=True) == [-0.5, 0.0]
    assert step_grid("h", 1.0, 0.5, None, c_parity=False).values(c_parity=False) == \
        [-0.5, 0.0, 0.5]
    assert step_grid("h", None, None, 4, c_parity=True).range == 1.0
    with pytest.raises(ValueError, match="h: a count of 4"):
        step_grid("h", None, None, 4, c_parity=False)


def test_divergence_places_sources_by_atan_with_c_parity():
    config = nb.ScattererConfig(atoms=ATOMS, hdiv_range_mrad=400, source_distance_mm=1000)
    for c_parity, expected in ((True, np.arctan(-0.2)), (False, np.tan(-0.2))):
        sources = scatterer_sources(config, source_grids(config, c_parity=c_parity),
                                    c_parity=c_parity)
        assert sources.position_m[0, 1] == pytest.approx(expected, rel=1e-12)


def test_atom_tables_of_3_to_6_columns(engine):
    full = render(engine, False)
    for columns in (3, 4, 5):
        padded = ATOMS.copy()
        padded[:, columns:] = (1.0, 0.0, 0.0)[columns - 3:]
        expected = nb.point_scatterers(padded, backend=engine, **SMALL).image
        got = nb.point_scatterers(ATOMS[:, :columns], backend=engine, **SMALL).image
        np.testing.assert_array_equal(got, expected)
    assert full.image.shape == (8, 10)
    with pytest.raises(ValueError, match=r"atoms: an array of shape \(12, 2\)"):
        nb.point_scatterers(ATOMS[:, :2], backend=engine, **SMALL)


# ---- gradients ---------------------------------------------------------------------------

def test_gradients_follow_finite_differences_of_the_c_engine():
    settings = {"fpixels": 6, "spixels": 6, "pixel_size_mm": 2.0, "distance_mm": 20.0,
                "far_source": True}
    atoms = ATOMS[:5]
    weights = np.random.default_rng(3).uniform(0.5, 1.5, (6, 6))
    table = torch.tensor(atoms, dtype=torch.float64, requires_grad=True)
    image = nb.point_scatterers(table, backend="torch", **settings).image_tensor
    (image * torch.as_tensor(weights)).sum().backward()
    assert table.grad is not None
    grad = table.grad.numpy()

    def loss(values):
        return float((nb.point_scatterers(values, **settings).image * weights).sum())

    # steps small against a fringe, large against the C engine's rounding of the phases
    for row, column, step in ((0, 0, 3e-3), (2, 1, 3e-3), (4, 2, 3e-3), (1, 3, 1e-4),
                              (3, 3, 1e-4)):
        up, down = atoms.copy(), atoms.copy()
        up[row, column] += step
        down[row, column] -= step
        numeric = (loss(up) - loss(down)) / (2 * step)
        assert grad[row, column] == pytest.approx(numeric, rel=1e-3)
