// nanobragg._core: the pybind11 face of the C engine.  It converts Python
// values to the engine's structs, checks array shapes, releases the GIL while
// rendering and turns engine status codes into Python exceptions.  Physics
// validation happens earlier, in nanobragg.validation.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

extern "C" {
#include "nanobragg.h"
}

namespace py = pybind11;
using Array = py::array_t<double, py::array::c_style | py::array::forcecast>;

namespace {

class LegacyRandom {
  public:
    LegacyRandom() { nb_random_init(&state); }
    nb_random_state state;
};

double get_double(const py::dict &d, const char *key)
{
    if (!d.contains(key)) throw py::key_error(std::string("missing engine parameter ") + key);
    return py::cast<double>(d[key]);
}

long get_long(const py::dict &d, const char *key)
{
    if (!d.contains(key)) throw py::key_error(std::string("missing engine parameter ") + key);
    return py::cast<long>(d[key]);
}

void get_vec3(const py::dict &d, const char *key, double out[3])
{
    if (!d.contains(key)) throw py::key_error(std::string("missing engine parameter ") + key);
    auto seq = py::cast<std::array<double, 3>>(d[key]);
    for (int i = 0; i < 3; ++i) out[i] = seq[i];
}

py::list vec3(const double v[3])
{
    py::list out;
    for (int i = 0; i < 3; ++i) out.append(v[i]);
    return out;
}

Array rows_of(const Array &a, long rows, long cols, const char *what)
{
    if (a.ndim() != 2 || a.shape(0) != rows || a.shape(1) != cols)
        throw py::value_error(std::string(what) + " must have shape (" + std::to_string(rows) + ", " +
                              std::to_string(cols) + ")");
    return a;
}

py::dict detector_geometry(const py::dict &d)
{
    nb_detector_input in;
    nb_detector_geometry g;
    std::memset(&in, 0, sizeof in);
    in.c_parity = (int)get_long(d, "c_parity");
    in.convention = (int)get_long(d, "convention");
    in.pivot = (int)get_long(d, "pivot");
    in.pixel_size = get_double(d, "pixel_size");
    in.fpixels = (int)get_long(d, "fpixels");
    in.spixels = (int)get_long(d, "spixels");
    in.detsize_f = get_double(d, "detsize_f");
    in.detsize_s = get_double(d, "detsize_s");
    in.distance = get_double(d, "distance");
    in.close_distance = get_double(d, "close_distance");
    in.Xbeam = get_double(d, "Xbeam");
    in.Ybeam = get_double(d, "Ybeam");
    in.Xclose = get_double(d, "Xclose");
    in.Yclose = get_double(d, "Yclose");
    in.ORGX = get_double(d, "ORGX");
    in.ORGY = get_double(d, "ORGY");
    in.rotx = get_double(d, "rotx");
    in.roty = get_double(d, "roty");
    in.rotz = get_double(d, "rotz");
    in.twotheta = get_double(d, "twotheta");
    get_vec3(d, "fdet", in.fdet);
    get_vec3(d, "sdet", in.sdet);
    get_vec3(d, "odet", in.odet);
    get_vec3(d, "beam", in.beam);
    get_vec3(d, "polar", in.polar);
    get_vec3(d, "spindle", in.spindle);
    get_vec3(d, "twotheta_axis", in.twotheta_axis);
    in.has_pix0 = (int)get_long(d, "has_pix0");
    get_vec3(d, "pix0", in.pix0);
    nb_detector_geometry_compute(&in, &g);

    py::dict out;
    out["fpixels"] = g.fpixels;
    out["spixels"] = g.spixels;
    out["pixel_size"] = g.pixel_size;
    out["detsize_f"] = g.detsize_f;
    out["detsize_s"] = g.detsize_s;
    out["pivot"] = g.pivot;
    out["fdet"] = vec3(g.fdet);
    out["sdet"] = vec3(g.sdet);
    out["odet"] = vec3(g.odet);
    out["pix0"] = vec3(g.pix0);
    out["beam"] = vec3(g.beam);
    out["polar"] = vec3(g.polar);
    out["vert"] = vec3(g.vert);
    out["spindle"] = vec3(g.spindle);
    out["distance"] = g.distance;
    out["close_distance"] = g.close_distance;
    out["Xbeam"] = g.Xbeam;
    out["Ybeam"] = g.Ybeam;
    out["Fbeam"] = g.Fbeam;
    out["Sbeam"] = g.Sbeam;
    out["Xclose"] = g.Xclose;
    out["Yclose"] = g.Yclose;
    out["Fclose"] = g.Fclose;
    out["Sclose"] = g.Sclose;
    out["ORGX"] = g.ORGX;
    out["ORGY"] = g.ORGY;
    out["dials_origin_mm"] = vec3(g.dials_origin_mm);
    return out;
}

py::dict crystal_vectors(const py::dict &d, LegacyRandom &rng)
{
    nb_crystal_input in;
    nb_crystal out;
    std::memset(&in, 0, sizeof in);
    in.c_parity = (int)get_long(d, "c_parity");
    in.has_cell = (int)get_long(d, "has_cell");
    auto cell = py::cast<std::array<double, 6>>(d["cell"]);
    for (int i = 0; i < 6; ++i) in.cell[i] = cell[i];
    in.has_matrix = (int)get_long(d, "has_matrix");
    auto matrix = py::cast<std::array<double, 9>>(d["matrix"]);
    for (int i = 0; i < 9; ++i) in.matrix[i] = matrix[i];
    in.lambda0 = get_double(d, "lambda0");
    in.has_misset = (int)get_long(d, "has_misset");
    get_vec3(d, "misset", in.misset);
    in.misset_random = (int)get_long(d, "misset_random");
    in.misset_seed = get_long(d, "misset_seed");
    get_vec3(d, "sample_size", in.sample_size);
    get_vec3(d, "N", in.N);
    nb_crystal_vectors(&in, &rng.state, &out);

    py::dict r;
    r["a"] = vec3(out.a);
    r["b"] = vec3(out.b);
    r["c"] = vec3(out.c);
    r["a_star"] = vec3(out.a_star);
    r["b_star"] = vec3(out.b_star);
    r["c_star"] = vec3(out.c_star);
    r["cell"] = py::make_tuple(out.cell[0], out.cell[1], out.cell[2], out.cell[3], out.cell[4],
                               out.cell[5]);
    r["reciprocal_cell"] =
        py::make_tuple(out.reciprocal_cell[0], out.reciprocal_cell[1], out.reciprocal_cell[2],
                       out.reciprocal_cell[3], out.reciprocal_cell[4], out.reciprocal_cell[5]);
    r["volume_A3"] = out.volume_A3;
    r["misset"] = vec3(out.misset);
    r["N"] = vec3(out.N);
    r["size"] = vec3(out.size);
    return r;
}

nb_source_grid source_grid(const py::dict &d)
{
    nb_source_grid g;
    std::memset(&g, 0, sizeof g);
    g.lambda0 = get_double(d, "lambda0");
    get_vec3(d, "beam", g.beam);
    get_vec3(d, "polar", g.polar);
    get_vec3(d, "vert", g.vert);
    g.hdivsteps = (int)get_long(d, "hdivsteps");
    g.vdivsteps = (int)get_long(d, "vdivsteps");
    g.dispsteps = (int)get_long(d, "dispsteps");
    g.hdivrange = get_double(d, "hdivrange");
    g.hdivstep = get_double(d, "hdivstep");
    g.vdivrange = get_double(d, "vdivrange");
    g.vdivstep = get_double(d, "vdivstep");
    g.dispersion = get_double(d, "dispersion");
    g.dispstep = get_double(d, "dispstep");
    g.round_div = (int)get_long(d, "round_div");
    g.source_distance = get_double(d, "source_distance");
    return g;
}

py::dict sources(const py::dict &d, py::object table_obj)
{
    nb_source_grid g = source_grid(d);
    int n, divsteps = 0;
    Array table;
    if (!table_obj.is_none()) {
        table = py::cast<Array>(table_obj);
        if (table.ndim() != 2 || table.shape(1) != 5)
            throw py::value_error("source table must have shape (n, 5)");
        n = (int)table.shape(0);
    } else {
        n = nb_source_count(&g, &divsteps);
    }
    Array direction({(py::ssize_t)n, (py::ssize_t)3});
    Array wavelength({(py::ssize_t)n});
    Array weight({(py::ssize_t)n});
    if (!table_obj.is_none())
        nb_sources_from_table(&g, table.data(), n, direction.mutable_data(),
                              wavelength.mutable_data(), weight.mutable_data());
    else
        nb_sources_from_grid(&g, direction.mutable_data(), wavelength.mutable_data(),
                             weight.mutable_data());
    py::dict out;
    out["direction"] = direction;
    out["wavelength"] = wavelength;
    out["weight"] = weight;
    out["divergence_steps"] = divsteps;
    return out;
}

Array mosaic_rotations(double spread, int n, long seed, LegacyRandom &rng)
{
    Array umats({(py::ssize_t)n, (py::ssize_t)3, (py::ssize_t)3});
    nb_mosaic_rotations(spread, n, &seed, &rng.state, umats.mutable_data());
    return umats;
}

py::tuple mosaic_axes(double spread, int n, long seed, LegacyRandom &rng)
{
    Array axes({(py::ssize_t)n, (py::ssize_t)3});
    Array angles({(py::ssize_t)n});
    nb_mosaic_axes(spread, n, &seed, &rng.state, axes.mutable_data(), angles.mutable_data());
    return py::make_tuple(axes, angles);
}

py::tuple random_misset(int c_parity, long seed, LegacyRandom &rng)
{
    double misset[3];
    nb_random_misset(c_parity, seed, &rng.state, misset);
    return py::make_tuple(misset[0], misset[1], misset[2]);
}

int progress_trampoline(void *user, long done, long total)
{
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) return 1;
    auto *callback = static_cast<py::object *>(user);
    if (callback->is_none()) return 0;
    // no C++ exception may unwind through the engine's C frames: every failure
    // becomes a pending Python error and a cancellation
    try {
        py::object keep_going = (*callback)(done, total);
        if (keep_going.is_none()) return 0;
        int truth = PyObject_IsTrue(keep_going.ptr());
        return truth == 1 ? 0 : 1;
    } catch (py::error_already_set &error) {
        error.restore();
        return 1;
    } catch (const std::exception &error) {
        PyErr_SetString(PyExc_RuntimeError, error.what());
        return 1;
    } catch (...) {
        PyErr_SetString(PyExc_RuntimeError, "progress callback failed");
        return 1;
    }
}

