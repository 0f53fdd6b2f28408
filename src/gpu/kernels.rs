//! The CUDA C kernels of the GPU layer (one source string, compiled at run time by NVRTC and
//! loaded once per device for the life of the process), and their launches.
//!
//! | kernel | what it computes |
//! |---|---|
//! | `stencil_{f64,c64}` | `Y = H·X` for a block of columns: the finite-difference Hamiltonian of `physics::StencilOperator` (diagonal, uniform or per-link hoppings, Dirichlet or periodic axes, Peierls phases) |
//! | `scale_rows_{f64,c64}` | `W[i, j] *= s[i]` for a block of columns (Jacobi preconditioning) |
//! | `mg_update_{f64,c64}` | multigrid: `x = step·b`, `x += step·b` (damped Jacobi) or `x += b` |
//! | `mg_residual_{f64,c64}` | multigrid: `r = b − H·x − s·x` (r holds `H·x` on entry) |
//! | `map_axis_{f64,c64}` | multigrid: a 1D interpolation or restriction map along one axis |
//!
//! The matrix elements are exactly those of the CPU operator: the diagonal array is copied from
//! it, and the link along axis a from point p is `−t_a(p)·phase`, its reverse the conjugate, as
//! in `physics/stencil.rs`. One thread per grid point (grid-stride loop), one `blockIdx.y` per
//! column; every read of `x` along x is coalesced and the y/z neighbours are whole lines away,
//! served by L2.

use super::driver_error;
use super::libraries::{Library, require};
use super::pool::DevicePool;
use crate::error::{Error, ErrorKind, Result};
use crate::matrix::{Scalar, ScalarKind};
use cudarc::driver::{CudaFunction, CudaModule, DeviceRepr, LaunchConfig, PushKernelArg};
use cudarc::nvrtc::{CompileError, CompileOptions, compile_ptx_with_opts};
use parking_lot::Mutex;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

/// The kernels' source. `c64` has the layout of `Complex64` and `cuDoubleComplex`.
pub const SOURCE: &str = r#"
struct __align__(16) c64 { double re, im; };
__device__ __forceinline__ c64 make_c64(double re, double im) { c64 r; r.re = re; r.im = im; return r; }
__device__ __forceinline__ c64 operator+(c64 a, c64 b) { return make_c64(a.re + b.re, a.im + b.im); }
__device__ __forceinline__ c64 operator*(c64 a, c64 b) {
    return make_c64(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re);
}
__device__ __forceinline__ c64 conj_value(c64 a) { return make_c64(a.re, -a.im); }
__device__ __forceinline__ double conj_value(double a) { return a; }
__device__ __forceinline__ c64 scale(c64 a, double s) { return make_c64(a.re * s, a.im * s); }
__device__ __forceinline__ double scale(double a, double s) { return a * s; }
template <typename T> __device__ __forceinline__ T one_value();
template <> __device__ __forceinline__ double one_value<double>() { return 1.0; }
template <> __device__ __forceinline__ c64 one_value<c64>() { return make_c64(1.0, 0.0); }

/* Mirrors gpu::kernels::StencilParams (repr(C)): addresses as 64-bit integers, 0 for absent. */
struct StencilParams {
    unsigned long long diag;      /* T[n] */
    unsigned long long hops[3];   /* double[n] per axis: t of the link to the + neighbour; 0: uniform t[a] */
    unsigned long long phase_x;   /* T[ny]: phase of the x-links of row j; 0: none */
    unsigned long long phase_y;   /* T[nx]: phase of the y-links of column i; 0: none */
    double t[3];
    long long n, nx, ny, nz;
    int dims;
    int periodic;                 /* bit a: axis a is periodic */
};

__device__ __forceinline__ double hop(const StencilParams &s, int a, long long q) {
    const double *h = (const double *)s.hops[a];
    return h ? h[q] : s.t[a];
}

