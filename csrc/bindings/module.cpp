// nanobragg._core: the pybind11 face of the C engine.  Stage inputs are any
// Python objects with the contract's attributes (the frozen dataclasses of
// nanobragg's stages); they are read, and outputs written, field by field from
// the lists in nanobragg.h (fields.hpp).  Arrays are checked for shape and
// passed to the engine as views where their dtype and layout already fit.  The
// GIL is released while the engine computes; status codes become exceptions.
// Physics validation happens earlier, in nanobragg.validation.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <chrono>
#include <climits>
#include <cmath>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fields.hpp"

namespace py = pybind11;
using nb_bindings::Array;
using nb_bindings::Field;

namespace {

class LegacyRandom {
  public:
    LegacyRandom() { nb_random_init(&state); }
    nb_random_state state;
};

[[noreturn]] void wrong_shape(const std::string &what, const std::string &expected,
                              const py::array &a)
{
    throw py::value_error(what + ": expected shape " + expected + ", got " +
                          nb_bindings::shape_of(a));
}

// obj.name as a float64 array (a view when it already is one, C-contiguous).
Array float_array(py::handle obj, const char *owner, const char *name)
{
    Field at{owner, name};
    py::object value = nb_bindings::attribute(obj, at);
    Array array = Array::ensure(value);
    if (!array) nb_bindings::wrong_type(at, "a float array", value);
    return array;
}

void raise_for(nb_status status, const char *what)
{
    if (status == NB_OK) return;
    if (status == NB_CANCELLED) {
        if (PyErr_Occurred()) throw py::error_already_set();
        throw std::runtime_error(std::string(what) + " cancelled by the progress callback");
    }
    if (status == NB_OUT_OF_MEMORY) throw std::bad_alloc();
    throw py::value_error(std::string(what) + " failed: an argument is out of range");
}

// The detector's size in whole pixels, as the engine rounds it into an int: a size and
// pixel that give no such number (a zero pixel, an infinite size) are refused.
void check_pixel_counts(const nb_detector_spec &in)
{
    const char *axes[] = {"f", "s"};
    const int counts[] = {in.fpixels, in.spixels};
    const double sizes[] = {in.detsize_f_m, in.detsize_s_m};
    for (int i = 0; i < 2; ++i) {
        double size = counts[i] ? in.pixel_size_m * counts[i] : sizes[i];
        double pixels = std::ceil(size / in.pixel_size_m - 0.5);
        if (!(pixels >= INT_MIN && pixels <= INT_MAX))
            throw py::value_error(
                "detector_spec: " + py::repr(py::float_(size)).cast<std::string>() +
                " m in pixels of " + py::repr(py::float_(in.pixel_size_m)).cast<std::string>() +
                " m is " + py::repr(py::float_(pixels)).cast<std::string>() +
                " pixels along " + axes[i] + "; expected a whole number within the C int range");
    }
}

py::dict detector_geometry(py::handle spec)
{
    nb_detector_spec in = nb_bindings::from_object<nb_detector_spec>(spec);
    check_pixel_counts(in);
    nb_detector_geometry g;
    nb_detector_geometry_compute(&in, &g);
    return nb_bindings::to_dict(g);
}

py::dict crystal_vectors(py::handle spec, LegacyRandom &rng)
{
    nb_crystal_spec in = nb_bindings::from_object<nb_crystal_spec>(spec);
    nb_crystal_vectors out;
    nb_crystal_vectors_compute(&in, &rng.state, &out);
    return nb_bindings::to_dict(out);
}

Array random_misset(bool c_parity, long seed, LegacyRandom &rng)
{
    Array misset({(py::ssize_t)3});
    nb_random_misset(c_parity, seed, &rng.state, misset.mutable_data());
    return misset;
}

// The most sources a grid may have: the engine counts them in an int.
nb_source_spec source_spec(py::handle spec)
{
    nb_source_spec in = nb_bindings::from_object<nb_source_spec>(spec);
    const std::pair<const char *, int> counts[] = {{"hdiv_steps", in.hdiv_steps},
                                                   {"vdiv_steps", in.vdiv_steps},
                                                   {"dispersion_steps", in.dispersion_steps}};
    long long points = 1;  // at most INT_MAX before each product: no overflow
    for (const auto &count : counts) {
        if (count.second < 0)
            throw py::value_error(std::string("source_spec.") + count.first + ": " +
                                  std::to_string(count.second) + " is negative");
        points *= count.second;
        if (points > INT_MAX)
            throw py::value_error("source_spec: " + std::to_string(in.hdiv_steps) + " x " +
                                  std::to_string(in.vdiv_steps) + " x " +
                                  std::to_string(in.dispersion_steps) +
                                  " sources (hdiv_steps x vdiv_steps x dispersion_steps) is "
                                  "more than the " + std::to_string(INT_MAX) +
                                  " the engine counts");
    }
    return in;
}

py::dict sources(py::handle spec, py::object table_obj)
{
    nb_source_spec in = source_spec(spec);
    int n, divergence_steps = 0;
    Array table;
    if (!table_obj.is_none()) {
        table = Array::ensure(table_obj);
        if (!table) nb_bindings::wrong_type(Field{"sources", "table"}, "a float array", table_obj);
        if (table.ndim() != 2 || table.shape(1) != 5 || table.shape(0) > INT_MAX)
            wrong_shape("table", "(n, 5)", table);
        n = (int)table.shape(0);
    } else {
        n = nb_source_count(&in, &divergence_steps);
    }
    Array direction({(py::ssize_t)n, (py::ssize_t)3});
    Array wavelength({(py::ssize_t)n});
    Array weight({(py::ssize_t)n});
    if (!table_obj.is_none())
        nb_sources_from_table(&in, table.data(), n, direction.mutable_data(),
                              wavelength.mutable_data(), weight.mutable_data());
    else
        nb_sources_from_grid(&in, direction.mutable_data(), wavelength.mutable_data(),
                             weight.mutable_data());
    py::dict out;
    out["direction"] = direction;
    out["wavelength_m"] = wavelength;
    out["weight"] = weight;
    out["divergence_steps"] = divergence_steps;
    return out;
}

nb_mosaic_spec mosaic_spec(py::handle spec)
{
    nb_mosaic_spec in = nb_bindings::from_object<nb_mosaic_spec>(spec);
    if (in.domains < 0)
        throw py::value_error("mosaic_spec.domains: " + std::to_string(in.domains) +
                              " is negative");
    return in;
}

Array mosaic_rotations(py::handle spec, LegacyRandom &rng)
{
    nb_mosaic_spec in = mosaic_spec(spec);
    Array umats({(py::ssize_t)in.domains, (py::ssize_t)3, (py::ssize_t)3});
    nb_mosaic_rotations(&in, &rng.state, umats.mutable_data());
    return umats;
}

py::tuple mosaic_axes(py::handle spec, LegacyRandom &rng)
{
    nb_mosaic_spec in = mosaic_spec(spec);
    Array axes({(py::ssize_t)in.domains, (py::ssize_t)3});
    Array angles({(py::ssize_t)in.domains});
    nb_mosaic_axes(&in, &rng.state, axes.mutable_data(), angles.mutable_data());
    return py::make_tuple(axes, angles);
}

// Whether the interpreter is shutting down.  A thread that takes the GIL then is ended
// by Python from inside the call (pthread_exit), and C++ answers an unwinding through
// its frames with std::terminate: a render on a daemon thread would abort the process.
bool interpreter_finalizing()
{
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsFinalizing() != 0;
#else
    return _Py_IsFinalizing() != 0;
#endif
}

// The GIL released for the engine's work.  Where the interpreter shut down meanwhile,
// the thread is not given it back (Python would end the thread, see above): it waits
// there for the process to exit, as Python's daemon threads do.
class ReleasedGil
{
  public:
    ReleasedGil() : state_(PyEval_SaveThread()) {}
    ReleasedGil(const ReleasedGil &) = delete;
    ReleasedGil &operator=(const ReleasedGil &) = delete;
    ~ReleasedGil()
    {
        while (interpreter_finalizing()) std::this_thread::sleep_for(std::chrono::seconds(1));
        PyEval_RestoreThread(state_);
    }

