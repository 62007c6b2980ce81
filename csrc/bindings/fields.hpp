// Generic conversion of the engine's structs from and to Python, driven by the
// field lists in nanobragg.h.  Each struct gets a Layout (one expansion of its
// list); reading an object, writing a dict, naming the fields and laying trace
// rows out as columns all iterate that Layout, so no field is named here.
#ifndef NANOBRAGG_BINDINGS_FIELDS_HPP
#define NANOBRAGG_BINDINGS_FIELDS_HPP

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <climits>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "nanobragg.h"
}

namespace nb_bindings {

namespace py = pybind11;
using Array = py::array_t<double, py::array::c_style | py::array::forcecast>;

// One tag per X-macro kind: BOOL and INT are both int in C, the tag tells them apart.
namespace kind {
struct BOOL {};
struct INT {};
struct LONG {};
struct REAL {};
struct VEC3 {};
struct MAT3 {};
} // namespace kind

// Where a value comes from, for error messages: "render_params.distance_m".
struct Field {
    const char *owner;
    const char *name;
    std::string path() const { return std::string(owner) + "." + name; }
};

// repr(value) on one line, at most 80 characters.
inline std::string short_repr(py::handle value)
{
    std::string text;
    bool blank = false;
    for (char ch : py::repr(value).cast<std::string>()) {
        bool space = ch == ' ' || ch == '\n';
        if (!(space && blank)) text += space ? ' ' : ch;
        blank = space;
    }
    return text.size() > 80 ? text.substr(0, 77) + "..." : text;
}

// "(2, 3)", "(3,)": an array's shape as Python writes it.
inline std::string shape_of(const py::array &a)
{
    std::string text = "(";
    for (py::ssize_t i = 0; i < a.ndim(); ++i)
        text += std::to_string(a.shape(i)) + (a.ndim() == 1 ? "," : i + 1 < a.ndim() ? ", " : "");
    return text + ")";
}

[[noreturn]] inline void wrong_type(const Field &at, const char *expected, py::handle value)
{
    throw py::type_error(at.path() + ": expected " + expected + ", got " + short_repr(value));
}

// getattr(obj, name); a missing attribute is a TypeError naming the field.
inline py::object attribute(py::handle obj, const Field &at)
{
    PyObject *value = PyObject_GetAttrString(obj.ptr(), at.name);
    if (value == nullptr) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) throw py::error_already_set();
        PyErr_Clear();
        std::string type = py::str(py::type::handle_of(obj).attr("__qualname__"));
        throw py::type_error(at.path() + ": missing (" + type + " has no attribute '" +
                             at.name + "')");
    }
    return py::reinterpret_steal<py::object>(value);
}

// A whole number (int, IntEnum, numpy integer; not a float) within [lo, hi].
inline long long integer(py::handle value, const Field &at, long long lo, long long hi,
                         const char *range)
{
    PyObject *index = PyNumber_Index(value.ptr());
    if (index == nullptr) {
        PyErr_Clear();
        wrong_type(at, "an integer", value);
    }
    int overflow = 0;
    long long result = PyLong_AsLongLongAndOverflow(index, &overflow);
    Py_DECREF(index);
    if (overflow != 0 || result < lo || result > hi)
        throw py::value_error(at.path() + ": " + short_repr(value) + " is outside the " + range +
                              " range");
    return result;
}

// A real number (anything with __float__ or __index__).
inline double real(py::handle value, const Field &at)
{
    double result = PyFloat_AsDouble(value.ptr());
    if (result == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        wrong_type(at, "a number", value);
    }
    return result;
}

// n numbers from a sequence or array of the given shapes; None = NaN everywhere.
inline void numbers(py::handle value, const Field &at, double *out, py::ssize_t n,
                    const char *expected, bool matrix)
{
    if (value.is_none()) {
        for (py::ssize_t i = 0; i < n; ++i) out[i] = NAN;
        return;
    }
    if (py::isinstance<py::str>(value) || py::isinstance<py::bytes>(value))
        wrong_type(at, expected, value);
    Array array = Array::ensure(value);
    if (!array) wrong_type(at, expected, value);
    bool flat = array.ndim() == 1 && array.shape(0) == n;
    bool square = matrix && array.ndim() == 2 && array.shape(0) == 3 && array.shape(1) == 3;
    if (!flat && !square)
        throw py::value_error(at.path() + ": expected " + expected + ", got " +
                              short_repr(value) + " of shape " + shape_of(array));
    std::memcpy(out, array.data(), sizeof(double) * (size_t)n);
}