// The render parameters from Python values; the arrays it points into are the
// caller's or are held here.
struct RenderSetup {
    nb_render_params p;
    Array Fhkl;
    py::array_t<uint8_t, py::array::c_style | py::array::forcecast> mask;
};

void render_setup(RenderSetup &setup, const py::dict &d, const Array &source_direction,
                  const Array &source_wavelength, const Array &source_weight,
                  const Array &mosaic_umats, py::object Fhkl_obj, py::object mask_obj)
{
    nb_render_params &p = setup.p;
    std::memset(&p, 0, sizeof p);
    p.c_parity = (int)get_long(d, "c_parity");
    p.fpixels = (int)get_long(d, "fpixels");
    p.spixels = (int)get_long(d, "spixels");
    p.pixel_size = get_double(d, "pixel_size");
    p.oversample = (int)get_long(d, "oversample");
    p.oversample_thick = (int)get_long(d, "oversample_thick");
    p.oversample_polar = (int)get_long(d, "oversample_polar");
    p.oversample_omega = (int)get_long(d, "oversample_omega");
    get_vec3(d, "fdet", p.fdet);
    get_vec3(d, "sdet", p.sdet);
    get_vec3(d, "odet", p.odet);
    get_vec3(d, "pix0", p.pix0);
    get_vec3(d, "beam", p.beam);
    get_vec3(d, "polar_vector", p.polar_vector);
    get_vec3(d, "spindle", p.spindle);
    p.distance = get_double(d, "distance");
    p.close_distance = get_double(d, "close_distance");
    p.curved_detector = (int)get_long(d, "curved_detector");
    p.point_pixel = (int)get_long(d, "point_pixel");
    p.nopolar = (int)get_long(d, "nopolar");
    p.polarization = get_double(d, "polarization");
    p.thicksteps = (int)get_long(d, "thicksteps");
    p.thickstep = get_double(d, "thickstep");
    p.thick = get_double(d, "thick");
    p.mu = get_double(d, "mu");
    p.roi_xmin = (int)get_long(d, "roi_xmin");
    p.roi_xmax = (int)get_long(d, "roi_xmax");
    p.roi_ymin = (int)get_long(d, "roi_ymin");
    p.roi_ymax = (int)get_long(d, "roi_ymax");
    p.phisteps = (int)get_long(d, "phisteps");
    p.phi0 = get_double(d, "phi0");
    p.phistep = get_double(d, "phistep");
    p.mosaic_spread = get_double(d, "mosaic_spread");
    get_vec3(d, "a0", p.a0);
    get_vec3(d, "b0", p.b0);
    get_vec3(d, "c0", p.c0);
    get_vec3(d, "a_star", p.a_star);
    get_vec3(d, "b_star", p.b_star);
    get_vec3(d, "c_star", p.c_star);
    p.Na = get_double(d, "Na");
    p.Nb = get_double(d, "Nb");
    p.Nc = get_double(d, "Nc");
    p.shape = (int)get_long(d, "shape");
    p.fudge = get_double(d, "fudge");
    p.default_F = get_double(d, "default_F");
    p.interpolate = (int)get_long(d, "interpolate");
    p.dmin = get_double(d, "dmin");
    p.r_e_sqr = get_double(d, "r_e_sqr");
    p.fluence = get_double(d, "fluence");
    p.I_bg = get_double(d, "I_bg");
    p.water_size = get_double(d, "water_size");
    p.threads = (int)get_long(d, "threads");

    long nsources = (long)source_wavelength.size();
    rows_of(source_direction, nsources, 3, "source_direction");
    if (source_weight.size() != nsources) throw py::value_error("source_weight must match sources");
    if (nsources < 1) throw py::value_error("at least one source is needed");
    p.nsources = (int)nsources;
    p.source_direction = source_direction.data();
    p.source_wavelength = source_wavelength.data();
    p.source_weight = source_weight.data();
    if (mosaic_umats.ndim() != 3 || mosaic_umats.shape(1) != 3 || mosaic_umats.shape(2) != 3 ||
        mosaic_umats.shape(0) < 1)
        throw py::value_error("mosaic_umats must have shape (n >= 1, 3, 3)");
    p.mosaic_domains = (int)mosaic_umats.shape(0);
    p.mosaic_umats = mosaic_umats.data();

    Array &Fhkl = setup.Fhkl;
    if (!Fhkl_obj.is_none()) {
        Fhkl = py::cast<Array>(Fhkl_obj);
        p.h_min = (int)get_long(d, "h_min");
        p.k_min = (int)get_long(d, "k_min");
        p.l_min = (int)get_long(d, "l_min");
        if (Fhkl.ndim() != 3) throw py::value_error("Fhkl must be a 3-d array");
        p.h_max = p.h_min + (int)Fhkl.shape(0) - 1;
        p.k_max = p.k_min + (int)Fhkl.shape(1) - 1;
        p.l_max = p.l_min + (int)Fhkl.shape(2) - 1;
        p.hkls = get_long(d, "hkls");
        p.Fhkl = Fhkl.data();
    }
    if (p.Fhkl == nullptr) {
        p.hkls = 0;
        p.interpolate = 0;
    }
    auto &mask = setup.mask;
    if (!mask_obj.is_none()) {
        mask = py::cast<std::remove_reference_t<decltype(mask)>>(mask_obj);
        if (mask.ndim() != 2 || mask.shape(0) != p.spixels || mask.shape(1) != p.fpixels)
            throw py::value_error("mask must have shape (spixels, fpixels)");
        p.mask = mask.data();
    }
    if (p.fpixels < 0 || p.spixels < 0 || p.oversample < 1 || p.phisteps < 1 || p.thicksteps < 1)
        throw py::value_error("render parameters out of range");

}

