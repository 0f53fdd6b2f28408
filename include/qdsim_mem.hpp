// qdsim_mem.hpp: C++17 RAII wrappers over the C API of qdsim-mem (qdsim_mem.h).
//
// Every handle type is a move-only class that destroys its handle in its destructor; every
// failing call throws qdsim::error carrying the status code and the library's message.
// Arrays from the manager are qdsim::pool_array<T> (freed when they go out of scope) and are
// viewed as qdsim::span<T> (std::span in C++20). Complex numbers are std::complex<double>
// (layout-compatible with qdsim_complex).
//
// Header-only: link libqdsim_mem as for C (see the README).
#ifndef QDSIM_MEM_HPP
#define QDSIM_MEM_HPP

#include <complex>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "qdsim_mem.h"

namespace qdsim {

static_assert(sizeof(qdsim_complex) == sizeof(std::complex<double>), "qdsim_complex layout");

/// A failed qdsim call: the status code and the library's explanation.
class error : public std::runtime_error {
public:
    error(qdsim_status status, const std::string &message)
        : std::runtime_error(std::string(qdsim_status_string(status)) + ": " + message), status_(status) {}
    /// The QDSIM_ERR_* code.
    qdsim_status status() const noexcept { return status_; }

private:
    qdsim_status status_;
};

/// Throws qdsim::error unless `status` is QDSIM_OK.
inline void check(qdsim_status status) {
    if (status != QDSIM_OK) throw error(status, qdsim_last_error_message());
}

/// Throws when the loaded library's ABI differs from this header's.
inline void check_abi() {
    if (qdsim_abi_version() != QDSIM_MEM_ABI_VERSION)
        throw error(QDSIM_ERR_INVALID_ARGUMENT, "libqdsim_mem ABI " + std::to_string(qdsim_abi_version()) +
                                                    " does not match the header's " +
                                                    std::to_string(QDSIM_MEM_ABI_VERSION));
}

/// A view of contiguous elements (std::span's subset that C++17 lacks).
template <typename T>
class span {
public:
    span() = default;
    span(T *data, std::size_t size) : data_(data), size_(size) {}
    T *data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    T &operator[](std::size_t i) const noexcept { return data_[i]; }
    T *begin() const noexcept { return data_; }
    T *end() const noexcept { return data_ + size_; }

private:
    T *data_ = nullptr;
    std::size_t size_ = 0;
};

namespace detail {
/// Move-only ownership of a C handle with its destroy function.
template <typename H, qdsim_status (*Destroy)(H *)>
class handle {
public:
    handle() = default;
    explicit handle(H *h) : h_(h) {}
    handle(const handle &) = delete;
    handle &operator=(const handle &) = delete;
    handle(handle &&o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
    handle &operator=(handle &&o) noexcept {
        if (this != &o) {
            reset();
            h_ = std::exchange(o.h_, nullptr);
        }
        return *this;
    }
    ~handle() { reset(); }
    H *get() const noexcept { return h_; }
    explicit operator bool() const noexcept { return h_ != nullptr; }

private:
    void reset() noexcept {
        if (h_) Destroy(std::exchange(h_, nullptr));
    }
    H *h_ = nullptr;
};

/// Takes a string returned by the library, copies it and frees the original.
inline std::string take_string(char *text) {
    std::string copy(text);
    qdsim_string_free(text);
    return copy;
}

template <typename T>
struct pool_of;
template <>
struct pool_of<double> {
    static constexpr qdsim_pool value = QDSIM_POOL_F64;
};
template <>
struct pool_of<std::complex<double>> {
    static constexpr qdsim_pool value = QDSIM_POOL_COMPLEX;
};
template <>
struct pool_of<std::int32_t> {
    static constexpr qdsim_pool value = QDSIM_POOL_I32;
};
template <>
struct pool_of<std::int64_t> {
    static constexpr qdsim_pool value = QDSIM_POOL_I64;
};
template <>
struct pool_of<unsigned char> {
    static constexpr qdsim_pool value = QDSIM_POOL_BYTES;
};
}  // namespace detail

/// An array of `T` in a manager's typed pool (double, std::complex<double>, int32_t, int64_t,
/// unsigned char), given back to the pool when destroyed. Move-only.
template <typename T>
class pool_array {
public:
    pool_array() = default;
    pool_array(const pool_array &) = delete;
    pool_array &operator=(const pool_array &) = delete;
    pool_array(pool_array &&o) noexcept
        : manager_(std::exchange(o.manager_, nullptr)), data_(std::exchange(o.data_, nullptr)), size_(o.size_) {}
    pool_array &operator=(pool_array &&o) noexcept {
        if (this != &o) {
            release();
            manager_ = std::exchange(o.manager_, nullptr);
            data_ = std::exchange(o.data_, nullptr);
            size_ = o.size_;
        }
        return *this;
    }
    ~pool_array() { release(); }