  private:
    PyThreadState *state_;
};

int progress_trampoline(void *user, long done, long total)
{
    // a render running while the interpreter shuts down stops without touching Python
    if (interpreter_finalizing()) return 1;
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

// A render's parameters and arrays from the objects passed; the arrays the
// engine reads are the caller's, or converted copies held here.
struct RenderInputs {
    nb_render_params p;
    nb_render_arrays a;
    Array direction, wavelength, weight, umats, Fhkl;
    py::array mask;
};

void check_at_least(const char *name, int value, int least)
{
    if (value < least)
        throw py::value_error(std::string("render_params.") + name + ": " +
                              std::to_string(value) + " is below " + std::to_string(least));
}

void read_sources(RenderInputs &in, py::handle sources, py::handle mosaic)
{
    in.direction = float_array(sources, "sources", "direction");
    in.wavelength = float_array(sources, "sources", "wavelength_m");
    in.weight = float_array(sources, "sources", "weight");
    if (in.direction.ndim() != 2 || in.direction.shape(1) != 3 || in.direction.shape(0) < 1 ||
        in.direction.shape(0) > INT_MAX)
        wrong_shape("sources.direction", "(n, 3) with n >= 1", in.direction);
    py::ssize_t n = in.direction.shape(0);
    std::string rows = "(" + std::to_string(n) + ",)";
    if (in.wavelength.ndim() != 1 || in.wavelength.shape(0) != n)
        wrong_shape("sources.wavelength_m", rows, in.wavelength);
    if (in.weight.ndim() != 1 || in.weight.shape(0) != n)
        wrong_shape("sources.weight", rows, in.weight);
    in.a.nsources = (int)n;
    in.a.source_direction = in.direction.data();
    in.a.source_wavelength_m = in.wavelength.data();
    in.a.source_weight = in.weight.data();

    in.umats = float_array(mosaic, "mosaic", "umats");
    if (in.umats.ndim() != 3 || in.umats.shape(0) < 1 || in.umats.shape(0) > INT_MAX ||
        in.umats.shape(1) != 3 || in.umats.shape(2) != 3)
        wrong_shape("mosaic.umats", "(m, 3, 3) with m >= 1", in.umats);
    in.a.mosaic_domains = (int)in.umats.shape(0);
    in.a.mosaic_umats = in.umats.data();
}

void read_structure_factors(RenderInputs &in, py::handle grid)
{
    if (grid.is_none()) return;
    in.Fhkl = float_array(grid, "structure_factors", "values");
    if (in.Fhkl.ndim() != 3) wrong_shape("structure_factors.values", "(h, k, l)", in.Fhkl);
    Field at{"structure_factors", "hkl_min"};
    py::object hkl_min = nb_bindings::attribute(grid, at);
    if (!PySequence_Check(hkl_min.ptr()) || py::len(hkl_min) != 3)
        nb_bindings::wrong_type(at, "3 integers", hkl_min);
    int *mins[3] = {&in.a.h_min, &in.a.k_min, &in.a.l_min};
    int *maxs[3] = {&in.a.h_max, &in.a.k_max, &in.a.l_max};
    for (int i = 0; i < 3; ++i) {
        long long lo = nb_bindings::integer(hkl_min[py::int_(i)], at, INT_MIN, INT_MAX, "C int");
        long long hi = lo + in.Fhkl.shape(i) - 1;
        if (hi > INT_MAX || hi < INT_MIN)
            throw py::value_error("structure_factors: Miller indices up to " +
                                  std::to_string(hi) + " are outside the C int range");
        *mins[i] = (int)lo;
        *maxs[i] = (int)hi;
    }
    Field count{"structure_factors", "count"};
    in.a.hkls = (long)nb_bindings::integer(nb_bindings::attribute(grid, count), count, 0,
                                           LONG_MAX, "C long");
    in.a.Fhkl = in.Fhkl.data();
}

// nonzero = render: a C-contiguous uint8 or bool mask is used as it is, any other
// is cast to bool (which keeps "nonzero" for every dtype).
void read_mask(RenderInputs &in, py::handle mask)
{
    if (mask.is_none()) return;
    using Bytes = py::array_t<uint8_t, py::array::c_style>;
    using Flags = py::array_t<bool, py::array::c_style | py::array::forcecast>;
    if (py::isinstance<Bytes>(mask)) {
        in.mask = py::reinterpret_borrow<py::array>(mask);
    } else {
        in.mask = Flags::ensure(mask);
        if (!in.mask) nb_bindings::wrong_type(Field{"render", "mask"}, "an array", mask);
    }
    if (in.mask.ndim() != 2 || in.mask.shape(0) != in.p.spixels ||
        in.mask.shape(1) != in.p.fpixels)
        wrong_shape("mask", "(spixels, fpixels) = (" + std::to_string(in.p.spixels) + ", " +
                                std::to_string(in.p.fpixels) + ")",
                    in.mask);
    in.a.mask = static_cast<const uint8_t *>(in.mask.data());
}

// The terms of one pixel's sum, refused above the limit a valid Config keeps to
// (nanobragg.validation.MAX_STEPS): the engine counts them in a long, and a pixel of
// many more would never finish.
void check_terms_per_pixel(const RenderInputs &in)
{
    const long long limit = 1LL << 31;
    const long long factors[] = {in.a.nsources,   in.a.mosaic_domains, in.p.phi_steps,
                                 in.p.oversample, in.p.oversample,     in.p.thickness_steps};
    long long terms = 1;  // every factor is >= 1 and an int: no overflow before the check
    for (long long factor : factors) {
        terms *= factor;
        if (terms > limit)
            throw py::value_error(
                "render: " + std::to_string(in.a.nsources) + " sources x " +
                std::to_string(in.a.mosaic_domains) + " mosaic domains x " +
                std::to_string(in.p.phi_steps) + " phi steps x " +
                std::to_string(in.p.oversample) + "^2 sub-pixels x " +
                std::to_string(in.p.thickness_steps) +
                " sensor layers is more than the limit of " + std::to_string(limit) +
                " terms per pixel");
    }
}

void read_render_inputs(RenderInputs &in, py::handle params, py::handle sources,
                        py::handle mosaic, py::handle structure_factors, py::handle mask)
{
    in.p = nb_bindings::from_object<nb_render_params>(params);
    check_at_least("fpixels", in.p.fpixels, 0);
    check_at_least("spixels", in.p.spixels, 0);
    check_at_least("oversample", in.p.oversample, 1);
    check_at_least("phi_steps", in.p.phi_steps, 1);
    check_at_least("thickness_steps", in.p.thickness_steps, 1);
    std::memset(&in.a, 0, sizeof in.a);
    read_sources(in, sources, mosaic);
    check_terms_per_pixel(in);
    read_structure_factors(in, structure_factors);
    read_mask(in, mask);
}

py::tuple render(py::handle params, py::handle sources, py::handle mosaic,
                 py::handle structure_factors, py::handle mask, int threads, py::object progress)
{
    RenderInputs in;
    read_render_inputs(in, params, sources, mosaic, structure_factors, mask);
    nb_render_control control = {threads, progress_trampoline, &progress};
    Array image({(py::ssize_t)in.p.spixels, (py::ssize_t)in.p.fpixels});
    std::memset(image.mutable_data(), 0, sizeof(double) * (size_t)image.size());
    nb_render_info info;
    nb_status status;
    {
        ReleasedGil released;
        status = nb_render(&in.p, &in.a, &control, image.mutable_data(), &info);
    }
    raise_for(status, "render");
    return py::make_tuple(image, nb_bindings::to_dict(info));
}

py::dict trace_pixel(py::handle params, py::handle sources, py::handle mosaic,
                     py::handle structure_factors, py::handle mask, int fpixel, int spixel,
                     bool entry, bool interpolate)
{
    RenderInputs in;
    read_render_inputs(in, params, sources, mosaic, structure_factors, mask);
    if (fpixel < 0 || fpixel >= in.p.fpixels || spixel < 0 || spixel >= in.p.spixels)
        throw py::value_error("trace_pixel: pixel (" + std::to_string(fpixel) + ", " +
                              std::to_string(spixel) + ") is outside the " +
                              std::to_string(in.p.fpixels) + " x " +
                              std::to_string(in.p.spixels) + " detector");
    std::vector<nb_trace_term> rows((size_t)nb_trace_terms(&in.p, &in.a));
    nb_trace trace;
    std::memset(&trace, 0, sizeof trace);
    trace.terms = rows.data();
    trace.capacity = (long)rows.size();
    nb_status status;
    {
        ReleasedGil released;
        status = nb_trace_pixel(&in.p, &in.a, fpixel, spixel, entry, interpolate, &trace);
    }
    raise_for(status, "trace");
    rows.resize((size_t)trace.count);
    py::dict out;
    out["terms"] = nb_bindings::columns(rows);
    out["final"] = nb_bindings::to_dict(trace);
    return out;
}

py::tuple add_noise(py::handle image_obj, py::handle spec, LegacyRandom &rng)
{
    using Image = py::array_t<float, py::array::c_style | py::array::forcecast>;
    Image image = Image::ensure(image_obj);
    if (!image) nb_bindings::wrong_type(Field{"add_noise", "image"}, "a float array", image_obj);
    if (image.ndim() != 2 || image.shape(0) > INT_MAX || image.shape(1) > INT_MAX)
        wrong_shape("image", "(spixels, fpixels)", image);
    nb_noise_spec in = nb_bindings::from_object<nb_noise_spec>(spec);
    int spixels = (int)image.shape(0), fpixels = (int)image.shape(1);
    py::array_t<uint16_t> out({(py::ssize_t)spixels, (py::ssize_t)fpixels});
    std::memset(out.mutable_data(), 0, sizeof(uint16_t) * (size_t)out.size());
    double photons = 0.0;
    long overloads = 0;
    {
        ReleasedGil released;
        nb_add_noise(&in, image.data(), fpixels, spixels, &rng.state, out.mutable_data(),
                     &photons, &overloads);
    }
    return py::make_tuple(out, photons, overloads);
}

// The sums of the printed statistics (nb_image_sums) over a float32 image and
// two bool masks of its shape.
py::dict image_sums(py::handle image_obj, py::handle rendered_obj, py::handle roi_obj)
{
    using Image = py::array_t<float, py::array::c_style | py::array::forcecast>;
    using Flags = py::array_t<bool, py::array::c_style | py::array::forcecast>;
    Image image = Image::ensure(image_obj);
    if (!image) nb_bindings::wrong_type(Field{"image_sums", "image"}, "a float array", image_obj);
    Flags rendered = Flags::ensure(rendered_obj), roi = Flags::ensure(roi_obj);
    if (!rendered)
        nb_bindings::wrong_type(Field{"image_sums", "rendered"}, "a bool array", rendered_obj);
    if (!roi) nb_bindings::wrong_type(Field{"image_sums", "roi"}, "a bool array", roi_obj);
    if (rendered.size() != image.size()) wrong_shape("rendered", "the image's", rendered);
    if (roi.size() != image.size()) wrong_shape("roi", "the image's", roi);
    nb_image_sums_out out;
    {
        ReleasedGil released;
        nb_image_sums(image.data(), reinterpret_cast<const unsigned char *>(rendered.data()),
                      reinterpret_cast<const unsigned char *>(roi.data()), (long)image.size(),
                      &out);
    }
    py::dict result;
    result["count"] = out.count;
    result["total"] = out.total;
    result["squares"] = out.squares;
    result["mean"] = out.mean;
    result["roi_count"] = out.roi_count;
    result["deviations"] = out.deviations;
    result["max_index"] = out.max_index;
    result["max_value"] = out.max_value;
    return result;
}

// The noiseless SMV image (nb_int_image) of a float32 image inside a bool ROI mask.
py::array_t<uint16_t> int_image(py::handle image_obj, py::handle roi_obj, double scale,
                                double adc_offset)
{
    using Image = py::array_t<float, py::array::c_style | py::array::forcecast>;
    using Flags = py::array_t<bool, py::array::c_style | py::array::forcecast>;
    Image image = Image::ensure(image_obj);
    if (!image) nb_bindings::wrong_type(Field{"int_image", "image"}, "a float array", image_obj);
    Flags roi = Flags::ensure(roi_obj);
    if (!roi) nb_bindings::wrong_type(Field{"int_image", "roi"}, "a bool array", roi_obj);
    if (roi.size() != image.size()) wrong_shape("roi", "the image's", roi);
    std::vector<py::ssize_t> shape(image.shape(), image.shape() + image.ndim());
    py::array_t<uint16_t> out(shape);
    {
        ReleasedGil released;
        nb_int_image(image.data(), reinterpret_cast<const unsigned char *>(roi.data()),
                     (long)image.size(), scale, adc_offset, out.mutable_data());
    }
    return out;
}

// One float64 vector attribute of obj with n entries (n < 0: any length >= 4).
Array vector_of(py::handle obj, const char *owner, const char *name, py::ssize_t n)
{
    Array array = float_array(obj, owner, name);
    if (array.ndim() != 1 || (n >= 0 ? array.shape(0) != n : array.shape(0) < 4) ||
        array.shape(0) > INT_MAX)
        wrong_shape(std::string(owner) + "." + name,
                    n >= 0 ? "(" + std::to_string(n) + ",)" : std::string("(n,) with n >= 4"),
                    array);
    return array;
}

py::tuple amorphous(py::handle spec, py::handle sources, py::handle table, int threads,
                    py::object progress)
{
    nb_amorphous_spec p = nb_bindings::from_object<nb_amorphous_spec>(spec);
    if (p.oversample < 1)
        throw py::value_error("amorphous_spec.oversample: " + std::to_string(p.oversample) +
                              " is below 1");
    if (p.fpixels < 0 || p.spixels < 0)
        throw py::value_error("amorphous_spec: a negative pixel count");
    Array direction = float_array(sources, "sources", "direction");
    if (direction.ndim() != 2 || direction.shape(1) != 3 || direction.shape(0) < 1 ||
        direction.shape(0) > INT_MAX)
        wrong_shape("sources.direction", "(n, 3) with n >= 1", direction);
    py::ssize_t n = direction.shape(0);
    Array wavelength = vector_of(sources, "sources", "wavelength_m", n);
    Array weight = vector_of(sources, "sources", "weight", n);
    Array stol = vector_of(table, "stol_table", "stol_per_m", -1);
    Array F = vector_of(table, "stol_table", "F", stol.shape(0));
    long long terms = (long long)n * p.oversample * p.oversample;
    if (terms > INT_MAX)
        throw py::value_error("amorphous: " + std::to_string(n) + " sources x " +
                              std::to_string(p.oversample) + "^2 sub-pixels is more than the " +
                              std::to_string(INT_MAX) + " terms per pixel the engine counts");
    nb_amorphous_arrays a = {(int)n, direction.data(), wavelength.data(), weight.data(),
                             (int)stol.shape(0), stol.data(), F.data()};
    nb_render_control control = {threads, progress_trampoline, &progress};
    Array image({(py::ssize_t)p.spixels, (py::ssize_t)p.fpixels});
    std::memset(image.mutable_data(), 0, sizeof(double) * (size_t)image.size());
    nb_amorphous_info info;
    nb_status status;
    {
        ReleasedGil released;
        status = nb_amorphous(&p, &a, &control, image.mutable_data(), &info);
    }
    raise_for(status, "amorphous");
    return py::make_tuple(image, nb_bindings::to_dict(info));
}

py::tuple detector_response(py::handle image_obj, py::handle spec, LegacyRandom &rng,
                            int threads)
{
    using Image = py::array_t<float, py::array::c_style | py::array::forcecast>;
    Image image = Image::ensure(image_obj);
    if (!image)
        nb_bindings::wrong_type(Field{"detector_response", "image"}, "a float array", image_obj);
    if (image.ndim() != 2 || image.shape(0) > INT_MAX || image.shape(1) > INT_MAX ||
        image.shape(0) * image.shape(1) > LONG_MAX / 2)
        wrong_shape("image", "(spixels, fpixels)", image);
    nb_response_spec in = nb_bindings::from_object<nb_response_spec>(spec);
    if (in.bits != 16 && in.bits != 32)
        throw py::value_error("response_spec.bits: " + std::to_string(in.bits) +
                              " is not valid; expected 16 or 32");
    if (in.psf != NB_PSF_NONE && in.psf != NB_PSF_GAUSS && in.psf != NB_PSF_FIBER)
        throw py::value_error("response_spec.psf: " + std::to_string(in.psf) +
                              " is not a PSF code; expected one of CODES['psf']");
    int spixels = (int)image.shape(0), fpixels = (int)image.shape(1);
    std::vector<py::ssize_t> shape{spixels, fpixels};
    // not value-initialised: without a PSF half of it is never touched
    std::unique_ptr<float[]> work(new float[2 * (size_t)spixels * (size_t)fpixels]);
    // the pixels in their own width, written by the engine (no 32-bit copy to narrow)
    auto pixels = [&]() -> py::array {
        if (in.bits == 16) return py::array_t<uint16_t>(shape);
        return py::array_t<uint32_t>(shape);
    };
    py::array expected = pixels();
    py::object adu = py::none();
    double *adu_data = nullptr;
    if (in.expected_adu) {
        py::array_t<double> values(shape);
        adu_data = values.mutable_data();
        adu = values;
    }
    py::object noisy = py::none();
    void *noisy_data = nullptr;
    if (in.noise) {
        py::array noise_image = pixels();
        noisy_data = noise_image.mutable_data();
        noisy = noise_image;
    }
    nb_response_info info;
    nb_status status;
    {
        ReleasedGil released;
        status = nb_detector_response(&in, image.data(), fpixels, spixels, threads, &rng.state,
                                      work.get(),
                                      expected.mutable_data(), adu_data, noisy_data, &info);
    }
    raise_for(status, "detector_response");
    return py::make_tuple(expected, adu, noisy, nb_bindings::to_dict(info));
}

py::tuple response_shot_noise(py::handle photons_obj, py::handle spec, LegacyRandom &rng)
{
    using Image = py::array_t<float, py::array::c_style | py::array::forcecast>;
    Image photons = Image::ensure(photons_obj);
    if (!photons)
        nb_bindings::wrong_type(Field{"response_shot_noise", "photons"}, "a float array",
                                photons_obj);
    nb_response_spec in = nb_bindings::from_object<nb_response_spec>(spec);
    py::array_t<float> counts(photons.request().shape);
    std::memcpy(counts.mutable_data(), photons.data(), sizeof(float) * (size_t)photons.size());
    long seed = in.seed;
    double sum;
    {
        ReleasedGil released;
        sum = nb_response_shot_noise(&in, &rng.state, &seed, counts.mutable_data(),
                                     (long)counts.size());
    }
    return py::make_tuple(counts, sum, seed);
}

py::array_t<float> response_readout_deviates(long pixels, long seed, LegacyRandom &rng)
{
    if (pixels < 0) throw py::value_error("pixels: " + std::to_string(pixels) + " is negative");
    py::array_t<float> deviates(pixels);
    {
        ReleasedGil released;
        nb_response_readout_deviates(&rng.state, &seed, pixels, deviates.mutable_data());
    }
    return deviates;
}

// An (n, columns) float64 array field of obj (columns 0: a vector of n), its rows given
// by rows (-1: any number, which is returned).
Array shaped(py::handle obj, const char *owner, const char *name, py::ssize_t rows,
             py::ssize_t columns)
{
    Array array = float_array(obj, owner, name);
    bool ok = columns ? array.ndim() == 2 && array.shape(1) == columns : array.ndim() == 1;
    if (ok && rows >= 0) ok = array.shape(0) == rows;
    if (!ok || array.shape(0) > INT_MAX) {
        std::string n = rows >= 0 ? std::to_string(rows) : "n";
        wrong_shape(std::string(owner) + "." + name,
                    columns ? "(" + n + ", " + std::to_string(columns) + ")" : "(" + n + ",)",
                    array);
    }
    return array;
}

// An optional (spixels, fpixels) image argument: None, or a float64 array of that shape.
Array optional_image(py::handle obj, const char *name, const nb_scatterer_params &p)
{
    if (obj.is_none()) return Array();
    Array array = Array::ensure(obj);
    if (!array) nb_bindings::wrong_type(Field{"point_scatterers", name}, "a float array", obj);
    if (array.ndim() != 2 || array.shape(0) != p.spixels || array.shape(1) != p.fpixels)
        wrong_shape(name, "(" + std::to_string(p.spixels) + ", " + std::to_string(p.fpixels) + ")",
                    array);
    return array;
}

py::dict point_scatterers(py::handle params, py::handle atoms, py::handle sources,
                          py::handle image_in, py::handle real_in, py::handle imag_in,
                          int threads, py::object progress)
{
    nb_scatterer_params p = nb_bindings::from_object<nb_scatterer_params>(params);
    check_at_least("fpixels", p.fpixels, 0);
    check_at_least("spixels", p.spixels, 0);
    check_at_least("oversample", p.oversample, 1);
    Array position = shaped(atoms, "atoms", "position_m", -1, 3);
    py::ssize_t n = position.shape(0);
    Array occupancy = shaped(atoms, "atoms", "occupancy", n, 0);
    Array B = shaped(atoms, "atoms", "B_A2", n, 0);
    Array phase = shaped(atoms, "atoms", "phase_rad", n, 0);
    Array source_position = shaped(sources, "sources", "position_m", -1, 3);
    py::ssize_t m = source_position.shape(0);
    if (m < 1) wrong_shape("sources.position_m", "(n, 3) with n >= 1", source_position);
    Array direction = shaped(sources, "sources", "direction", m, 3);
    Array wavelength = shaped(sources, "sources", "wavelength_m", m, 0);
    using Ints = py::array_t<int, py::array::c_style | py::array::forcecast>;
    Field group_at{"sources", "group"};
    py::object group_obj = nb_bindings::attribute(sources, group_at);
    Ints group = Ints::ensure(group_obj);
    if (!group) nb_bindings::wrong_type(group_at, "an integer array", group_obj);
    if (group.ndim() != 1 || group.shape(0) != m)
        wrong_shape("sources.group", "(" + std::to_string(m) + ",)", group);
    long long terms = (long long)m * p.oversample * p.oversample;
    if (terms > (1LL << 31))
        throw py::value_error("point_scatterers: " + std::to_string(m) + " sources x " +
                              std::to_string(p.oversample) +
                              "^2 sub-pixels is more than the limit of 2147483648 terms "
                              "per atom and pixel");
    Array image_arr = optional_image(image_in, "image", p);
    Array real_arr = optional_image(real_in, "real", p);
    Array imag_arr = optional_image(imag_in, "imag", p);
    nb_scatterer_arrays a;
    a.atoms = (int)n;
    a.atom_position_m = position.data();
    a.occupancy = occupancy.data();
    a.B_A2 = B.data();
    a.phase_rad = phase.data();
    a.nsources = (int)m;
    a.source_position_m = source_position.data();
    a.source_direction = direction.data();
    a.source_wavelength_m = wavelength.data();
    a.source_group = group.data();
    a.image_in = image_in.is_none() ? nullptr : image_arr.data();
    a.real_in = real_in.is_none() ? nullptr : real_arr.data();
    a.imag_in = imag_in.is_none() ? nullptr : imag_arr.data();
    std::vector<py::ssize_t> shape = {(py::ssize_t)p.spixels, (py::ssize_t)p.fpixels};
    Array image(shape), real(shape), imag(shape), omega(shape);
    size_t bytes = sizeof(double) * (size_t)image.size();
    if (a.image_in) std::memcpy(image.mutable_data(), a.image_in, bytes);
    else std::memset(image.mutable_data(), 0, bytes);
    if (a.real_in) std::memcpy(real.mutable_data(), a.real_in, bytes);
    else std::memset(real.mutable_data(), 0, bytes);
    if (a.imag_in) std::memcpy(imag.mutable_data(), a.imag_in, bytes);
    else std::memset(imag.mutable_data(), 0, bytes);
    std::memset(omega.mutable_data(), 0, bytes);
    nb_render_control control = {threads, progress_trampoline, &progress};
    nb_status status;
    {
        ReleasedGil released;
        status = nb_point_scatterers(&p, &a, &control, image.mutable_data(), real.mutable_data(),
                                     imag.mutable_data(), omega.mutable_data());
    }
    raise_for(status, "point_scatterers");
    py::dict out;
    out["image"] = image;
    out["real"] = real;
    out["imag"] = imag;
    out["omega"] = omega;
    out["steps"] = terms;
    return out;
}

py::dict field_lists()
{
    py::dict fields;
    nb_bindings::add_field_names<nb_detector_spec>(fields);
    nb_bindings::add_field_names<nb_detector_geometry>(fields);
    nb_bindings::add_field_names<nb_crystal_spec>(fields);
    nb_bindings::add_field_names<nb_crystal_vectors>(fields);
    nb_bindings::add_field_names<nb_source_spec>(fields);
    nb_bindings::add_field_names<nb_mosaic_spec>(fields);
    nb_bindings::add_field_names<nb_render_params>(fields);
    nb_bindings::add_field_names<nb_render_info>(fields);
    nb_bindings::add_field_names<nb_trace_term>(fields);
    nb_bindings::add_field_names<nb_trace>(fields);
    nb_bindings::add_field_names<nb_noise_spec>(fields);
    nb_bindings::add_field_names<nb_amorphous_spec>(fields);
    nb_bindings::add_field_names<nb_amorphous_info>(fields);
    nb_bindings::add_field_names<nb_response_spec>(fields);
    nb_bindings::add_field_names<nb_response_info>(fields);
    nb_bindings::add_field_names<nb_scatterer_params>(fields);
    return fields;
}

#define NB_CODE_ENTRY(identifier, python_name, value) table[#python_name] = (int)(identifier);
#define NB_CODE_TABLE(key, LIST)  \
    {                             \
        py::dict table;           \
        LIST(NB_CODE_ENTRY)       \
        codes[key] = table;       \
    }

py::dict code_tables()
{
    py::dict codes;
    NB_CODE_TABLE("convention", NB_CONVENTION_CODES)
    NB_CODE_TABLE("pivot", NB_PIVOT_CODES)
    NB_CODE_TABLE("shape", NB_SHAPE_CODES)
    NB_CODE_TABLE("psf", NB_PSF_CODES)
    return codes;
}

#undef NB_CODE_TABLE
#undef NB_CODE_ENTRY

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

    m.def("detector_geometry", &detector_geometry, py::arg("spec"),
          "The placed detector (dict, keys FIELDS['detector_geometry']): metres, unit "
          "vectors, pixels.");
    m.def("crystal_vectors", &crystal_vectors, py::arg("spec"), py::arg("rng"),
          "Real (m) and reciprocal (1/A) cell vectors at phi = 0 and N (dict, keys "
          "FIELDS['crystal_vectors']).");
    m.def("random_misset", &random_misset, py::arg("c_parity"), py::arg("seed"), py::arg("rng"),
          "Misset rotations about x, y, z of a random orientation: ndarray (3,), radians.");
    m.def("sources", &sources, py::arg("spec"), py::arg("table") = py::none(),
          "Sources (dict): direction (n, 3) unit vectors, wavelength_m (n,) in metres, "
          "weight (n,), divergence_steps.");
    m.def("mosaic_rotations", &mosaic_rotations, py::arg("spec"), py::arg("rng"),
          "Mosaic domain rotations: ndarray (domains, 3, 3), row-major, the first the "
          "identity.");
    m.def("mosaic_axes", &mosaic_axes, py::arg("spec"), py::arg("rng"),
          "Mosaic domain rotations as (unit axes (domains, 3), angles (domains,) in radians).");
    m.def("render", &render, py::arg("params"), py::arg("sources"), py::arg("mosaic"),
          py::arg("structure_factors"), py::arg("mask"), py::arg("threads") = 0,
          py::arg("progress") = py::none(),
          "(image (spixels, fpixels) float64 in photons per pixel, info dict with keys "
          "FIELDS['render_info']).");
    m.def("trace_pixel", &trace_pixel, py::arg("params"), py::arg("sources"), py::arg("mosaic"),
          py::arg("structure_factors"), py::arg("mask"), py::arg("fpixel"), py::arg("spixel"),
          py::arg("entry"), py::arg("interpolate"),
          "One pixel term by term: {'terms': columns FIELDS['trace_term'], 'final': keys "
          "FIELDS['trace_final']} (SI units).");
    m.def("add_noise", &add_noise, py::arg("image"), py::arg("spec"), py::arg("rng"),
          "(noisy image (spixels, fpixels) uint16 in ADU, photons drawn, pixels clipped at "
          "65535).");
    m.def("image_sums", &image_sums, py::arg("image"), py::arg("rendered"), py::arg("roi"),
          "dict: count, total, squares, mean, roi_count, deviations, max_index, max_value "
          "(nb_image_sums).");
    m.def("int_image", &int_image, py::arg("image"), py::arg("roi"), py::arg("scale"),
          py::arg("adc_offset"), "uint16 image of the image's shape (nb_int_image).");
    m.def("amorphous", &amorphous, py::arg("spec"), py::arg("sources"), py::arg("table"),
          py::arg("threads") = 0,
          py::arg("progress") = py::none(),
          "(image (spixels, fpixels) float64 in photons per pixel, info dict with keys "
          "FIELDS['amorphous_info']).");
    m.def("detector_response", &detector_response, py::arg("image"), py::arg("spec"),
          py::arg("rng"), py::arg("threads") = 0,
          "(noiseless image, its values before they become pixels (float64) or None, noisy "
          "image or None (spixels, fpixels) uint32 pixel values, info dict with keys "
          "FIELDS['response_info']).");
    m.def("response_shot_noise", &response_shot_noise, py::arg("photons"), py::arg("spec"),
          py::arg("rng"),
          "(Poisson counts after flicker and calibration error, their sum, the seed after), "
          "in the legacy generator's order.");
    m.def("response_readout_deviates", &response_readout_deviates, py::arg("pixels"),
          py::arg("seed"), py::arg("rng"),
          "Unit Gaussian deviates of the read-out noise, one per pixel, from seed on.");
    m.def("point_scatterers", &point_scatterers, py::arg("params"), py::arg("atoms"),
          py::arg("sources"), py::arg("image") = py::none(), py::arg("real") = py::none(),
          py::arg("imag") = py::none(), py::arg("threads") = 0, py::arg("progress") = py::none(),
          "Point scatterers (dict): image (spixels, fpixels) photons per pixel, real and imag "
          "mean amplitudes (coherent), omega solid-angle sums, steps.");
    m.attr("FIELDS") = field_lists();
    m.attr("CODES") = code_tables();
#ifdef NANOBRAGG_HAVE_OPENMP
    m.attr("has_openmp") = true;
#else
    m.attr("has_openmp") = false;
#endif
}