py::tuple render(const py::dict &d, const Array &source_direction, const Array &source_wavelength,
                 const Array &source_weight, const Array &mosaic_umats, py::object Fhkl_obj,
                 py::object mask_obj, py::object progress)
{
    RenderSetup setup;
    render_setup(setup, d, source_direction, source_wavelength, source_weight, mosaic_umats,
                 Fhkl_obj, mask_obj);
    nb_render_params &p = setup.p;
    p.progress = progress_trampoline;
    p.progress_user = &progress;

    Array image({(py::ssize_t)p.spixels, (py::ssize_t)p.fpixels});
    std::memset(image.mutable_data(), 0, sizeof(double) * (size_t)image.size());
    nb_render_info info;
    nb_status status;
    {
        py::gil_scoped_release release;
        status = nb_render(&p, image.mutable_data(), &info);
    }
    if (status == NB_CANCELLED) {
        if (PyErr_Occurred()) throw py::error_already_set();
        throw std::runtime_error("render cancelled by the progress callback");
    }
    if (status == NB_OUT_OF_MEMORY) throw std::bad_alloc();
    if (status != NB_OK) throw py::value_error("render failed");
    py::dict out;
    out["omega_sum"] = info.omega_sum;
    out["steps"] = info.steps;
    out["interpolation_switched_off"] = (bool)info.interpolation_switched_off;
    out["first_executed"] = info.first_executed;
    out["switch_pixel"] = info.switch_pixel;
    return py::make_tuple(image, out);
}