    T *data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    T &operator[](std::size_t i) const noexcept { return data_[i]; }
    T *begin() const noexcept { return data_; }
    T *end() const noexcept { return data_ + size_; }
    span<T> view() const noexcept { return {data_, size_}; }

private:
    friend class manager;
    pool_array(qdsim_manager *m, T *data, std::size_t size) : manager_(m), data_(data), size_(size) {}
    void release() noexcept {
        if (data_) qdsim_manager_free(manager_, std::exchange(data_, nullptr));
    }
    qdsim_manager *manager_ = nullptr;
    T *data_ = nullptr;
    std::size_t size_ = 0;
};

/// The memory manager. Safe to share between threads (by reference).
class manager {
public:
    /// A manager with `config` (the defaults when omitted).
    explicit manager(const qdsim_manager_config *config = nullptr) {
        qdsim_manager *m = nullptr;
        check(qdsim_manager_create(config, &m));
        h_ = handle_t(m);
    }
    explicit manager(const qdsim_manager_config &config) : manager(&config) {}

    /// The default configuration, to modify and pass to the constructor.
    static qdsim_manager_config default_config() {
        qdsim_manager_config c;
        check(qdsim_manager_config_default(&c));
        return c;
    }

    qdsim_manager *get() const noexcept { return h_.get(); }

    /// `count` elements of `T` from `T`'s pool, tagged `tag` (contents unspecified).
    template <typename T>
    pool_array<T> alloc(std::size_t count, const char *tag = nullptr, std::size_t alignment = 0) {
        void *p = nullptr;
        check(qdsim_manager_alloc(get(), detail::pool_of<T>::value, count, alignment, tag, &p));
        return pool_array<T>(get(), static_cast<T *>(p), count);
    }

    /// Like alloc, with every element zero.
    template <typename T>
    pool_array<T> alloc_zeroed(std::size_t count, const char *tag = nullptr, std::size_t alignment = 0) {
        void *p = nullptr;
        check(qdsim_manager_alloc_zeroed(get(), detail::pool_of<T>::value, count, alignment, tag, &p));
        return pool_array<T>(get(), static_cast<T *>(p), count);
    }

    qdsim_stats stats() const {
        qdsim_stats s;
        check(qdsim_manager_stats(get(), &s));
        return s;
    }
    qdsim_stats pool_stats(qdsim_pool pool) const {
        qdsim_stats s;
        check(qdsim_manager_pool_stats(get(), pool, &s));
        return s;
    }
    qdsim_tag_stats tag_stats(const char *tag) const {
        qdsim_tag_stats s;
        check(qdsim_manager_tag_stats(get(), tag, &s));
        return s;
    }
    std::vector<qdsim_tag_stats> tags() const {
        for (;;) {
            std::size_t count = 0, written = 0;
            check(qdsim_manager_tag_count(get(), &count));
            std::vector<qdsim_tag_stats> out(count);
            qdsim_status s = qdsim_manager_tag_list(get(), out.data(), out.size(), &written);
            if (s == QDSIM_ERR_BUFFER_TOO_SMALL) continue;  // a tag appeared meanwhile
            check(s);
            out.resize(written);
            return out;
        }
    }
    qdsim_leak_summary leak_summary() const {
        qdsim_leak_summary l;
        check(qdsim_manager_leak_summary(get(), &l));
        return l;
    }
    std::string leak_report() const {
        char *t = nullptr;
        check(qdsim_manager_leak_report(get(), &t));
        return detail::take_string(t);
    }
    std::string allocation_report() const {
        char *t = nullptr;
        check(qdsim_manager_allocation_report(get(), &t));
        return detail::take_string(t);
    }
    /// Gives entirely free chunks back to the system; returns the bytes released.
    std::uint64_t trim() {
        std::uint64_t released = 0;
        check(qdsim_manager_trim(get(), &released));
        return released;
    }