// ---- Python -> C, one overload per kind --------------------------------

inline void from_py(py::handle obj, const Field &at, kind::BOOL, int &field)
{
    py::object value = attribute(obj, at);
    if (!PyBool_Check(value.ptr()) && !PyIndex_Check(value.ptr()) &&
        !py::isinstance(value, py::module_::import("numpy").attr("bool_")))
        wrong_type(at, "a bool", value);
    int truth = PyObject_IsTrue(value.ptr());
    if (truth < 0) throw py::error_already_set();
    field = truth;
}

inline void from_py(py::handle obj, const Field &at, kind::INT, int &field)
{
    field = (int)integer(attribute(obj, at), at, INT_MIN, INT_MAX, "C int");
}

inline void from_py(py::handle obj, const Field &at, kind::LONG, long &field)
{
    field = (long)integer(attribute(obj, at), at, LONG_MIN, LONG_MAX, "C long");
}

inline void from_py(py::handle obj, const Field &at, kind::REAL, double &field)
{
    py::object value = attribute(obj, at);
    field = value.is_none() ? NAN : real(value, at);
}

inline void from_py(py::handle obj, const Field &at, kind::VEC3, double (&field)[3])
{
    numbers(attribute(obj, at), at, field, 3, "3 numbers", false);
}

inline void from_py(py::handle obj, const Field &at, kind::MAT3, double (&field)[9])
{
    numbers(attribute(obj, at), at, field, 9, "a (3, 3) array or 9 numbers", true);
}

// ---- C -> Python, one overload per kind: out[name] = the field ---------

inline void to_py(py::dict &out, const char *name, kind::BOOL, const int &field)
{
    out[name] = py::bool_(field != 0);
}

inline void to_py(py::dict &out, const char *name, kind::INT, const int &field)
{
    out[name] = py::int_(field);
}

inline void to_py(py::dict &out, const char *name, kind::LONG, const long &field)
{
    out[name] = py::int_(field);
}

inline void to_py(py::dict &out, const char *name, kind::REAL, const double &field)
{
    out[name] = py::float_(field);
}

inline void to_py(py::dict &out, const char *name, kind::VEC3, const double (&field)[3])
{
    Array value({(py::ssize_t)3});
    std::memcpy(value.mutable_data(), field, sizeof field);
    out[name] = value;
}

inline void to_py(py::dict &out, const char *name, kind::MAT3, const double (&field)[9])
{
    Array value({(py::ssize_t)3, (py::ssize_t)3});
    std::memcpy(value.mutable_data(), field, sizeof field);
    out[name] = value;
}

// ---- layouts: each struct's field list, expanded once ------------------

template <class S> struct Layout;

#define NB_VISIT_FIELD(kind_, name_) visit(kind::kind_{}, #name_, s.name_);
#define NB_LAYOUT(Type, key, LIST)                                                      \
    template <> struct Layout<Type> {                                                   \
        static constexpr const char *name = key;                                        \
        template <class Struct, class Visit> static void each(Struct &s, Visit &&visit) \
        {                                                                               \
            LIST(NB_VISIT_FIELD)                                                        \
        }                                                                               \
    };