template <typename T>
__device__ __forceinline__ void stencil_apply(const StencilParams &s, const T *__restrict__ x,
                                              long long ldx, T *__restrict__ y, long long ldy) {
    const long long col = blockIdx.y;
    x += col * ldx;
    y += col * ldy;
    const T *diag = (const T *)s.diag;
    const T *px = (const T *)s.phase_x;
    const T *py = (const T *)s.phase_y;
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long p = (long long)blockIdx.x * blockDim.x + threadIdx.x; p < s.n; p += step) {
        const long long i = p % s.nx;
        const long long line = p / s.nx;
        const long long j = line % s.ny;
        const long long k = line / s.ny;
        T acc = x[p] * diag[p];
        /* x: H[p, p+1] = -t(p)·px[j], H[p, p-1] = conj(H[p-1, p]). */
        {
            const bool wrap = (s.periodic & 1) != 0;
            const T ph = px ? px[j] : one_value<T>();
            if (i + 1 < s.nx || wrap) {
                const long long q = (i + 1 < s.nx) ? p + 1 : p - (s.nx - 1);
                acc = acc + x[q] * scale(ph, -hop(s, 0, p));
            }
            if (i > 0 || wrap) {
                const long long q = (i > 0) ? p - 1 : p + (s.nx - 1);
                acc = acc + x[q] * scale(conj_value(ph), -hop(s, 0, q));
            }
        }
        /* y: H[p, p+nx] = -t(p)·py[i]; the − neighbour first, as on the CPU. */
        if (s.dims > 1) {
            const bool wrap = (s.periodic & 2) != 0;
            const T ph = py ? py[i] : one_value<T>();
            const long long stride = s.nx;
            if (j > 0 || wrap) {
                const long long q = (j > 0) ? p - stride : p + (s.ny - 1) * stride;
                acc = acc + x[q] * scale(conj_value(ph), -hop(s, 1, q));
            }
            if (j + 1 < s.ny || wrap) {
                const long long q = (j + 1 < s.ny) ? p + stride : p - (s.ny - 1) * stride;
                acc = acc + x[q] * scale(ph, -hop(s, 1, p));
            }
        }
        /* z: real links. */
        if (s.dims > 2) {
            const bool wrap = (s.periodic & 4) != 0;
            const long long stride = s.nx * s.ny;
            if (k > 0 || wrap) {
                const long long q = (k > 0) ? p - stride : p + (s.nz - 1) * stride;
                acc = acc + x[q] * scale(one_value<T>(), -hop(s, 2, q));
            }
            if (k + 1 < s.nz || wrap) {
                const long long q = (k + 1 < s.nz) ? p + stride : p - (s.nz - 1) * stride;
                acc = acc + x[q] * scale(one_value<T>(), -hop(s, 2, p));
            }
        }
        y[p] = acc;
    }
}

extern "C" __global__ void stencil_f64(const StencilParams s, const double *x, long long ldx,
                                       double *y, long long ldy) {
    stencil_apply<double>(s, x, ldx, y, ldy);
}
extern "C" __global__ void stencil_c64(const StencilParams s, const c64 *x, long long ldx,
                                       c64 *y, long long ldy) {
    stencil_apply<c64>(s, x, ldx, y, ldy);
}

template <typename T>
__device__ __forceinline__ void scale_rows(T *w, long long ldw, long long n, const double *s) {
    w += (long long)blockIdx.y * ldw;
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
        w[i] = scale(w[i], s[i]);
    }
}

extern "C" __global__ void scale_rows_f64(double *w, long long ldw, long long n, const double *s) {
    scale_rows<double>(w, ldw, n, s);
}
extern "C" __global__ void scale_rows_c64(c64 *w, long long ldw, long long n, const double *s) {
    scale_rows<c64>(w, ldw, n, s);
}

/* Multigrid (gpu/multigrid.rs), one column per blockIdx.y. mode 0: x = step·b (pre-smoothing
 * from x = 0); mode 1: x += step·b (post-smoothing); mode 2: x += b (coarse correction). */
template <typename T>
__device__ __forceinline__ void mg_update(T *x, long long ldx, const T *b, long long ldb,
                                          const double *step, int mode, long long n) {
    x += (long long)blockIdx.y * ldx;
    b += (long long)blockIdx.y * ldb;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        if (mode == 0) {
            x[i] = scale(b[i], step[i]);
        } else if (mode == 1) {
            x[i] = x[i] + scale(b[i], step[i]);
        } else {
            x[i] = x[i] + b[i];
        }
    }
}
extern "C" __global__ void mg_update_f64(double *x, long long ldx, const double *b, long long ldb,
                                         const double *step, int mode, long long n) {
    mg_update<double>(x, ldx, b, ldb, step, mode, n);
}
extern "C" __global__ void mg_update_c64(c64 *x, long long ldx, const c64 *b, long long ldb,
                                         const double *step, int mode, long long n) {
    mg_update<c64>(x, ldx, b, ldb, step, mode, n);
}