// One field of every trace row as an array: a number per row, or a vector or
// matrix per row (shape gives the trailing dimensions).
template <typename T> py::array_t<T> column(const std::vector<nb_trace_term> &rows,
                                            T nb_trace_term::*field)
{
    py::array_t<T> out((py::ssize_t)rows.size());
    auto view = out.template mutable_unchecked<1>();
    for (size_t i = 0; i < rows.size(); ++i) view((py::ssize_t)i) = rows[i].*field;
    return out;
}

template <size_t N>
Array column(const std::vector<nb_trace_term> &rows, double (nb_trace_term::*field)[N],
             std::vector<py::ssize_t> shape)
{
    shape.insert(shape.begin(), (py::ssize_t)rows.size());
    Array out(shape);
    for (size_t i = 0; i < rows.size(); ++i)
        std::memcpy(out.mutable_data() + i * N, rows[i].*field, sizeof(double) * N);
    return out;
}

py::dict trace_pixel(const py::dict &d, const Array &source_direction,
                     const Array &source_wavelength, const Array &source_weight,
                     const Array &mosaic_umats, py::object Fhkl_obj, py::object mask_obj,
                     int fpixel, int spixel, bool entry, bool interpolate)
{
    RenderSetup setup;
    render_setup(setup, d, source_direction, source_wavelength, source_weight, mosaic_umats,
                 Fhkl_obj, mask_obj);
    const nb_render_params &p = setup.p;
    if (fpixel < 0 || fpixel >= p.fpixels || spixel < 0 || spixel >= p.spixels)
        throw py::value_error("trace pixel outside the detector");
    std::vector<nb_trace_term> rows((size_t)nb_trace_terms(&p));
    nb_trace trace;
    std::memset(&trace, 0, sizeof trace);
    trace.terms = rows.data();
    trace.capacity = (long)rows.size();
    nb_status status;
    {
        py::gil_scoped_release release;
        status = nb_trace_pixel(&p, fpixel, spixel, entry, interpolate, &trace);
    }
    if (status == NB_OUT_OF_MEMORY) throw std::bad_alloc();
    if (status != NB_OK) throw py::value_error("trace failed");
    rows.resize((size_t)trace.count);

    py::dict terms;
    terms["layer"] = column(rows, &nb_trace_term::layer);
    terms["subS"] = column(rows, &nb_trace_term::subS);
    terms["subF"] = column(rows, &nb_trace_term::subF);
    terms["source"] = column(rows, &nb_trace_term::source);
    terms["phi_step"] = column(rows, &nb_trace_term::phi_step);
    terms["domain"] = column(rows, &nb_trace_term::domain);
    terms["position"] = column(rows, &nb_trace_term::position, {3});
    terms["diffracted"] = column(rows, &nb_trace_term::diffracted, {3});
    terms["scattering"] = column(rows, &nb_trace_term::scattering, {3});
    terms["axes"] = column(rows, &nb_trace_term::axes, {3, 3});
    terms["hkl"] = column(rows, &nb_trace_term::hkl, {3});
    terms["hkl0"] = column(rows, &nb_trace_term::hkl0, {3});
    terms["F_latt"] = column(rows, &nb_trace_term::F_latt);
    terms["F_cell"] = column(rows, &nb_trace_term::F_cell);
    terms["omega"] = column(rows, &nb_trace_term::omega);
    terms["polar"] = column(rows, &nb_trace_term::polar);
    terms["capture"] = column(rows, &nb_trace_term::capture);
    terms["I"] = column(rows, &nb_trace_term::I);

    py::dict final;
    final["I"] = trace.I;
    final["background"] = trace.background;
    final["omega"] = trace.omega;
    final["polar"] = trace.polar;
    final["capture"] = trace.capture;
    final["scale"] = trace.scale;
    final["steps"] = trace.steps;
    final["value"] = trace.value;
    py::dict out;
    out["terms"] = terms;
    out["final"] = final;
    return out;
}