NB_LAYOUT(nb_detector_spec, "detector_spec", NB_DETECTOR_SPEC_FIELDS)
NB_LAYOUT(nb_detector_geometry, "detector_geometry", NB_DETECTOR_GEOMETRY_FIELDS)
NB_LAYOUT(nb_crystal_spec, "crystal_spec", NB_CRYSTAL_SPEC_FIELDS)
NB_LAYOUT(nb_crystal_vectors, "crystal_vectors", NB_CRYSTAL_VECTORS_FIELDS)
NB_LAYOUT(nb_source_spec, "source_spec", NB_SOURCE_SPEC_FIELDS)
NB_LAYOUT(nb_mosaic_spec, "mosaic_spec", NB_MOSAIC_SPEC_FIELDS)
NB_LAYOUT(nb_render_params, "render_params", NB_RENDER_PARAMS_FIELDS)
NB_LAYOUT(nb_render_info, "render_info", NB_RENDER_INFO_FIELDS)
NB_LAYOUT(nb_trace_term, "trace_term", NB_TRACE_TERM_FIELDS)
NB_LAYOUT(nb_trace, "trace_final", NB_TRACE_FINAL_FIELDS)
NB_LAYOUT(nb_noise_spec, "noise_spec", NB_NOISE_SPEC_FIELDS)
NB_LAYOUT(nb_response_spec, "response_spec", NB_RESPONSE_SPEC_FIELDS)
NB_LAYOUT(nb_response_info, "response_info", NB_RESPONSE_INFO_FIELDS)
NB_LAYOUT(nb_scatterer_params, "scatterer_params", NB_SCATTERER_PARAMS_FIELDS)
NB_LAYOUT(nb_amorphous_spec, "amorphous_spec", NB_AMORPHOUS_SPEC_FIELDS)
NB_LAYOUT(nb_amorphous_info, "amorphous_info", NB_AMORPHOUS_INFO_FIELDS)

#undef NB_LAYOUT
#undef NB_VISIT_FIELD

// A struct read field by field from the attributes of obj.
template <class S> S from_object(py::handle obj)
{
    S s;
    std::memset(&s, 0, sizeof s);
    Layout<S>::each(s, [&](auto tag, const char *name, auto &field) {
        from_py(obj, Field{Layout<S>::name, name}, tag, field);
    });
    return s;
}

// A struct as a dict, keys the field names in declaration order.
template <class S> py::dict to_dict(const S &s)
{
    py::dict out;
    Layout<S>::each(s, [&](auto tag, const char *name, const auto &field) {
        to_py(out, name, tag, field);
    });
    return out;
}

template <class S> void add_field_names(py::dict &fields)
{
    S s;
    std::memset(&s, 0, sizeof s);
    py::list names;
    Layout<S>::each(s, [&](auto, const char *name, const auto &) { names.append(name); });
    fields[Layout<S>::name] = py::tuple(names);
}

// ---- trace rows as columns ----------------------------------------------

// An empty column of n rows for a field: numbers per row, or a vector or matrix per row.
inline py::array column(kind::BOOL, const int &, size_t n)
{
    return py::array_t<bool>({(py::ssize_t)n});
}
inline py::array column(kind::INT, const int &, size_t n)
{
    return py::array_t<int>({(py::ssize_t)n});
}
inline py::array column(kind::LONG, const long &, size_t n)
{
    return py::array_t<long>({(py::ssize_t)n});
}
inline py::array column(kind::REAL, const double &, size_t n) { return Array({(py::ssize_t)n}); }
inline py::array column(kind::VEC3, const double (&)[3], size_t n)
{
    return Array({(py::ssize_t)n, (py::ssize_t)3});
}
inline py::array column(kind::MAT3, const double (&)[9], size_t n)
{
    return Array({(py::ssize_t)n, (py::ssize_t)3, (py::ssize_t)3});
}

// Row i of a column holds the field's C value, byte for byte (a flag as a numpy bool).
template <class Tag, class T> void store(Tag, char *column, size_t i, const T &field)
{
    std::memcpy(column + i * sizeof(T), &field, sizeof(T));
}
inline void store(kind::BOOL, char *column, size_t i, const int &field)
{
    reinterpret_cast<bool *>(column)[i] = field != 0;
}

template <class S> py::dict columns(const std::vector<S> &rows)
{
    py::dict out;
    std::vector<char *> data;
    S proto;
    std::memset(&proto, 0, sizeof proto);
    Layout<S>::each(proto, [&](auto tag, const char *name, const auto &field) {
        py::array values = column(tag, field, rows.size());
        data.push_back(static_cast<char *>(values.mutable_data()));
        out[name] = values;
    });
    for (size_t i = 0; i < rows.size(); ++i) {
        size_t j = 0;
        Layout<S>::each(rows[i], [&](auto tag, const char *, const auto &field) {
            store(tag, data[j++], i, field);
        });
    }
    return out;
}

} // namespace nb_bindings

#endif