/* r = b − r − s·x, where r holds H·x on entry: the residual of (H + s)·x = b. */
template <typename T>
__device__ __forceinline__ void mg_residual(T *r, long long ldr, const T *b, long long ldb,
                                            const T *x, long long ldx, double s, long long n) {
    r += (long long)blockIdx.y * ldr;
    b += (long long)blockIdx.y * ldb;
    x += (long long)blockIdx.y * ldx;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        r[i] = b[i] + scale(r[i], -1.0) + scale(x[i], -s);
    }
}
extern "C" __global__ void mg_residual_f64(double *r, long long ldr, const double *b, long long ldb,
                                           const double *x, long long ldx, double s, long long n) {
    mg_residual<double>(r, ldr, b, ldb, x, ldx, s, n);
}
extern "C" __global__ void mg_residual_c64(c64 *r, long long ldr, const c64 *b, long long ldb,
                                           const c64 *x, long long ldx, double s, long long n) {
    mg_residual<c64>(r, ldr, b, ldb, x, ldx, s, n);
}

/* A 1D linear map along `axis` of an array of shape (nx, ny, nz), x fastest: output index o
 * along the axis is Σ_t weight[t]·in[index[t]] over t in offsets[o]..offsets[o+1] (the
 * solver's Map1d, summed in the same order); n_out points along the axis in the output. */
template <typename T>
__device__ __forceinline__ void map_axis(T *out, long long ldo, const T *in, long long ldi,
                                         const long long *offsets, const long long *index,
                                         const double *weight, long long nx, long long ny,
                                         long long nz, int axis, long long n_out) {
    out += (long long)blockIdx.y * ldo;
    in += (long long)blockIdx.y * ldi;
    const long long ox = axis == 0 ? n_out : nx;
    const long long oy = axis == 1 ? n_out : ny;
    const long long oz = axis == 2 ? n_out : nz;
    const long long total = ox * oy * oz;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long p = (long long)blockIdx.x * blockDim.x + threadIdx.x; p < total; p += stride) {
        const long long i = p % ox;
        const long long j = (p / ox) % oy;
        const long long k = p / (ox * oy);
        const long long o = axis == 0 ? i : (axis == 1 ? j : k);
        T acc = scale(one_value<T>(), 0.0);
        for (long long t = offsets[o]; t < offsets[o + 1]; ++t) {
            const long long c = index[t];
            const long long q = (axis == 0 ? c : i) + nx * ((axis == 1 ? c : j) + ny * (axis == 2 ? c : k));
            acc = acc + scale(in[q], weight[t]);
        }
        out[p] = acc;
    }
}
extern "C" __global__ void map_axis_f64(double *out, long long ldo, const double *in, long long ldi,
                                        const long long *offsets, const long long *index,
                                        const double *weight, long long nx, long long ny,
                                        long long nz, int axis, long long n_out) {
    map_axis<double>(out, ldo, in, ldi, offsets, index, weight, nx, ny, nz, axis, n_out);
}
extern "C" __global__ void map_axis_c64(c64 *out, long long ldo, const c64 *in, long long ldi,
                                        const long long *offsets, const long long *index,
                                        const double *weight, long long nx, long long ny,
                                        long long nz, int axis, long long n_out) {
    map_axis<c64>(out, ldo, in, ldi, offsets, index, weight, nx, ny, nz, axis, n_out);
}
"#;

/// The stencil kernel's parameters; the layout of `StencilParams` in [`SOURCE`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct StencilParams {
    pub diag: u64,
    pub hops: [u64; 3],
    pub phase_x: u64,
    pub phase_y: u64,
    pub t: [f64; 3],
    pub n: i64,
    pub nx: i64,
    pub ny: i64,
    pub nz: i64,
    pub dims: i32,
    pub periodic: i32,
}

// SAFETY: plain numbers in a repr(C) struct whose layout matches the CUDA declaration (all
// fields 8 bytes but the two trailing ints, no padding before them).
unsafe impl DeviceRepr for StencilParams {}

/// Threads per block of every kernel.
const THREADS: u32 = 256;
/// Blocks along x at most (the loops are grid-stride).
const MAX_BLOCKS: u64 = 1 << 20;

/// The loaded module of every device used so far, by ordinal (kept for the process's life:
/// compiling takes a fraction of a second, loading a few milliseconds).
static MODULES: Mutex<Vec<(usize, Arc<CudaModule>)>> = Mutex::new(Vec::new());

fn compile_error(e: CompileError) -> Error {
    let text = match e {
        CompileError::CompileError {
            nvrtc,
            options,
            log,
        } => format!(
            "{nvrtc:?} with options {options:?}:\n{}",
            log.to_string_lossy()
        ),
        other => format!("{other:?}"),
    };
    Error::new(
        ErrorKind::Internal,
        format!("compiling the GPU kernels with NVRTC failed: {text}"),
    )
}

