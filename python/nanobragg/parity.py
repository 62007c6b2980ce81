"""The registry of the original program's quirks that ``c_parity`` switches.

``c_parity=True`` reproduces every quirk below, so images match the original's
bit for bit; ``c_parity=False`` applies each fix.  Every entry has a file
``bugs/<name>.md`` (what the original does, why it is wrong, the fix, and an
in-process reproduction) and tests showing both modes.

Each entry lists its sites (:class:`Site`): every function that implements the quirk or
the correction that replaces it, in both engines for a quirk of an engine stage.  Each of
those functions carries the comment ``quirk <name>``; ``tests/test_quirk_sites.py`` holds
the two to each other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Site:
    """A function that implements a quirk, or the correction that replaces it."""

    path: str
    """The file, from the repository root (``csrc/engine/nb_geometry.c``)."""
    function: str
    """The function whose body carries ``quirk <name>`` (Python: ``Class.method`` for a
    method; a function also holds the functions defined inside it)."""


@dataclass(frozen=True)
class Quirk:
    name: str
    stage: str
    """Where it lives: an engine stage (detector_geometry, crystal_vectors, sources,
    mosaic_rotations, render, add_noise, detector_response), implemented by both
    engines, or the shared Python code that runs before them (cli, io, sampling,
    seeds)."""
    legacy: str
    """What the original does (c_parity=True)."""
    corrected: str
    """What c_parity=False does instead."""
    sites: tuple[Site, ...]
    """Every function that carries ``quirk <name>``."""


_C = "csrc/engine/"
_TORCH = "python/nanobragg/engines/torch/"
_PY = "python/nanobragg/"


_QUIRKS = (
    Quirk("phi_carryover", "render",
          "A phi step whose angle is exactly 0 does not rotate the crystal and keeps the "
          "rotation left by the previous loop iteration (the last phi step of the previous "
          "source, sub-pixel or pixel); only the first pixel sees the unrotated crystal.",
          "Every phi step rotates the phi = 0 crystal by its own angle.",
          sites=(Site(_C + "nb_scene.c", "build_carryover_tables"),
                 Site(_C + "nb_render.c", "legacy_passes"),
                 Site(_C + "nb_render_legacy.c", "legacy_pixel"),
                 Site(_C + "nb_trace.c", "nb_trace_pixel"),
                 Site(_TORCH + "scene.py", "axes_tables"),
                 Site(_TORCH + "render.py", "_legacy_passes"),
                 Site(_TORCH + "legacy.py", "render_legacy"),
                 Site(_TORCH + "legacy.py", "_entry_indices"),
                 Site(_TORCH + "trace.py", "trace_pixel"),
                 Site(_TORCH + "trace.py", "_term_columns"),
                 Site(_PY + "trace.py", "PixelTracer._state"))),
    Quirk("factors_from_first_subpixel", "render",
          "Solid angle and polarization are computed once per pixel (first sub-pixel, first "
          "source passing the dmin cut) and the capture fraction of the last sensor layer "
          "multiplies the sum of all layers.",
          "Solid angle per sub-pixel, polarization per sub-pixel and source, capture fraction "
          "per layer and sub-pixel, each multiplying its own terms.",
          sites=(Site(_C + "nb_render_legacy.c", "legacy_pixel"),
                 Site(_C + "nb_render_corrected.c", "corrected_pixel"),
                 Site(_TORCH + "legacy.py", "held_factors"),
                 Site(_TORCH + "legacy.py", "_pixel_value"),
                 Site(_TORCH + "corrected.py", "render_corrected"))),
    Quirk("running_sum_factors", "render",
          "With -oversample_omega/-oversample_polar/-oversample_thick the factor multiplies "
          "the running sum after every term, scaling earlier terms many times.",
          "The factor multiplies only the new term (the flags then change nothing, since "
          "corrected factors are always per sub-pixel).",
          sites=(Site(_C + "nb_render_legacy.c", "legacy_pixel"),
                 Site(_TORCH + "legacy.py", "running_sum"))),
    Quirk("interpolation_switch_off", "render",
          "The first pixel (in loop order) whose 4x4x4 interpolation stencil leaves the HKL "
          "grid switches tricubic interpolation off for the rest of the run.",
          "Terms whose stencil leaves the grid use the nearest structure factor; "
          "interpolation stays on for all others.",
          sites=(Site(_C + "nb_render_legacy.c", "legacy_pixel"),
                 Site(_C + "nb_render.c", "legacy_passes"),
                 Site(_C + "nb_render_corrected.c", "corrected_terms"),
                 Site(_C + "nb_render_lanes_body.h", "strip_terms"),
                 Site(_C + "nb_trace.c", "nb_trace_pixel"),
                 Site(_TORCH + "legacy.py", "_interpolated_F"),
                 Site(_TORCH + "render.py", "_legacy_passes"),
                 Site(_TORCH + "corrected.py", "render_corrected"),
                 Site(_TORCH + "trace.py", "trace_pixel"),
                 Site(_PY + "trace.py", "PixelTracer._state"))),
    Quirk("dmin_kills_background", "render",
          "A pixel whose every source is beyond -dmin never computes its polarization factor, "
          "which stays 0 and zeroes the water background there.",
          "The dmin cut removes Bragg terms only; the background is always kept.",
          sites=(Site(_C + "nb_render_legacy.c", "legacy_pixel"),
                 Site(_C + "nb_render_corrected.c", "corrected_source"),
                 Site(_C + "nb_render_corrected.c", "gather_lanes"),
                 Site(_TORCH + "legacy.py", "held_factors"),
                 Site(_TORCH + "corrected.py", "render_corrected"))),
    Quirk("water_background_scaling", "render",
          "The water background already contains r_e^2 * fluence, is multiplied by "
          "r_e^2 * fluence again and divided by the number of steps.",
          "Background = I_bg times the pixel's mean solid angle, polarization and capture, "
          "independent of the sampling.",
          sites=(Site(_C + "nb_render_legacy.c", "legacy_pixel"),
                 Site(_C + "nb_render_corrected.c", "render_pixels_corrected"),
                 Site(_TORCH + "legacy.py", "render_legacy"),
                 Site(_TORCH + "legacy.py", "running_sum"),
                 Site(_TORCH + "corrected.py", "render_corrected"))),
    Quirk("nopolar_overridden_by_oversample_polar", "render",
          "-oversample_polar recomputes the polarization factor even with -nopolar.",
          "-nopolar always means a polarization factor of 1.",
          sites=(Site(_C + "nb_render_legacy.c", "legacy_pixel"),
                 Site(_C + "nb_render_corrected.c", "corrected_source"),
                 Site(_C + "nb_render_lanes_body.h", "strip_geometry"),
                 Site(_TORCH + "legacy.py", "render_legacy"),
                 Site(_TORCH + "legacy.py", "held_factors"),
                 Site(_TORCH + "corrected.py", "render_corrected"))),
    Quirk("oversample_thick_without_thickness", "render",
          "-oversample_thick with no sensor thickness computes a capture fraction of "
          "exp(0) - exp(0) = 0 and returns an empty image.",
          "No thickness means a capture fraction of 1.",
          sites=(Site(_C + "nb_render_legacy.c", "legacy_pixel"),
                 Site(_C + "nb_render_corrected.c", "corrected_pixel"),
                 Site(_C + "nb_render_lanes_body.h", "strip_geometry"),
                 Site(_TORCH + "subpixel.py", "subpixels"),
                 Site(_TORCH + "legacy.py", "held_factors"))),
    Quirk("source_weight_unused", "render",
          "The weight column of a source file is read and ignored.",
          "Each source's terms are weighted by weight * n / sum(weights).",
          sites=(Site(_C + "nb_render_legacy.c", "legacy_pixel"),
                 Site(_C + "nb_render_corrected.c", "corrected_source"),
                 Site(_C + "nb_render_lanes_body.h", "strip_geometry"),
                 Site(_TORCH + "legacy.py", "render_legacy"),
                 Site(_TORCH + "corrected.py", "render_corrected"))),
    Quirk("random_misset_cap_in_radians", "crystal_vectors",
          "-misset random draws a rotation of up to '90' about a random axis, passing 90 "
          "radians where 90 degrees was meant.",
          "A rotation drawn uniformly from all orientations with the same generator.",
          sites=(Site(_C + "nb_crystal.c", "nb_random_misset"),
                 Site(_TORCH + "crystal.py", "crystal_vectors"),
                 Site(_PY + "legacy_random.py", "random_misset"))),
    Quirk("odet_replaced_when_not_unit", "detector_geometry",
          "A detector normal (-odet_vector) whose length is not exactly 1 is replaced by "
          "fdet x sdet.",
          "The given normal is normalised; only a zero vector is replaced.",
          sites=(Site(_C + "nb_geometry.c", "orientation_and_pivot"),
                 Site(_TORCH + "geometry.py", "orientation_and_pivot"))),
    Quirk("pivot_forced_by_convention", "detector_geometry",
          "MOSFLM, DENZO and ADXV always pivot about the beam spot, XDS and DIALS about the "
          "sample; -pivot only matters for CUSTOM vectors.",
          "An explicit detector.pivot is honoured in every convention (a command line "
          "still keeps -pivot under CUSTOM only, see specs/flags.md).",
          sites=(Site(_C + "nb_geometry.c", "orientation_and_pivot"),
                 Site(_TORCH + "geometry.py", "orientation_and_pivot"),
                 Site(_PY + "flags/mapping.py", "_to_config"))),
    Quirk("pix0_vector_ignored", "detector_geometry",
          "-pix0_vector only switches to the CUSTOM convention; the detector origin is "
          "always recomputed about the pivot (from the beam centre and distance, or the "
          "near point and close distance).",
          "A given pix0 vector (metres) is the detector origin.",
          sites=(Site(_C + "nb_geometry.c", "detector_origin"),
                 Site(_TORCH + "geometry.py", "detector_origin"))),
    Quirk("substring_flag_matching", "cli",
          "Flags are recognised by substring, so a flag containing another flag's name "
          "triggers both (-misset_seed also reads -misset, -twotheta_axis sets -twotheta, "
          "-printout_pixel turns -printout on).",
          "Flags match their exact names.",
          sites=(Site(_PY + "flags/table.py", "Flag.c_matches"),
                 Site(_PY + "flags/legacy.py", "parse_parity"),
                 Site(_PY + "flags/strict.py", "parse_strict"),
                 Site(_PY + "flags/noisify.py", "_matches"),
                 Site(_PY + "flags/nonbragg.py", "_parse_parity"))),
    Quirk("vector_flags_select_custom", "cli",
          "Any detector or beam vector flag silently switches to the CUSTOM convention.",
          "The switch stays (a named convention's beam-centre rules cannot apply to arbitrary "
          "vectors) but a ConventionWarning names the flag and the convention replaced when "
          "an earlier flag selected that convention (the default MOSFLM is replaced without "
          "one).",
          sites=(Site(_PY + "flags/record.py", "set_vector"),)),
    Quirk("twotheta_header_ignored", "cli",
          "The TWOTHETA value of an -img/-mask header is read into a variable that is never "
          "used.",
          "The header's TWOTHETA sets the detector two-theta (a -twotheta flag still wins).",
          sites=(Site(_PY + "flags/headers.py", "_ingest_header"),)),
    Quirk("misset_seed_ignores_seed", "seeds",
          "The random-misset seed defaults to the clock even when -seed is given, so "
          "-misset random is not reproducible without -misset_seed.",
          "An unset misset seed follows the noise seed.",
          sites=(Site(_PY + "seeds.py", "legacy_seeds"),)),
    Quirk("triclinic_cstar_z", "crystal_vectors",
          "The z component of c* built from a cell is c* V / (a b c sin gamma*) instead of "
          "1/c; lengths are imposed afterwards but the angles of a triclinic cell come out "
          "wrong (60 70 80 becomes 59.6 69.7 79.7).",
          "c*_z = 1/c: the cell has exactly the requested lengths and angles.",
          sites=(Site(_C + "nb_crystal.c", "reciprocal_from_cell"),
                 Site(_TORCH + "crystal.py", "reciprocal_from_cell"))),
    Quirk("spot_radius_units", "render",
          "Gaussian and top-hat spots measure the distance to the lattice point as "
          "|dh a* + dk b* + dl c*|^2 in 1/A^2 times Na^2 Nb^2 Nc^2, so the spot size depends "
          "on the cell edge and on N^6.",
          "The distance is (dh Na)^2 + (dk Nb)^2 + (dl Nc)^2, as for round crystals: spots of "
          "width 1/N along each axis whatever the cell.",
          sites=(Site(_C + "nb_lattice.h", "nb_lattice_factor"),
                 Site(_C + "nb_render_lanes_body.h", "strip_lattice"),
                 Site(_TORCH + "lattice.py", "lattice_factor"))),
    Quirk("lattice_factor_poles", "render",
          "The square crystal's lattice factor is sin(N pi h) / sin(pi h) of the fractional "
          "index h itself, which repeats at every whole h only for whole N: for a "
          "fractional N (from the Python API; the command line takes whole N) it has poles "
          "at whole h and its peaks differ from one lattice point to the next.",
          "The factor is sin(N pi d) / sin(pi d) of the distance d = h - h0 to the nearest "
          "lattice point: the same for whole N up to a sign that |F_latt|^2 cancels, and "
          "periodic for any N.",
          sites=(Site(_C + "nb_lattice.h", "nb_lattice_factor"),
                 Site(_TORCH + "lattice.py", "interference"))),
    Quirk("oversample_rounding_noise", "sampling",
          "The automatic oversampling is ceil(3 x crystal size / (wavelength x distance / "
          "pixel)), taken of a ratio carrying the rounding of the cell vectors: a ratio of "
          "3 in exact arithmetic may come out 3.0000000000000004 and give 4 sub-pixels.",
          "A relative excess below 1e-9 is taken as rounding and ignored.",
          sites=(Site(_PY + "stages/render.py", "choose_oversample"),)),
    Quirk("thicksteps_overcount", "sampling",
          "A sensor of thickness T in n layers is made of n layers T/(n - 1) deep, n/(n - 1) "
          "times thicker than asked (and 1 layer becomes 2).",
          "n layers of T/n.",
          sites=(Site(_PY + "sampling.py", "thickness_sweep"),)),
    Quirk("step_overrides_count", "sampling",
          "Giving a step and a count (no range) for phi or divergence makes 2 steps, "
          "whatever the count (a dispersion step cannot be given).",
          "The count is kept: the range is step x count for phi, step x (count - 1) for "
          "divergence.",
          sites=(Site(_PY + "sampling.py", "phi_sweep"), Site(_PY + "sampling.py", "range_sweep"))),
    Quirk("off_centre_grid", "sampling",
          "A divergence range with a step has ceil(range/step) points starting at -range/2, "
          "so the grid stops short of +range/2 and is not centred on the beam (a dispersion "
          "step cannot be given).",
          "As many whole steps as fit in the range, centred.",
          sites=(Site(_PY + "sampling.py", "range_sweep"),)),
    Quirk("transparent_sensor_captures_nothing", "sampling",
          "-detector_abs inf (or 0) with a sensor thickness gives an absorption coefficient "
          "of 0, so every capture fraction is 0 and the image is empty (the outcome depends "
          "on the order of -detector_abs and -detector_thick).",
          "No absorption means the sensor is not modelled: one layer, capture fraction 1.",
          sites=(Site(_PY + "sampling.py", "resolve_sampling"),
                 Site(_PY + "flags/record.py", "detector_abs"))),
    Quirk("polar_vector_not_orthogonalised", "detector_geometry",
          "A custom polarization vector is used as given even when it is not perpendicular "
          "to the beam, which tilts the divergence grid and the Kahn factor's E-B plane.",
          "The component along the beam is removed first (a vector parallel to the beam is "
          "an error in both modes).",
          sites=(Site(_C + "nb_geometry.c", "orientation_and_pivot"),
                 Site(_TORCH + "geometry.py", "orientation_and_pivot"))),
    Quirk("curved_detector_lab_axes", "render",
          "-curved_det turns the beam point about sdet by the flat pixel's lab y coordinate "
          "and about fdet by its lab z coordinate (over the distance), whatever the "
          "convention: in MOSFLM the slow offset moves pixels along fast and vice versa, in "
          "XDS and DIALS the beam axis itself is used.",
          "The angles are the pixel's fast offset (about sdet) and slow offset (about "
          "fdet) from the beam centre, over the distance.",
          sites=(Site(_C + "nb_subpixel.h", "subpixel_position"),
                 Site(_TORCH + "subpixel.py", "subpixels"),
                 Site(_C + "nb_amorphous.c", "amorphous_pixel"),
                 Site(_TORCH + "amorphous.py", "_block"))),
    Quirk("header_close_distance_overrides", "cli",
          "A CLOSE_DISTANCE in the header of an -img or -mask file fixes the detector "
          "distance even when -distance is given on the command line: the original then "
          "derives the distance from the header's close distance.",
          "An explicit -distance wins over the header's CLOSE_DISTANCE (an explicit "
          "-close_distance still wins over both).",
          sites=(Site(_PY + "flags/headers.py", "_ingest_header"),
                 Site(_PY + "flags/strict.py", "parse_strict"))),
    Quirk("distance_ratio_before_twotheta", "detector_geometry",
          "The detector distance along the beam and the direct-beam position are derived "
          "with the obliquity of the detector before its two-theta swing: with two-theta "
          "the reported distance and beam centre (and the SMV header, the curved detector "
          "and the automatic oversampling that use them) are not where the beam meets the "
          "detector.",
          "They are derived from the detector as it finally stands.",
          sites=(Site(_C + "nb_geometry.c", "derived_centres"),
                 Site(_TORCH + "geometry.py", "derived_centres"))),
    Quirk("divergence_count_spans_one_radian", "sampling",
          "A divergence step count without a range or a step spreads the steps over "
          "1 radian (57 degrees) of divergence.",
          "A count above 1 alone is an error naming the field (give a range or a step); a "
          "count of 1 alone is the beam itself.",
          sites=(Site(_PY + "sampling.py", "range_sweep"),
                 Site(_PY + "sampling.py", "resolve_sampling"))),
    Quirk("stol_file_unused", "io",
          "-stol/-4stol/-Q files are read and checked (a missing or empty one stops the "
          "run) and then never used: no background comes from them.",
          "Giving one is an error that says so, instead of a silently different image.",
          sites=(Site(_PY + "inputs.py", "load_inputs"),)),
    Quirk("fdump_silent_reuse", "io",
          "Without -hkl, structure factors are silently read from Fdump.bin left by any "
          "earlier run in the working folder.",
          "The file is still read, with a warning naming it.",
          sites=(Site(_PY + "inputs.py", "load_structure_factors"),)),
    Quirk("fdump_header_whitespace", "io",
          "Fdump.bin's header is read with a format that skips every whitespace byte after "
          "it, so when the first amplitude's lowest byte is a whitespace byte (0x09-0x0d or "
          "0x20) every amplitude is read shifted by that byte.",
          "The header ends with exactly the newline and form feed the writer puts there; "
          "the amplitudes are read from the next byte.",
          sites=(Site(_PY + "io/fdump.py", "read_fdump"),)),
    Quirk("psf_radius_per_pixel", "detector_response",
          "noisify cuts each pixel's PSF at a radius chosen from that pixel's own brightness "
          "(where its tail falls below sqrt(I)/10 photons) and spreads what lies beyond "
          "evenly over the whole image; under a Gaussian with the automatic radius, a pixel "
          "of fewer than 0.01 photons gets a NaN radius and vanishes from the image.",
          "One kernel, of the radius the brightest pixel (or the user) gives, for every "
          "pixel: every pixel keeps its photons; the tail beyond the kernel is still spread "
          "evenly.",
          sites=(Site(_C + "nb_response.c", "scatter_legacy"),
                 Site(_TORCH + "response.py", "_scatter_legacy"))),
    Quirk("psf_edge_wraps", "detector_response",
          "noisify's PSF accepts a neighbour one column past the right edge (x == width), "
          "whose photons land on the first pixel of the next row.",
          "Photons spread beyond any edge leave the detector.",
          sites=(Site(_C + "nb_response.c", "scatter_legacy"),
                 Site(_TORCH + "response.py", "_scatter_legacy"))),
    Quirk("negative_adu_wraps", "detector_response",
          "noisify casts a negative pixel value (read-out noise below a small ADC offset, "
          "a negative input) to an unsigned pixel, which on x86-64 wraps it to 65535 - n "
          "(16 bits) or 4294967295 - n (32 bits).",
          "A negative value is clipped to 0.",
          sites=(Site(_C + "nb_response.c", "legacy_pixel"),
                 Site(_TORCH + "response.py", "_legacy_pixels"))),
    Quirk("int32_expected_clipped", "detector_response",
          "noisify clips the noiseless image at 65535 before it makes either pixel size of "
          "it, so the 32-bit noiseless image saturates at 65535.",
          "The 32-bit noiseless image is clipped at 2147483647, as the noise image is.",
          sites=(Site(_C + "nb_response.c", "expected_pixel"),
                 Site(_TORCH + "response.py", "_expected_image"))),
    Quirk("calibration_follows_shot_seed", "detector_response",
          "noisify draws the calibration error from the generator state the shot noise "
          "uses (one shuffle table, one spare Gaussian deviate), so the calibration error "
          "of every pixel changes with -seed, though it is meant to be the same from shot "
          "to shot.",
          "The calibration error has a generator of its own: the same -calib_seed gives "
          "the same calibration error whatever -seed is.",
          sites=(Site(_C + "nb_response.c", "nb_response_shot_noise"),
                 Site(_C + "nb_response.c", "corrected_counts"),
                 Site(_TORCH + "response.py", "_corrected_counts"))),
    Quirk("short_float_file_padded", "cli",
          "noisify reads its float image as four items of the image's pixel count in "
          "bytes, so a file of a quarter of the image or more is taken, the missing pixels "
          "zero, and a longer file is cut silently.",
          "The file must hold exactly the image's pixels (4 bytes each); anything else is "
          "an error naming its size and the size expected.",
          sites=(Site(_PY + "cli/noisify_command.py", "read_image"),)),
    Quirk("hkl_stream_of_fours", "io",
          "HKL files are read as a stream of numbers four at a time, ignoring line breaks, "
          "so extra columns shift every later entry.",
          "One reflection per line; extra columns are ignored.",
          sites=(Site(_PY + "io/hkl.py", "read_hkl"), Site(_PY + "io/hkl.py", "_read_parity"))),
    Quirk("near_flag_substrings", "cli",
          "nearBragg tests every argument that starts with '-' against every flag by "
          "substring: -distance_mm sets the distance, -printout_pixel also turns on "
          "-printout, -curved_det is ignored as the last argument, values are read with "
          "atof/atoi (\"abc\" is 0).",
          "Each flag is spelt exactly, takes exactly its values, and numbers must be numbers "
          "(unknown flags are usage errors in both modes).",
          sites=(Site(_PY + "flags/near.py", "parse_near"),)),
    Quirk("near_atom_reader", "io",
          "nearBragg's atom list: every line that is not blank is a scatterer, its numbers "
          "read with atof after delimiters; a word reads as 0 and skipping it runs past the "
          "line's end, so every later column is 0 too (a comment line is a scatterer of "
          "occupancy 0 at the origin, counted in the log); on a last line without a "
          "newline the missing columns read as 0 (occupancy 0), not as their defaults.",
          "Blank lines and # comments are skipped; a line must hold 3 to 6 numbers, else the "
          "error names the line; an empty list is an error.",
          sites=(Site(_PY + "io/atoms.py", "_read_legacy"),)),
    Quirk("near_default_phase", "io",
          "A scatterer without a sixth column gets a phase of -90 degrees, which turns the "
          "real and imaginary images by 90 degrees.",
          "A missing phase is 0.",
          sites=(Site(_PY + "scatterers.py", "atom_table"),)),
    Quirk("near_step_grid", "sampling",
          "nearBragg's divergence, dispersion and depth sweeps start at -range/2 and take "
          "ceil(range/step) steps, so the sweep stops a step short of +range/2 and is off "
          "centre; a count alone spans 1 unit (1 radian, 100 %, 1 m).",
          "The whole steps that fit, floor(range/step) + 1, centred on 0; a count above 1 "
          "alone is an error.",
          sites=(Site(_PY + "stages/scatterers.py", "StepGrid.values"),
                 Site(_PY + "stages/scatterers.py", "step_grid"))),
    Quirk("near_beam_centre_off_by_pixel", "sampling",
          "The default direct beam is at ((width - pixel)/2, (height + pixel)/2): half a pixel "
          "below the centre along fast and half above along slow.",
          "The default direct beam is the detector's centre.",
          sites=(Site(_PY + "stages/scatterers.py", "beam_centre_m"),)),
    Quirk("near_divergence_atan", "sampling",
          "A source at divergence angle a is placed atan(a) x distance off the axis.",
          "tan(a) x distance, so that the source is seen at the angle a.",
          sites=(Site(_PY + "stages/scatterers.py", "scatterer_sources"),)),
    Quirk("near_detector_vectors_as_given", "sampling",
          "Detector vectors (-fdet_vector, -sdet_vector, -odet_vector) and the spindle axis "
          "are turned and used as given, so a vector that is not a unit vector stretches "
          "the pixel grid, the distance or the two-theta swing.",
          "They are made unit vectors (the shared detector_geometry stage).",
          sites=(Site(_PY + "stages/scatterers.py", "legacy_placement"),)),
    Quirk("near_truncated_pi", "point_scatterers",
          "nearBragg's pi and 2 pi are cut after 15 digits (3.14159265358979, "
          "6.28318530717959): every phase (some 1e9 radians) and every angle conversion "
          "carries their error.",
          "math.pi.",
          sites=(Site(_C + "nb_scatterers.c", "nb_point_scatterers"),
                 Site(_TORCH + "scatterers.py", "_legacy_waves"),
                 Site(_TORCH + "scatterers.py", "point_scatterers"),
                 Site(_PY + "stages/scatterers.py", "radians"))),
    Quirk("near_curved_detector_mirrored", "point_scatterers",
          "With -curved_det the point (distance, 0, 0) is turned about lab y by +z/distance, "
          "which puts a pixel that lies at +z on the -z side: the image is mirrored along "
          "the fast axis.",
          "The turn keeps each pixel on its own side.",
          sites=(Site(_C + "nb_scatterers.c", "subpixel_position"),
                 Site(_TORCH + "scatterers.py", "_subpixel_positions"))),
    Quirk("near_solid_angle_ignores_tilt", "point_scatterers",
          "The pixel's obliquity is taken as the -distance value over R, also where "
          "-pix0_vector or -odet_vector put the detector plane at another distance along "
          "its normal.",
          "The cosine between the ray and the detector normal (1 on a curved detector).",
          sites=(Site(_C + "nb_scatterers.c", "solid_angle_R2"),
                 Site(_TORCH + "scatterers.py", "_solid_angle_R2"))),
    Quirk("near_far_source_ignores_divergence", "point_scatterers",
          "With -source_distance far every source's path to an atom is the atom's x, so "
          "divergence does nothing, and the B factors' incident direction is +x.",
          "Each source is a plane wave along its own direction.",
          sites=(Site(_C + "nb_scatterers.c", "source_to_atom"),
                 Site(_TORCH + "scatterer_waves.py", "source_paths"))),
    Quirk("near_source_inverse_square", "point_scatterers",
          "Each wave is divided by its path from the source, so a near source dims the "
          "image by 1/distance^2 (the default 10 m source by 100) although the fluence is "
          "given at the sample.",
          "Each wave is 1 at the origin: the path ratio |source| / |source - atom|.",
          sites=(Site(_C + "nb_scatterers.c", "wave_tables"),
                 Site(_C + "nb_scatterers.c", "add_atoms_legacy"),
                 Site(_TORCH + "scatterer_waves.py", "wave_tables"),
                 Site(_TORCH + "scatterers.py", "_legacy_waves"))),
    Quirk("near_solid_angle_last_subpixel", "point_scatterers",
          "With -oversample the whole pixel is multiplied by the last sub-pixel's solid "
          "angle.",
          "Each sub-pixel by its own (coherent sums: the sub-pixels' mean).",
          sites=(Site(_C + "nb_scatterers.c", "scatter_pixel"),
                 Site(_TORCH + "scatterers.py", "_chunk"))),
    Quirk("stol_table_end_points", "amorphous",
          "nonBragg puts two far points (sin(theta)/lambda of 1e98 and 1e99, and their "
          "negatives) at the ends of its table and interpolates through them, so beyond the "
          "last row F runs on along the line through the last two rows (to negative F, "
          "counted as negative intensity) and the end intervals are quadratic; it finds the "
          "rows by walking from the previous term's row, so a table that does not rise "
          "strictly gives an F that depends on the pixel order.",
          "F is held at the first and last rows' values outside the table and interpolated "
          "inside it from the four rows around each term; the table must rise strictly.",
          sites=(Site(_PY + "stages/amorphous.py", "stol_table"),
                 Site(_C + "nb_amorphous.c", "table_F"),
                 Site(_C + "nb_amorphous.c", "nb_amorphous"),
                 Site(_TORCH + "amorphous.py", "table_F"))),
    Quirk("stol_table_comment_rows", "io",
          "nonBragg reads its table with the reader of source files: a comment or header "
          "line is a row (its words read as 0), a line with one number has F = 0, any "
          "order and any length is taken.",
          "Every line is two numbers; comments, blank lines, short or unsorted tables are "
          "errors naming the line.",
          sites=(Site(_PY + "amorphous_scattering.py", "read_strict_table"),)),
    Quirk("amorphous_source_weights", "io",
          "nonBragg multiplies each source's terms by its weight from the source file as "
          "written, so weights that do not average 1 scale the whole image.",
          "The weights are relative: scaled to a mean of 1.",
          sites=(Site(_PY + "amorphous_scattering.py", "source_weights"),)),
    Quirk("amorphous_rmsd_shifted", "cli",
          "nonBragg's rmsd (printed, and the default PGM scale 250 / (5 rmsd)) is taken over "
          "the pixel after each ROI pixel, the last one's being 0.",
          "The rmsd of the ROI pixels themselves.",
          sites=(Site(_PY + "amorphous_result.py", "AmorphousResult.statistics"),)),
    Quirk("pgm_reads_past_image", "io",
          "nonBragg writes two bytes per pixel from its one-byte PGM image: the second half "
          "of the file is whatever memory follows the image, different from run to run.",
          "One byte per pixel (c_parity writes zeros for the unreproducible half).",
          sites=(Site(_PY + "amorphous_result.py", "AmorphousResult.pgm_bytes"),)),
    Quirk("amorphous_solid_angle_oversampled", "cli",
          "nonBragg's 'solid angle subtended by detector' adds a whole pixel's solid angle "
          "for every sub-pixel: oversample^2 times too much.",
          "The solid angle of the rendered pixels.",
          sites=(Site(_PY + "cli/nonbragg_command.py", "run"),)),
    Quirk("nopgm_ignored", "cli",
          "nonBragg reads -nopgm and never looks at it: image.pgm is written anyway.",
          "-nopgm leaves the PGM image out.",
          sites=(Site(_PY + "cli/nonbragg_command.py", "run"),)),
    Quirk("img_mmap_address", "cli",
          "nonBragg -img prints the memory address it loaded the image at, different from "
          "run to run.",
          "No address line (c_parity prints the line with '(nil)' for the address).",
          sites=(Site(_PY + "cli/nonbragg_command.py", "run"),)),
    Quirk("img_header_twotheta_ignored", "cli",
          "nonBragg -img reads the header's TWOTHETA into its scattering angle, which it "
          "overwrites: the detector is not swung.",
          "The detector takes the header's two-theta.",
          sites=(Site(_PY + "cli/nonbragg_img.py", "read_image_input"),)),
    Quirk("img_byte_order_ignored", "cli",
          "nonBragg -img reads the image's pixels in the machine's byte order, whatever "
          "the header's BYTE_ORDER: a big-endian image is read byte-swapped.",
          "The pixels in the header's byte order.",
          sites=(Site(_PY + "cli/nonbragg_img.py", "read_image_input"),)),
    Quirk("img_stats_count", "cli",
          "After nonBragg -img bins the image, its mean and rms (printed, and the rmsd and "
          "PGM scale that follow) divide by the last table row's pixel count.",
          "They divide by the ROI's pixel count.",
          sites=(Site(_PY + "cli/nonbragg_img.py", "stol_bins"),)),
    Quirk("stolout_median_unset", "cli",
          "nonBragg's stolout file and warnings give a median and MAD it never computes "
          "(its outlier rejection cannot be turned on): whatever the variables hold, 0.",
          "The median and the median absolute deviation of the row's F.",
          sites=(Site(_PY + "cli/nonbragg_img.py", "stol_bins"),)),
    Quirk("stolout_bins_overwritten", "cli",
          "nonBragg -img writes the F of the pixels outside the ROI (0) and of the ignored "
          "ones past the space of their bin, over the following table rows' values.",
          "Each row holds its own pixels.",
          sites=(Site(_PY + "cli/nonbragg_img.py", "_legacy_members"),)),
)

QUIRKS: dict[str, Quirk] = {q.name: q for q in _QUIRKS}