py::tuple add_noise(const py::array_t<float, py::array::c_style | py::array::forcecast> &image,
                    std::array<int, 4> roi, double adc_offset, long seed, LegacyRandom &rng)
{
    if (image.ndim() != 2) throw py::value_error("image must be 2-d");
    int spixels = (int)image.shape(0), fpixels = (int)image.shape(1);
    py::array_t<uint16_t> out({(py::ssize_t)spixels, (py::ssize_t)fpixels});
    std::memset(out.mutable_data(), 0, sizeof(uint16_t) * (size_t)out.size());
    double photons = 0.0;
    long overloads = 0;
    nb_add_noise(image.data(), fpixels, spixels, roi[0], roi[1], roi[2], roi[3], adc_offset, &seed,
                 &rng.state, out.mutable_data(), &photons, &overloads);
    return py::make_tuple(out, photons, overloads);
}

} // namespace

PYBIND11_MODULE(_core, m)
{
    m.doc() = "nanobragg C engine (private; use nanobragg.simulate)";
    py::class_<LegacyRandom>(m, "LegacyRandom",
                             "The legacy generator's shared shuffle table and Gaussian spare.")
        .def(py::init<>())
        .def("copy", [](const LegacyRandom &self) { return LegacyRandom(self); },
             "An independent copy of the generator state")
        .def(
            "uniform",
            [](LegacyRandom &self, long seed, int n) {
                Array out({(py::ssize_t)n});
                for (int i = 0; i < n; ++i)
                    out.mutable_data()[i] = nb_uniform(&self.state, &seed);
                return py::make_tuple(out, seed);
            },
            py::arg("seed"), py::arg("n"), "n uniform deviates; returns (values, seed after)");
    m.def("detector_geometry", &detector_geometry);
    m.def("crystal_vectors", &crystal_vectors);
    m.def("sources", &sources, py::arg("params"), py::arg("table") = py::none());
    m.def("mosaic_rotations", &mosaic_rotations);
    m.def("mosaic_axes", &mosaic_axes);
    m.def("random_misset", &random_misset);
    m.def("render", &render);
    m.def("trace_pixel", &trace_pixel);
    m.def("add_noise", &add_noise);
#ifdef NANOBRAGG_HAVE_OPENMP
    m.attr("has_openmp") = true;
#else
    m.attr("has_openmp") = false;
#endif
}
