//! Finding the CUDA driver and its devices without ever letting a missing library panic.
//!
//! cudarc's dynamic loader panics when `libcuda` cannot be loaded, and that would reach the
//! caller (or abort a C program). So the first look is ours: `dlopen` of the driver library
//! under its usual names, then `cuInit` and `cuDeviceGetCount` called through `dlsym`. Only when
//! that found at least one device is cudarc used, and its first call still runs inside
//! `catch_unwind`. The outcome is probed once per process and cached.

use super::driver_error;
use crate::error::{Error, ErrorKind, Result};
use cudarc::driver::{CudaContext, result as cu};
use std::ffi::{CStr, c_char, c_int, c_uint};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};

/// The driver library names tried, in order (the second is the development symlink).
pub const DRIVER_LIBRARIES: [&str; 2] = ["libcuda.so.1", "libcuda.so"];

static PROBE: OnceLock<std::result::Result<usize, String>> = OnceLock::new();

fn dlerror_text() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string valid until the next dl* call.
    let text = unsafe { libc::dlerror() };
    if text.is_null() {
        "unknown dlopen error".to_string()
    } else {
        // SAFETY: non-null, NUL-terminated (above).
        unsafe { CStr::from_ptr(text) }
            .to_string_lossy()
            .into_owned()
    }
}

/// The probe itself: the number of devices, or why there is none.
fn probe() -> std::result::Result<usize, String> {
    let mut tried = Vec::new();
    let mut handle = std::ptr::null_mut();
    for name in DRIVER_LIBRARIES {
        let cname = std::ffi::CString::new(name).expect("no NUL in library names");
        // SAFETY: a valid NUL-terminated name; loading the driver runs its initialisers only.
        handle = unsafe { libc::dlopen(cname.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if !handle.is_null() {
            break;
        }
        tried.push(format!("{name} ({})", dlerror_text()));
    }
    if handle.is_null() {
        return Err(format!(
            "the CUDA driver library was not found: dlopen failed for {}",
            tried.join(", ")
        ));
    }
    // The handle stays open for the life of the process (cudarc loads the same library).
    let symbol = |name: &CStr| {
        // SAFETY: handle is a live dlopen handle, name is NUL-terminated.
        let ptr = unsafe { libc::dlsym(handle, name.as_ptr()) };
        if ptr.is_null() {
            Err(format!(
                "the CUDA driver library has no symbol {}: {}",
                name.to_string_lossy(),
                dlerror_text()
            ))
        } else {
            Ok(ptr)
        }
    };
    type CuInit = unsafe extern "C" fn(c_uint) -> c_int;
    type CuDeviceGetCount = unsafe extern "C" fn(*mut c_int) -> c_int;
    type CuGetErrorName = unsafe extern "C" fn(c_int, *mut *const c_char) -> c_int;
    // SAFETY: the driver API's documented signatures for these three symbols.
    let (cu_init, cu_count, cu_error_name) = unsafe {
        (
            std::mem::transmute::<*mut libc::c_void, CuInit>(symbol(c"cuInit")?),
            std::mem::transmute::<*mut libc::c_void, CuDeviceGetCount>(symbol(
                c"cuDeviceGetCount",
            )?),
            std::mem::transmute::<*mut libc::c_void, CuGetErrorName>(symbol(c"cuGetErrorName")?),
        )
    };
    let describe = |code: c_int| {
        let mut name: *const c_char = std::ptr::null();
        // SAFETY: cuGetErrorName writes a static string pointer (or fails for unknown codes).
        if unsafe { cu_error_name(code, &mut name) } == 0 && !name.is_null() {
            // SAFETY: a static NUL-terminated string owned by the driver.
            let name = unsafe { CStr::from_ptr(name) };
            format!("{} ({code})", name.to_string_lossy())
        } else {
            format!("CUresult {code}")
        }
    };
    // SAFETY: cuInit(0) may be called any number of times.
    let status = unsafe { cu_init(0) };
    if status != 0 {
        return Err(format!(
            "the CUDA driver library loaded, but cuInit failed with {}",
            describe(status)
        ));
    }
    let mut count: c_int = 0;
    // SAFETY: count is a valid out-pointer; the driver is initialised.
    let status = unsafe { cu_count(&mut count) };
    if status != 0 {
        return Err(format!("cuDeviceGetCount failed with {}", describe(status)));
    }
    if count <= 0 {
        return Err("the CUDA driver is installed but reports 0 devices".to_string());
    }
    // Now cudarc: its loader must find a library too, and its first call may still panic.
    // SAFETY: only tries to load the library.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err(
            "the CUDA driver loaded by dlopen, but cudarc could not load it under its names"
                .to_string(),
        );
    }
    match catch_unwind(cu::device::get_count) {
        Ok(Ok(n)) if n == count => Ok(count as usize),
        Ok(Ok(n)) => Err(format!(
            "cuDeviceGetCount gave {count} through dlopen but {n} through cudarc"
        )),
        Ok(Err(e)) => Err(format!("cuDeviceGetCount (cudarc) failed: {e:?}")),
        Err(_) => Err("cudarc panicked while loading the CUDA driver".to_string()),
    }
}

