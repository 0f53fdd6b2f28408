//! Probing the CUDA libraries beyond the driver — cuBLAS (block products of the eigensolver),
//! cuSPARSE (CSR SpMV) and NVRTC (the stencil kernels, compiled at run time) — before cudarc
//! touches them.
//!
//! cudarc loads each library on its first call and panics when it is missing. [`require`] asks
//! cudarc whether one of its candidate file names loads (`is_culib_present`, which only tries
//! `dlopen` and never panics), once per process and library, and turns a missing library into
//! [`ErrorKind::NoDevice`] that names the library, what it is for, and the file names tried.
//! The driver is probed first ([`device_count`]), so a machine without a GPU reports that.

use super::detect::device_count;
use crate::error::{Error, ErrorKind, Result};
use std::panic::catch_unwind;
use std::sync::OnceLock;

/// A CUDA library the GPU layer loads at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Library {
    /// cuBLAS: Gram matrices and combinations of the eigensolver's blocks.
    Cublas,
    /// cuSPARSE: CSR matrix–vector products.
    Cusparse,
    /// NVRTC: compiles the stencil and vector kernels at run time.
    Nvrtc,
}

impl Library {
    /// The stem cudarc builds file names from (`lib<stem>.so`, `lib<stem>.so.13`, …).
    fn stem(self) -> &'static str {
        match self {
            Library::Cublas => "cublas",
            Library::Cusparse => "cusparse",
            Library::Nvrtc => "nvrtc",
        }
    }

    /// What the library is needed for, for messages.
    fn purpose(self) -> &'static str {
        match self {
            Library::Cublas => "cuBLAS, for the block products of the GPU eigensolver",
            Library::Cusparse => "cuSPARSE, for CSR matrix-vector products on the GPU",
            Library::Nvrtc => "NVRTC, to compile the GPU stencil kernels at run time",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// Every symbol of the library that the GPU layer calls (cudarc resolves each on first use
    /// and panics when one is missing, e.g. in an older release).
    fn symbols(self) -> &'static [&'static str] {
        match self {
            Library::Cublas => &[
                "cublasCreate_v2",
                "cublasDestroy_v2",
                "cublasSetStream_v2",
                "cublasDgemm_v2",
                "cublasZgemm_v2",
                "cublasDaxpy_v2",
                "cublasZaxpy_v2",
            ],
            Library::Cusparse => &[
                "cusparseCreate",
                "cusparseDestroy",
                "cusparseSetStream",
                "cusparseCreateCsr",
                "cusparseCreateDnVec",
                "cusparseDestroySpMat",
                "cusparseDestroyDnVec",
                "cusparseSpMV_bufferSize",
                "cusparseSpMV",
            ],
            Library::Nvrtc => &[
                "nvrtcCreateProgram",
                "nvrtcCompileProgram",
                "nvrtcGetPTXSize",
                "nvrtcGetPTX",
                "nvrtcGetProgramLogSize",
                "nvrtcGetProgramLog",
                "nvrtcDestroyProgram",
            ],
        }
    }
}

static PROBES: [OnceLock<std::result::Result<(), String>>; 3] =
    [OnceLock::new(), OnceLock::new(), OnceLock::new()];

fn present(library: Library) -> bool {
    // SAFETY: each only tries to dlopen the library's candidate names (no symbol is called).
    let probe = || unsafe {
        match library {
            Library::Cublas => cudarc::cublas::sys::is_culib_present(),
            Library::Cusparse => cudarc::cusparse::sys::is_culib_present(),
            Library::Nvrtc => cudarc::nvrtc::sys::is_culib_present(),
        }
    };
    catch_unwind(probe).unwrap_or(false)
}

/// The symbols of [`Library::symbols`] the loaded library lacks.
fn missing_symbols(library: Library) -> std::result::Result<Vec<&'static str>, String> {
    let lookup = || {
        library
            .symbols()
            .iter()
            .copied()
            .filter(|name| {
                // SAFETY: the library loads (checked first); looking a symbol up calls nothing.
                let found = unsafe {
                    match library {
                        Library::Cublas => cudarc::cublas::sys::culib()
                            .get::<unsafe extern "C" fn()>(name.as_bytes())
                            .is_ok(),
                        Library::Cusparse => cudarc::cusparse::sys::culib()
                            .get::<unsafe extern "C" fn()>(name.as_bytes())
                            .is_ok(),
                        Library::Nvrtc => cudarc::nvrtc::sys::culib()
                            .get::<unsafe extern "C" fn()>(name.as_bytes())
                            .is_ok(),
                    }
                };
                !found
            })
            .collect()
    };
    catch_unwind(lookup).map_err(|_| format!("loading lib{} panicked", library.stem()))
}

fn probe(library: Library) -> std::result::Result<(), String> {
    if present(library) {
        let missing = missing_symbols(library)?;
        if missing.is_empty() {
            return Ok(());
        }
        return Err(format!(
            "lib{} ({}) loaded but lacks {} (too old a CUDA release?)",
            library.stem(),
            library.purpose(),
            missing.join(", ")
        ));
    }
    let tried = catch_unwind(|| cudarc::get_lib_name_candidates(library.stem()))
        .map(|names| names.join(", "))
        .unwrap_or_else(|_| format!("lib{}.so*", library.stem()));
    Err(format!(
        "lib{} ({}) could not be loaded (missing, or one of its own dependencies is); tried {tried}",
        library.stem(),
        library.purpose()
    ))
}

/// Succeeds when a CUDA device exists and every library of `libraries` can be loaded;
/// otherwise [`ErrorKind::NoDevice`] saying what is missing. Probed once per process.
pub fn require(libraries: &[Library]) -> Result<()> {
    device_count()?;
    for &library in libraries {
        if let Err(reason) = PROBES[library.index()].get_or_init(|| probe(library)) {
            return Err(Error::new(
                ErrorKind::NoDevice,
                format!("no usable CUDA device: {reason}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_library_is_no_device_with_its_purpose() {
        // Without a driver the driver is what is reported; with one, every library either loads
        // or is reported with its name and purpose. Never a panic.
        for library in [Library::Cublas, Library::Cusparse, Library::Nvrtc] {
            match require(&[library]) {
                Ok(()) => {}
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::NoDevice, "{}", e.message());
                    assert!(e.message().contains("no usable CUDA device"));
                    if device_count().is_ok() {
                        assert!(e.message().contains(library.stem()), "{}", e.message());
                        assert!(e.message().contains(library.purpose()), "{}", e.message());
                    }
                }
            }
        }
    }
}
