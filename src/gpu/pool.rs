//! [`DevicePool`]: device memory for one device, allocated stream-ordered from a CUDA memory pool
//! that keeps what is freed, plus page-locked (pinned) host buffers, all counted.
//!
//! **How memory is pooled.** Each `DevicePool` creates a CUDA memory pool of its own
//! (`cuMemPoolCreate`, device-local, no export handles) and sets its release threshold
//! (`CU_MEMPOOL_ATTR_RELEASE_THRESHOLD`) to `u64::MAX`, so memory freed with `cuMemFreeAsync`
//! stays reserved in the pool and the next `cuMemAllocFromPoolAsync` reuses it without a trip
//! to the driver's virtual-memory calls. A pool of its own (rather than the device's default
//! pool) changes no process-wide setting, gives the footprint of this pool alone
//! (`CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT`), and returns everything to the device when the
//! `DevicePool` is dropped. Should `cuMemPoolCreate` be refused, the device's default pool is
//! used with the same threshold, and the footprint then covers every user of that pool.
//! No managed (unified) memory is used.
//!
//! **Ordering.** All work of a pool runs on one non-blocking stream of its own. [`alloc`] and
//! [`free`] are stream-ordered: the address is valid for work on [`DevicePool::stream`] at
//! once, and for work on any stream after [`DevicePool::synchronize`] (the C API synchronizes
//! before returning an address). [`copy_to_host`] and [`copy_to_device`] are complete when they
//! return.
//!
//! [`alloc`]: DevicePool::alloc
//! [`free`]: DevicePool::free
//! [`copy_to_host`]: DevicePool::copy_to_host
//! [`copy_to_device`]: DevicePool::copy_to_device

use super::detect::Device;
use super::driver_error;
use super::ledger::{Ledger, MemoryKind};
use crate::error::{Error, Result};
use crate::memory::{Stats, TagStats};
use cudarc::driver::sys::{self, CUmemPool_attribute};
use cudarc::driver::{CudaStream, result as cu};
use std::ffi::c_void;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A CUDA memory pool handle (driver handles may be used from any thread).
struct RawMemPool(sys::CUmemoryPool);
// SAFETY: a CUmemoryPool is an opaque driver handle; the driver API is thread-safe.
unsafe impl Send for RawMemPool {}
// SAFETY: as above.
unsafe impl Sync for RawMemPool {}

/// Device memory and pinned host memory of one device, with statistics, a limit, tags and a
/// leak report. Safe to share between threads.
pub struct DevicePool {
    id: u64,
    device: Device,
    stream: Arc<CudaStream>,
    mempool: RawMemPool,
    own_mempool: bool,
    ledger: Ledger,
}

impl std::fmt::Debug for DevicePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevicePool")
            .field("id", &self.id)
            .field("device", &self.device)
            .field("own_mempool", &self.own_mempool)
            .field("limit", &self.ledger.limit())
            .finish()
    }
}

impl DevicePool {
    /// A pool on `device` with a hard limit on device bytes in use (`None`: no limit).
    pub fn new(device: Device, limit: Option<u64>) -> Result<DevicePool> {
        device.bind()?;
        let stream = device
            .context
            .new_stream()
            .map_err(|e| driver_error("cuStreamCreate", e))?;
        // SAFETY: all-zero is a valid CUmemPoolProps (no handle types, no attributes pointer);
        // the fields that matter are set below.
        let mut props: sys::CUmemPoolProps = unsafe { std::mem::zeroed() };
        props.allocType = sys::CUmemAllocationType::CU_MEM_ALLOCATION_TYPE_PINNED;
        props.handleTypes = sys::CUmemAllocationHandleType::CU_MEM_HANDLE_TYPE_NONE;
        props.location.type_ = sys::CUmemLocationType::CU_MEM_LOCATION_TYPE_DEVICE;
        props.location.id = device.ordinal() as i32;
        // SAFETY: props is a valid, initialised CUmemPoolProps; the context is current.
        let (mempool, own_mempool) = match unsafe { cu::mem_pool::create(&props) } {
            Ok(pool) => (pool, true),
            Err(_) => {
                // SAFETY: the device handle comes from the opened context.
                let pool = unsafe { cu::device::get_default_mem_pool(device.context.cu_device()) }
                    .map_err(|e| driver_error("cuDeviceGetDefaultMemPool", e))?;
                (pool, false)
            }
        };
        let mut threshold: u64 = u64::MAX;
        // SAFETY: the release threshold attribute is a cuuint64_t; the pool is valid.
        let set = unsafe {
            cu::mem_pool::set_attribute(
                mempool,
                CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
                (&mut threshold as *mut u64).cast::<c_void>(),
            )
        };
        if let Err(e) = set {
            if own_mempool {
                // SAFETY: created above and not used by anything yet.
                let _ = unsafe { cu::mem_pool::destroy(mempool) };
            }
            return Err(driver_error(
                "cuMemPoolSetAttribute(CU_MEMPOOL_ATTR_RELEASE_THRESHOLD)",
                e,
            ));
        }
        Ok(DevicePool {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            device,
            stream,
            mempool: RawMemPool(mempool),
            own_mempool,
            ledger: Ledger::new(limit),
        })
    }