fn no_device(reason: &str) -> Error {
    Error::new(
        ErrorKind::NoDevice,
        format!("no usable CUDA device: {reason}"),
    )
}

/// The number of CUDA devices. Without a driver library or without a device this is
/// [`ErrorKind::NoDevice`] with what was looked for and what failed, never a panic. Probed once
/// per process.
pub fn device_count() -> Result<usize> {
    match PROBE.get_or_init(probe) {
        Ok(count) => Ok(*count),
        Err(reason) => Err(no_device(reason)),
    }
}

/// An opened CUDA device: its primary context, bound to each thread that uses it.
#[derive(Clone)]
pub struct Device {
    ordinal: usize,
    name: String,
    total_memory: u64,
    compute_capability: (i32, i32),
    pub(crate) context: Arc<CudaContext>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("ordinal", &self.ordinal)
            .field("name", &self.name)
            .field("total_memory", &self.total_memory)
            .field("compute_capability", &self.compute_capability)
            .finish()
    }
}

impl Device {
    /// Opens device `ordinal` (0-based): [`ErrorKind::NoDevice`] when there is no driver, no
    /// device, or no device with that ordinal.
    pub fn open(ordinal: usize) -> Result<Device> {
        let count = device_count()?;
        if ordinal >= count {
            return Err(no_device(&format!(
                "device {ordinal} was asked for, but there are {count} device(s) (0..{count})"
            )));
        }
        let opened = catch_unwind(AssertUnwindSafe(|| -> Result<Device> {
            let context = CudaContext::new(ordinal)
                .map_err(|e| driver_error(&format!("opening CUDA device {ordinal}"), e))?;
            let name = context
                .name()
                .map_err(|e| driver_error("cuDeviceGetName", e))?;
            let total_memory = context
                .total_mem()
                .map_err(|e| driver_error("cuDeviceTotalMem", e))?
                as u64;
            let compute_capability = context
                .compute_capability()
                .map_err(|e| driver_error("cuDeviceGetAttribute", e))?;
            Ok(Device {
                ordinal,
                name,
                total_memory,
                compute_capability,
                context,
            })
        }));
        opened.unwrap_or_else(|_| {
            Err(Error::new(
                ErrorKind::Internal,
                format!("cudarc panicked while opening CUDA device {ordinal}"),
            ))
        })
    }

    /// The device's ordinal.
    pub fn ordinal(&self) -> usize {
        self.ordinal
    }

    /// The device's name, e.g. "NVIDIA H100 80GB HBM3".
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Total device memory in bytes.
    pub fn total_memory(&self) -> u64 {
        self.total_memory
    }

    /// Compute capability (major, minor).
    pub fn compute_capability(&self) -> (i32, i32) {
        self.compute_capability
    }

    /// Free and total device memory in bytes, now.
    pub fn memory_info(&self) -> Result<(u64, u64)> {
        self.bind()?;
        let (free, total) = cu::mem_get_info().map_err(|e| driver_error("cuMemGetInfo", e))?;
        Ok((free as u64, total as u64))
    }

    /// Makes the device's context current on the calling thread.
    pub(crate) fn bind(&self) -> Result<()> {
        self.context
            .bind_to_thread()
            .map_err(|e| driver_error("binding the CUDA context to this thread", e))
    }
}