/// The module of `pool`'s device, compiled and loaded on first use.
fn module(pool: &DevicePool) -> Result<Arc<CudaModule>> {
    let ordinal = pool.device().ordinal();
    let mut modules = MODULES.lock();
    if let Some((_, m)) = modules.iter().find(|(o, _)| *o == ordinal) {
        return Ok(m.clone());
    }
    require(&[Library::Nvrtc])?;
    pool.device().bind()?;
    let loaded = catch_unwind(AssertUnwindSafe(|| -> Result<Arc<CudaModule>> {
        let ptx = compile_ptx_with_opts(
            SOURCE,
            CompileOptions {
                name: Some("qdsim_kernels.cu".into()),
                ..Default::default()
            },
        )
        .map_err(compile_error)?;
        pool.device()
            .context
            .load_module(ptx)
            .map_err(|e| driver_error("cuModuleLoadData of the NVRTC-compiled kernels", e))
    }))
    .unwrap_or_else(|_| {
        Err(Error::new(
            ErrorKind::Internal,
            "cudarc panicked while compiling or loading the GPU kernels",
        ))
    })?;
    modules.push((ordinal, loaded.clone()));
    Ok(loaded)
}

/// A kernel of [`SOURCE`] for scalar type `T` (`<stem>_f64` or `<stem>_c64`).
pub(crate) fn function<T: Scalar>(pool: &DevicePool, stem: &str) -> Result<CudaFunction> {
    let name = match T::KIND {
        ScalarKind::Real => format!("{stem}_f64"),
        ScalarKind::Complex => format!("{stem}_c64"),
    };
    module(pool)?
        .load_function(&name)
        .map_err(|e| driver_error(&format!("cuModuleGetFunction({name})"), e))
}

/// The launch shape for `n` rows and `columns` columns.
pub(crate) fn launch_config(n: usize, columns: usize) -> Result<LaunchConfig> {
    let columns = u32::try_from(columns)
        .ok()
        .filter(|&c| (1..=65535).contains(&c))
        .ok_or_else(|| {
            Error::invalid_argument(format!(
                "{columns} columns per kernel launch (1..=65535 supported)"
            ))
        })?;
    let blocks = (n as u64).div_ceil(THREADS as u64).clamp(1, MAX_BLOCKS) as u32;
    Ok(LaunchConfig {
        grid_dim: (blocks, columns, 1),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: 0,
    })
}

/// `W[i, j] *= s[i]` for `columns` columns of `n` rows, leading dimension `ld`, at `w`, with
/// `function` the `scale_rows` kernel of W's scalar type.
///
/// # Safety
/// `w` holds `columns` columns of that scalar type `ld` apart (n ≤ ld) and `s` holds `n` doubles, both
/// live until the pool's stream has run the kernel.
pub(crate) unsafe fn scale_rows(
    pool: &DevicePool,
    function: &CudaFunction,
    (w, ld, n, columns): (u64, usize, usize, usize),
    s: u64,
) -> Result<()> {
    if n == 0 || columns == 0 {
        return Ok(());
    }
    let config = launch_config(n, columns)?;
    let (ld, n) = (ld as i64, n as i64);
    let mut launch = pool.stream().launch_builder(function);
    launch.arg(&w).arg(&ld).arg(&n).arg(&s);
    // SAFETY: the argument list matches scale_rows_{f64,c64}; the memory per the contract.
    unsafe { launch.launch(config) }
        .map(|_| ())
        .map_err(|e| driver_error("launching scale_rows", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_source_compiles_with_nvrtc_where_it_is_installed() {
        // NVRTC needs no GPU: wherever libnvrtc loads (e.g. from the nvidia-cuda-nvrtc wheel on
        // LD_LIBRARY_PATH) the source must compile and export every kernel the layer launches.
        // SAFETY: only tries to dlopen the library.
        if !catch_unwind(|| unsafe { cudarc::nvrtc::sys::is_culib_present() }).unwrap_or(false) {
            eprintln!("skipped: libnvrtc is not installed here");
            return;
        }
        let ptx = compile_ptx_with_opts(SOURCE, CompileOptions::default())
            .map_err(compile_error)
            .unwrap_or_else(|e| panic!("{}", e.message()));
        let text = ptx.to_src();
        for name in [
            "stencil_f64",
            "stencil_c64",
            "scale_rows_f64",
            "scale_rows_c64",
        ] {
            assert!(
                text.contains(&format!(".entry {name}(")),
                "{name} missing from the PTX"
            );
        }
        // The parameter struct is passed by value: its size in the PTX must match Rust's.
        assert!(
            text.contains(&format!(
                ".param .align 8 .b8 stencil_f64_param_0[{}]",
                size_of::<StencilParams>()
            )),
            "StencilParams is {} bytes in Rust; PTX:\n{}",
            size_of::<StencilParams>(),
            &text[..text.len().min(4000)]
        );
    }
}