    /// Opens a scope (phase statistics until pop_scope; scopes nest).
    void push_scope(const char *name) { check(qdsim_manager_push_scope(get(), name)); }
    /// Closes the innermost scope and returns what happened inside it.
    qdsim_scope_stats pop_scope() {
        qdsim_scope_stats s;
        check(qdsim_manager_pop_scope(get(), &s));
        return s;
    }
    /// A point in the allocation history, for leaks_since.
    std::uint64_t checkpoint() const {
        std::uint64_t c = 0;
        check(qdsim_manager_checkpoint(get(), &c));
        return c;
    }
    /// The allocations made after `checkpoint` that are still live; `report` (if given) gets
    /// them listed by tag.
    qdsim_leak_check leaks_since(std::uint64_t checkpoint, std::uint64_t threshold_bytes = 1 << 20,
                                 std::string *report = nullptr) const {
        qdsim_leak_check l;
        char *t = nullptr;
        check(qdsim_manager_leaks_since(get(), checkpoint, threshold_bytes, &l, report ? &t : nullptr));
        if (report) *report = detail::take_string(t);
        return l;
    }
    /// Turns the allocation event log on or off (off by default).
    void set_event_log(bool on) { check(qdsim_manager_set_event_log(get(), on ? 1 : 0)); }
    /// Writes the recorded events as CSV (replay it with qdsim::replay_event_log).
    void write_event_log(const char *path) const { check(qdsim_manager_write_event_log(get(), path)); }

private:
    using handle_t = detail::handle<qdsim_manager, qdsim_manager_destroy>;
    handle_t h_;
};

/// Phase statistics as an RAII scope: pushed on construction; finish() pops it and returns the
/// statistics (the destructor pops it if finish() was not called).
class scope {
public:
    scope(manager &m, const char *name) : m_(&m) { m.push_scope(name); }
    scope(const scope &) = delete;
    scope &operator=(const scope &) = delete;
    ~scope() {
        if (m_) {
            qdsim_scope_stats ignored;
            qdsim_manager_pop_scope(m_->get(), &ignored);
        }
    }
    qdsim_scope_stats finish() {
        if (!m_) throw error(QDSIM_ERR_INVALID_ARGUMENT, "scope finished twice");
        manager *m = std::exchange(m_, nullptr);
        return m->pop_scope();
    }

private:
    manager *m_;
};

/// A sampling profiler of a manager (stopped and destroyed with the object).
class profiler {
public:
    /// A profiler sampling every `interval_s` seconds (not started).
    explicit profiler(const manager &m, double interval_s = 0.1) {
        qdsim_profiler_config c;
        check(qdsim_profiler_config_default(&c));
        c.interval_s = interval_s;
        qdsim_profiler *p = nullptr;
        check(qdsim_profiler_create(m.get(), &c, &p));
        h_ = handle_t(p);
    }
    void start() { check(qdsim_profiler_start(h_.get())); }
    void stop() { check(qdsim_profiler_stop(h_.get())); }
    /// A named event on the timeline ("assembly done").
    void mark(const char *label) { check(qdsim_profiler_mark(h_.get(), label)); }
    qdsim_profile_summary summary() const {
        qdsim_profile_summary s;
        check(qdsim_profiler_summary(h_.get(), &s));
        return s;
    }
    /// Writes QDSIM_FORMAT_CSV, _JSON or _SVG to `path`.
    void write(qdsim_format format, const char *path) const { check(qdsim_profiler_write(h_.get(), format, path)); }
    std::string to_string(qdsim_format format) const {
        char *t = nullptr;
        check(qdsim_profiler_export(h_.get(), format, &t));
        return detail::take_string(t);
    }
    qdsim_profiler *get() const noexcept { return h_.get(); }

private:
    using handle_t = detail::handle<qdsim_profiler, qdsim_profiler_destroy>;
    handle_t h_;
};

/// Replays an event log written by manager::write_event_log; `report` (if given) gets the size
/// histogram.
inline qdsim_replay_summary replay_event_log(const char *path, std::string *report = nullptr) {
    qdsim_replay_summary r;
    char *t = nullptr;
    check(qdsim_replay_event_log(path, &r, report ? &t : nullptr));
    if (report) *report = detail::take_string(t);
    return r;
}

/// A dense matrix (column-major, element (i, j) at data()[i + j·ld()]).
template <typename T>
class matrix {
    static_assert(std::is_same<T, double>::value || std::is_same<T, std::complex<double>>::value,
                  "matrix<double> or matrix<std::complex<double>>");

public:
    matrix(manager &m, std::size_t rows, std::size_t cols, const char *tag = nullptr) {
        qdsim_matrix *h = nullptr;
        check(qdsim_matrix_create(m.get(), std::is_same<T, double>::value ? QDSIM_SCALAR_REAL : QDSIM_SCALAR_COMPLEX,
                                  rows, cols, tag, &h));
        h_ = handle_t(h);
        check(qdsim_matrix_get_info(h, &info_));
        void *d = nullptr;
        check(qdsim_matrix_data(h, &d));
        data_ = static_cast<T *>(d);
    }
    qdsim_matrix *get() const noexcept { return h_.get(); }
    std::size_t rows() const noexcept { return info_.rows; }
    std::size_t cols() const noexcept { return info_.cols; }
    std::size_t ld() const noexcept { return info_.ld; }
    T *data() const noexcept { return data_; }
    T &operator()(std::size_t i, std::size_t j) const noexcept { return data_[i + j * info_.ld]; }
    /// this = srcᵀ / srcᴴ / src (cache-blocked).
    void transpose_from(const matrix &src) { check(qdsim_matrix_transpose(src.get(), get())); }
    void adjoint_from(const matrix &src) { check(qdsim_matrix_adjoint(src.get(), get())); }
    void copy_from(const matrix &src) { check(qdsim_matrix_copy(src.get(), get())); }

private:
    using handle_t = detail::handle<qdsim_matrix, qdsim_matrix_destroy>;
    handle_t h_;
    qdsim_matrix_info info_{};
    T *data_ = nullptr;
};

/// A sparse CSR matrix (from a builder or a Hamiltonian).
class csr {
public:
    explicit csr(qdsim_csr *h) : h_(h) { check(qdsim_csr_get_info(h, &info_)); }
    qdsim_csr *get() const noexcept { return h_.get(); }
    const qdsim_csr_info &info() const noexcept { return info_; }
    /// y = αAx + βy (real matrix, real vectors).
    void spmv(double alpha, span<const double> x, double beta, span<double> y) const {
        check_sizes(x.size(), y.size());
        check(qdsim_csr_spmv(get(), alpha, x.data(), beta, y.data()));
    }
    /// y = αAx + βy with complex vectors.
    void spmv(std::complex<double> alpha, span<const std::complex<double>> x, std::complex<double> beta,
              span<std::complex<double>> y) const {
        check_sizes(x.size(), y.size());
        check(qdsim_csr_spmv_complex(get(), to_c(alpha), reinterpret_cast<const qdsim_complex *>(x.data()), to_c(beta),
                                     reinterpret_cast<qdsim_complex *>(y.data())));
    }
    /// Writes the matrix to `path` in PETSc's binary format (for SLEPc; see the README).
    void write_petsc(const char *path) const { check(qdsim_csr_write_petsc(get(), path)); }
    /// Writes the matrix to `path` as a MatrixMarket coordinate file.
    void write_matrix_market(const char *path) const { check(qdsim_csr_write_matrix_market(get(), path)); }

private:
    static qdsim_complex to_c(std::complex<double> z) { return {z.real(), z.imag()}; }
    void check_sizes(std::size_t nx, std::size_t ny) const {
        if (nx != info_.cols || ny != info_.rows)
            throw error(QDSIM_ERR_INVALID_ARGUMENT, "x must have " + std::to_string(info_.cols) + " and y " +
                                                        std::to_string(info_.rows) + " entries");
    }
    detail::handle<qdsim_csr, qdsim_csr_destroy> h_;
    qdsim_csr_info info_{};
};

/// A matrix in a memory-mapped file (qdsim_mapped): opened, optionally with its data checksums
/// verified, and verified again on demand. Move-only; the handle is destroyed with it.
class mapped {
public:
    explicit mapped(qdsim_mapped *h) : h_(h) {}
    /// Opens a finalized file (read-only unless `writable`); checks its header and structure.
    static mapped open(const char *path, bool writable = false) {
        qdsim_mapped *h = nullptr;
        check(qdsim_mapped_open(path, writable ? 1 : 0, &h));
        return mapped(h);
    }
    /// Like open(), after checking all of the data against its checksums.
    static mapped open_verified(const char *path, bool writable = false) {
        qdsim_mapped *h = nullptr;
        check(qdsim_mapped_open_verified(path, writable ? 1 : 0, &h));
        return mapped(h);
    }
    qdsim_mapped *get() const noexcept { return h_.get(); }
    qdsim_mapped_info info() const {
        qdsim_mapped_info i;
        check(qdsim_mapped_get_info(get(), &i));
        return i;
    }
    /// Checks all of the data against the file's checksums: throws QDSIM_ERR_CORRUPT_FILE on
    /// damage, QDSIM_ERR_INVALID_ARGUMENT for a file without checksums (format version 1).
    void verify() const { check(qdsim_mapped_verify(get())); }

private:
    detail::handle<qdsim_mapped, qdsim_mapped_destroy> h_;
};

/// Collects (row, col, value) entries in any order; finalize() sums duplicates.
class csr_builder {
public:
    csr_builder(manager &m, qdsim_scalar scalar, std::size_t rows, std::size_t cols, const char *tag = nullptr) {
        qdsim_csr_builder *b = nullptr;
        check(qdsim_csr_builder_create(m.get(), scalar, rows, cols, tag, &b));
        h_ = handle_t(b);
    }
    void add(std::size_t row, std::size_t col, double value) { check(qdsim_csr_builder_add(h_.get(), row, col, value)); }
    void add(std::size_t row, std::size_t col, std::complex<double> value) {
        check(qdsim_csr_builder_add_complex(h_.get(), row, col, {value.real(), value.imag()}));
    }
    csr finalize() {
        qdsim_csr *c = nullptr;
        check(qdsim_csr_builder_finalize(h_.get(), &c));
        return csr(c);
    }

private:
    using handle_t = detail::handle<qdsim_csr_builder, qdsim_csr_builder_destroy>;
    handle_t h_;
};

/// A hard-wall box grid of `lengths` (nm) with `points` interior points per axis.
inline qdsim_grid box_grid(std::vector<double> lengths, std::vector<std::size_t> points) {
    if (lengths.size() != points.size())
        throw error(QDSIM_ERR_INVALID_ARGUMENT, "one point count per length");
    qdsim_grid g;
    check(qdsim_grid_box(static_cast<std::int32_t>(lengths.size()), lengths.data(), points.data(), &g));
    return g;
}

/// A Hamiltonian description with the library's defaults (GaAs mass, no field, no absorber).
inline qdsim_hamiltonian_desc hamiltonian_desc(const qdsim_grid &grid, const double *potential) {
    qdsim_hamiltonian_desc d;
    check(qdsim_hamiltonian_desc_default(&d));
    d.grid = grid;
    d.potential = potential;
    return d;
}

/// Physical constants, the library's own values (the C macros QDSIM_HBAR2_OVER_2M0, …): ħ²/(2m₀)
/// in eV·nm², e/ħ in 1/(T·nm²), conduction-band effective masses in m₀.
inline constexpr double hbar2_over_2m0 = QDSIM_HBAR2_OVER_2M0;
inline constexpr double e_over_hbar = QDSIM_E_OVER_HBAR;
inline constexpr double mass_gaas = QDSIM_MASS_GAAS;
inline constexpr double mass_inas = QDSIM_MASS_INAS;

/// Number of points of `grid`: the product of its first `dims` axes' points (0 for dims outside
/// 1–3 or a product that overflows, which the library then refuses with its own message).
inline std::size_t grid_points(const qdsim_grid &grid) {
    if (grid.dims < 1 || grid.dims > 3) return 0;
    std::size_t n = 1;
    for (int a = 0; a < grid.dims; ++a) {
        const std::size_t p = grid.axes[a].points;
        if (p != 0 && n > SIZE_MAX / p) return 0;
        n *= p;
    }
    return n;
}

/// Writes the parabolic confinement V = (ħω)² r² / (4 ħ²/2m*), eV, r from the box's centre, at
/// every point of `grid` into `out` (one value per point): `mass` in m₀, `hbar_omega` in eV.
inline void parabolic_potential(const qdsim_grid &grid, double mass, double hbar_omega, span<double> out) {
    check(qdsim_parabolic_potential(&grid, mass, hbar_omega, out.data(), out.size()));
}

/// The parabolic confinement of `grid` as a new vector (see above).
inline std::vector<double> parabolic_potential(const qdsim_grid &grid, double mass, double hbar_omega) {
    std::vector<double> v(grid_points(grid));
    parabolic_potential(grid, mass, hbar_omega, span<double>(v.data(), v.size()));
    return v;
}

/// Writes the open dot's potential into `out` (one value per point): `height_ev` on the shell
/// radius_nm ≤ r < radius_nm + thickness_nm about the box's centre, 0 elsewhere.
inline void open_dot_potential(const qdsim_grid &grid, double radius_nm, double thickness_nm, double height_ev,
                               span<double> out) {
    check(qdsim_open_dot_potential(&grid, radius_nm, thickness_nm, height_ev, out.data(), out.size()));
}

/// The open dot's potential on `grid` as a new vector (see above).
inline std::vector<double> open_dot_potential(const qdsim_grid &grid, double radius_nm, double thickness_nm,
                                              double height_ev) {
    std::vector<double> v(grid_points(grid));
    open_dot_potential(grid, radius_nm, thickness_nm, height_ev, span<double>(v.data(), v.size()));
    return v;
}

/// The Hamiltonian as a CSR matrix.
inline csr hamiltonian_csr(manager &m, const qdsim_hamiltonian_desc &d, qdsim_scalar scalar = QDSIM_SCALAR_AUTO,
                           const char *tag = nullptr) {
    qdsim_csr *c = nullptr;
    check(qdsim_hamiltonian_csr(m.get(), &d, scalar, tag, &c));
    return csr(c);
}

/// A CSR matrix read from a MatrixMarket file into `m`'s pools.
inline csr read_matrix_market(manager &m, const char *path, const char *tag = nullptr) {
    qdsim_csr *c = nullptr;
    check(qdsim_csr_read_matrix_market(m.get(), path, tag, &c));
    return csr(c);
}

/// A CSR matrix read from a PETSc binary file into `m`'s pools.
inline csr read_petsc(manager &m, const char *path, const char *tag = nullptr) {
    qdsim_csr *c = nullptr;
    check(qdsim_csr_read_petsc(m.get(), path, tag, &c));
    return csr(c);
}

/// The Hamiltonian applied matrix-free.
class hamiltonian_operator {
public:
    hamiltonian_operator(manager &m, const qdsim_hamiltonian_desc &d, qdsim_scalar scalar = QDSIM_SCALAR_AUTO,
                         const char *tag = nullptr) {
        qdsim_operator *o = nullptr;
        check(qdsim_hamiltonian_operator(m.get(), &d, scalar, tag, &o));
        h_ = handle_t(o);
        check(qdsim_operator_get_info(o, &info_));
    }
    const qdsim_operator_info &info() const noexcept { return info_; }
    /// y = αHx + βy (real operator).
    void apply(double alpha, span<const double> x, double beta, span<double> y) const {
        check_size(x.size(), y.size());
        check(qdsim_operator_apply(h_.get(), alpha, x.data(), beta, y.data()));
    }
    /// y = αHx + βy with complex vectors.
    void apply(std::complex<double> alpha, span<const std::complex<double>> x, std::complex<double> beta,
               span<std::complex<double>> y) const {
        check_size(x.size(), y.size());
        check(qdsim_operator_apply_complex(h_.get(), {alpha.real(), alpha.imag()},
                                           reinterpret_cast<const qdsim_complex *>(x.data()),
                                           {beta.real(), beta.imag()}, reinterpret_cast<qdsim_complex *>(y.data())));
    }

private:
    void check_size(std::size_t nx, std::size_t ny) const {
        if (nx != info_.dim || ny != info_.dim)
            throw error(QDSIM_ERR_INVALID_ARGUMENT, "x and y must have " + std::to_string(info_.dim) + " entries");
    }
    using handle_t = detail::handle<qdsim_operator, qdsim_operator_destroy>;
    handle_t h_;
    qdsim_operator_info info_{};
};

/// Eigenvalues, eigenvectors (in the manager's pool) and statistics of a solve.
class eigen_result {
public:
    explicit eigen_result(qdsim_eigen_result *r) : h_(r) { check(qdsim_eigen_result_info(r, &info_)); }
    const qdsim_eigen_info &info() const noexcept { return info_; }
    bool converged() const noexcept { return info_.converged == info_.count; }
    /// Real eigenvalues, eV, ascending (throws for complex ones).
    std::vector<double> values() const {
        std::vector<double> v(info_.count);
        check(qdsim_eigen_result_values(h_.get(), v.data()));
        return v;
    }
    std::vector<std::complex<double>> complex_values() const {
        std::vector<std::complex<double>> v(info_.count);
        check(qdsim_eigen_result_complex_values(h_.get(), reinterpret_cast<qdsim_complex *>(v.data())));
        return v;
    }
    std::vector<double> residuals() const {
        std::vector<double> v(info_.count);
        check(qdsim_eigen_result_residuals(h_.get(), v.data()));
        return v;
    }
    /// Eigenvector j as a view (T = double for real vectors, std::complex<double> otherwise).
    template <typename T>
    span<const T> vector(std::size_t j) const {
        const bool real = info_.vector_scalar == QDSIM_SCALAR_REAL;
        if (real != std::is_same<T, double>::value)
            throw error(QDSIM_ERR_INVALID_ARGUMENT, "eigenvector element type does not match");
        if (j >= info_.count) throw error(QDSIM_ERR_INVALID_ARGUMENT, "eigenvector index out of range");
        const void *data = nullptr;
        std::size_t ld = 0;
        check(qdsim_eigen_result_vectors(h_.get(), &data, &ld));
        return {static_cast<const T *>(data) + j * ld, info_.dim};
    }

private:
    detail::handle<qdsim_eigen_result, qdsim_eigen_result_destroy> h_;
    qdsim_eigen_info info_{};
};

/// Solver options; progress (optional) returns true to cancel.
struct eigen_options {
    qdsim_eigen_options c;
    std::function<bool(const qdsim_progress &)> progress;
    eigen_options() { check(qdsim_eigen_options_default(&c)); }
};

namespace detail {
struct progress_state {
    const std::function<bool(const qdsim_progress &)> *f;
    std::exception_ptr failure;
};
/// The C callback: calls the std::function; an exception cancels the solve and is rethrown
/// after it (exceptions must not cross the C boundary).
inline std::int32_t progress_trampoline(void *user, const qdsim_progress *p) {
    auto *state = static_cast<progress_state *>(user);
    try {
        return (*state->f)(*p) ? 1 : 0;
    } catch (...) {
        state->failure = std::current_exception();
        return 1;
    }
}

/// Runs a solve with the options' callback installed; NOT_CONVERGED still yields the partial
/// result (check eigen_result::converged()).
template <typename Solve>
eigen_result run_solve(const eigen_options &o, Solve solve) {
    qdsim_eigen_options c = o.c;
    progress_state state{&o.progress, nullptr};
    if (o.progress) {
        c.progress = progress_trampoline;
        c.progress_user = &state;
    }
    qdsim_eigen_result *r = nullptr;
    qdsim_status s = solve(&c, &r);
    if (state.failure) {
        if (r) qdsim_eigen_result_destroy(r);
        std::rethrow_exception(state.failure);
    }
    // NOT_CONVERGED without a result (nothing could be formed) throws, with the library's message.
    if (s != QDSIM_ERR_NOT_CONVERGED || r == nullptr) check(s);
    return eigen_result(r);
}
}  // namespace detail

/// The lowest states of a grid Hamiltonian (multigrid LOBPCG, coarse-to-fine).
inline eigen_result solve_lowest(manager &m, const qdsim_hamiltonian_desc &d, const eigen_options &o = {},
                                 qdsim_scalar scalar = QDSIM_SCALAR_AUTO) {
    return detail::run_solve(o, [&](const qdsim_eigen_options *c, qdsim_eigen_result **r) {
        return qdsim_solve_lowest(m.get(), &d, scalar, c, r);
    });
}

/// The lowest eigenpairs of a Hermitian CSR matrix.
inline eigen_result solve_lowest(const csr &h, const eigen_options &o = {}) {
    return detail::run_solve(o, [&](const qdsim_eigen_options *c, qdsim_eigen_result **r) {
        return qdsim_csr_solve_lowest(h.get(), c, r);
    });
}

/// Number of CUDA devices; throws qdsim::error (QDSIM_ERR_NO_DEVICE, with the reason) when there
/// is no driver or device, or the library was built without the gpu feature.
inline int gpu_device_count() {
    std::int32_t n = 0;
    check(qdsim_gpu_device_count(&n));
    return n;
}

/// Device memory of one GPU (statistics, limit, tags, leak report); `limit_bytes` 0: no limit.
/// Throws QDSIM_ERR_NO_DEVICE where there is no usable device.
class gpu_pool {
public:
    explicit gpu_pool(int device = 0, std::uint64_t limit_bytes = 0) {
        qdsim_gpu_pool *p = nullptr;
        check(qdsim_gpu_pool_create(device, limit_bytes, &p));
        h_ = handle_t(p);
    }
    qdsim_gpu_pool *get() const noexcept { return h_.get(); }
    /// Device memory statistics.
    qdsim_stats stats() const {
        qdsim_stats s;
        check(qdsim_gpu_pool_stats(h_.get(), &s));
        return s;
    }

private:
    using handle_t = detail::handle<qdsim_gpu_pool, qdsim_gpu_pool_destroy>;
    handle_t h_;
};

/// The lowest states of a grid Hamiltonian computed on the GPU of `pool` (multigrid LOBPCG on
/// the device); the eigenvectors come back into `m`'s pool as for solve_lowest.
inline eigen_result gpu_solve_lowest(gpu_pool &pool, manager &m, const qdsim_hamiltonian_desc &d,
                                     const eigen_options &o = {}, qdsim_scalar scalar = QDSIM_SCALAR_AUTO) {
    return detail::run_solve(o, [&](const qdsim_eigen_options *c, qdsim_eigen_result **r) {
        return qdsim_gpu_solve_lowest(pool.get(), m.get(), &d, scalar, c, r);
    });
}

/// Resonances E − iΓ/2 of a complex-symmetric CSR matrix nearest `target` (eV) by sparse-LU
/// shift-invert. NOT_CONVERGED still yields the partial result (check eigen_result::converged():
/// the converged pairs come first).
inline eigen_result solve_resonances(const csr &h, std::complex<double> target, std::size_t k, double tol = 1e-10,
                                     std::uint64_t seed = 1) {
    qdsim_eigen_result *r = nullptr;
    qdsim_status s = qdsim_csr_solve_resonances(h.get(), {target.real(), target.imag()}, k, tol, seed, &r);
    if (s != QDSIM_ERR_NOT_CONVERGED || r == nullptr) check(s);
    return eigen_result(r);
}

/// Resonances E − iΓ/2 nearest `target` (eV) of a grid Hamiltonian whose description sets
/// `absorber`: matrix-free and coarse-to-fine (`o.c.k` of them, `o.c.tolerance`, the progress
/// callback). NOT_CONVERGED still yields the partial result, converged pairs first.
inline eigen_result solve_resonances(manager &m, const qdsim_hamiltonian_desc &d, std::complex<double> target,
                                     const eigen_options &o = {}) {
    return detail::run_solve(o, [&](const qdsim_eigen_options *c, qdsim_eigen_result **r) {
        return qdsim_solve_resonances(m.get(), &d, {target.real(), target.imag()}, c, r);
    });
}

}  // namespace qdsim

#endif  // QDSIM_MEM_HPP