    /// The device.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The stream all of this pool's work runs on.
    pub fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }

    /// A process-unique number for reports.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// True when the pool has a CUDA memory pool of its own (false: the device's default pool).
    pub fn has_own_mempool(&self) -> bool {
        self.own_mempool
    }

    /// Waits for all work on the pool's stream (allocations, frees, copies).
    pub fn synchronize(&self) -> Result<()> {
        self.device.bind()?;
        self.stream
            .synchronize()
            .map_err(|e| driver_error("cuStreamSynchronize", e))
    }

    /// Allocates `bytes` of device memory tagged `tag`, stream-ordered (see the module doc), and
    /// returns its device address. Errors: 0 bytes or a tag over 63 bytes
    /// ([`InvalidArgument`](crate::ErrorKind::InvalidArgument)), the limit
    /// ([`LimitExceeded`](crate::ErrorKind::LimitExceeded)), the device is full
    /// ([`OutOfMemory`](crate::ErrorKind::OutOfMemory)).
    pub fn alloc(&self, bytes: usize, tag: &str) -> Result<u64> {
        self.alloc_device(bytes, tag, false)
    }

    /// [`alloc`](Self::alloc) for a library object (a `DeviceVec`) that frees the array itself
    /// ([`free_owned`](Self::free_owned)); [`free`](Self::free) refuses it.
    pub(crate) fn alloc_owned(&self, bytes: usize, tag: &str) -> Result<u64> {
        self.alloc_device(bytes, tag, true)
    }

    fn alloc_device(&self, bytes: usize, tag: &str, owned: bool) -> Result<u64> {
        self.ledger
            .allocate_as(MemoryKind::Device, bytes as u64, tag, owned, || {
                self.device.bind()?;
                // SAFETY: pool and stream are live; the memory is handed out uninitialised.
                unsafe { cu::mem_pool::alloc_async(self.mempool.0, bytes, self.stream.cu_stream()) }
                    .map_err(|e| {
                        driver_error(&format!("cuMemAllocFromPoolAsync of {bytes} bytes"), e)
                    })
            })
            .map_err(|e| e.context(&format!("device {}", self.device.ordinal())))
    }

    /// Frees the device allocation that starts at `address`, stream-ordered: work already
    /// queued on the pool's stream finishes first; work the caller queued on other streams must
    /// be finished by the caller. An address that is not a live allocation of this pool is
    /// [`NotOwned`](crate::ErrorKind::NotOwned) and changes nothing; so is an array a library
    /// object owns (a solver's).
    pub fn free(&self, address: u64) -> Result<()> {
        self.free_device(address, false)
    }

    /// Frees an array from [`alloc_owned`](Self::alloc_owned); only its owner calls this.
    pub(crate) fn free_owned(&self, address: u64) -> Result<()> {
        self.free_device(address, true)
    }

    fn free_device(&self, address: u64, by_owner: bool) -> Result<()> {
        self.ledger
            .release_as(MemoryKind::Device, address, by_owner, |_| {
                self.device.bind()?;
                // SAFETY: a live allocation of this pool (checked by the ledger).
                unsafe { cu::free_async(address, self.stream.cu_stream()) }
                    .map_err(|e| driver_error("cuMemFreeAsync", e))
            })
            .map(|_| ())
    }

    /// Copies `dst.len()` bytes from device address `src` (inside a live allocation of this
    /// pool) to `dst`; complete on return.
    pub fn copy_to_host(&self, dst: &mut [u8], src: u64) -> Result<()> {
        if dst.is_empty() {
            return Ok(());
        }
        self.ledger
            .check_range(MemoryKind::Device, src, dst.len() as u64)?;
        self.device.bind()?;
        // SAFETY: the source range lies in a live allocation; dst is a valid host slice, and
        // the stream is synchronized before it is used again.
        unsafe { cu::memcpy_dtoh_async(dst, src, self.stream.cu_stream()) }
            .map_err(|e| driver_error("cuMemcpyDtoHAsync", e))?;
        self.synchronize()
    }

    /// Copies `src` to device address `dst` (inside a live allocation of this pool); complete
    /// on return.
    pub fn copy_to_device(&self, dst: u64, src: &[u8]) -> Result<()> {
        if src.is_empty() {
            return Ok(());
        }
        self.ledger
            .check_range(MemoryKind::Device, dst, src.len() as u64)?;
        self.device.bind()?;
        // SAFETY: the destination range lies in a live allocation; src stays borrowed until the
        // stream is synchronized below.
        unsafe { cu::memcpy_htod_async(dst, src, self.stream.cu_stream()) }
            .map_err(|e| driver_error("cuMemcpyHtoDAsync", e))?;
        self.synchronize()
    }

    /// Allocates `bytes` of page-locked host memory (`cuMemHostAlloc`, portable to no other
    /// context), counted in [`pinned_stats`](Self::pinned_stats) and the tags, not under the
    /// limit.
    pub fn alloc_pinned(&self, bytes: usize, tag: &str) -> Result<*mut u8> {
        self.ledger
            .allocate(MemoryKind::Pinned, bytes as u64, tag, || {
                self.device.bind()?;
                // SAFETY: a plain page-locked allocation; the context is current.
                unsafe { cu::malloc_host(bytes, 0) }
                    .map(|p| p as u64)
                    .map_err(|e| driver_error(&format!("cuMemHostAlloc of {bytes} bytes"), e))
            })
            .map(|address| address as *mut u8)
    }

    /// Frees pinned host memory from [`alloc_pinned`](Self::alloc_pinned).
    ///
    /// # Safety
    /// The memory is not used after a successful call.
    pub unsafe fn free_pinned(&self, ptr: *mut u8) -> Result<()> {
        self.ledger
            .release(MemoryKind::Pinned, ptr as u64, |_| {
                self.device.bind()?;
                // SAFETY: a live pinned allocation of this pool (checked by the ledger).
                unsafe { cu::free_host(ptr.cast()) }.map_err(|e| driver_error("cuMemFreeHost", e))
            })
            .map(|_| ())
    }

    fn mempool_attribute(&self, attribute: CUmemPool_attribute) -> Result<u64> {
        let mut value: u64 = 0;
        self.device.bind()?;
        // SAFETY: the reserved/used memory attributes are cuuint64_t; the pool is live.
        unsafe {
            cu::mem_pool::get_attribute(
                self.mempool.0,
                attribute,
                (&mut value as *mut u64).cast::<c_void>(),
            )
        }
        .map_err(|e| driver_error("cuMemPoolGetAttribute", e))?;
        Ok(value)
    }

    /// Device memory statistics: bytes in use (requested), peak, totals, counts, live and
    /// failed allocations and the limit exactly; `footprint_bytes` is the memory the CUDA pool
    /// holds (`RESERVED_MEM_CURRENT`) and `free_bytes` the part of it not in use
    /// (`RESERVED − USED_MEM_CURRENT`); `available_bytes` is `limit − in use` with a limit,
    /// otherwise the device's free memory. Chunk, block and fragmentation fields stay 0 (the
    /// driver does not tell them).
    pub fn stats(&self) -> Result<Stats> {
        let mut stats = self.ledger.stats(MemoryKind::Device);
        let reserved =
            self.mempool_attribute(CUmemPool_attribute::CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT)?;
        let used = self.mempool_attribute(CUmemPool_attribute::CU_MEMPOOL_ATTR_USED_MEM_CURRENT)?;
        stats.footprint_bytes = reserved;
        stats.free_bytes = reserved.saturating_sub(used);
        if self.ledger.limit().is_none() {
            stats.available_bytes = self.device.memory_info()?.0;
        }
        Ok(stats)
    }

    /// Pinned host memory statistics (the footprint is the bytes in use: the driver's page
    /// rounding is not visible).
    pub fn pinned_stats(&self) -> Stats {
        let mut stats = self.ledger.stats(MemoryKind::Pinned);
        stats.footprint_bytes = stats.bytes_in_use;
        stats
    }

    /// The counters of tag `name` (device and pinned memory together).
    pub fn tag_stats(&self, name: &str) -> Option<TagStats> {
        self.ledger.tag_stats(name)
    }

    /// Every tag's counters, most bytes in use first.
    pub fn all_tag_stats(&self) -> Vec<TagStats> {
        self.ledger.all_tag_stats()
    }

    /// The live allocations (device and pinned), by address.
    pub fn live(&self) -> Vec<super::Allocation> {
        self.ledger.live()
    }

    /// The leak report: outstanding device and pinned allocations by tag, then each with its
    /// address, size and tag.
    pub fn leak_report(&self) -> String {
        self.ledger.leak_report(&format!(
            "qdsim-mem GPU leak report, pool #{} (device {}, {})",
            self.id,
            self.device.ordinal(),
            self.device.name()
        ))
    }
}

impl Drop for DevicePool {
    /// Prints the leak report to stderr when allocations are still live, frees them, waits for
    /// the stream and destroys the CUDA pool (its memory goes back to the device).
    fn drop(&mut self) {
        let live = self.ledger.live();
        if !live.is_empty() {
            eprintln!("{}", self.leak_report());
        }
        if self.device.bind().is_err() {
            return;
        }
        for a in live {
            let result = match a.kind {
                MemoryKind::Device => self.free(a.address),
                // SAFETY: the pool is going away; nothing may use its memory any more.
                MemoryKind::Pinned => unsafe { self.free_pinned(a.address as *mut u8) },
            };
            if let Err(e) = result {
                eprintln!("qdsim-mem: GPU pool #{}: {}", self.id, Error::message(&e));
            }
        }
        let _ = self.stream.synchronize();
        if self.own_mempool {
            // SAFETY: every allocation from it was freed and the stream is idle.
            let _ = unsafe { cu::mem_pool::destroy(self.mempool.0) };
        }
    }
}
