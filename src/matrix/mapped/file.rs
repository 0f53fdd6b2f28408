//! `MappedFile`: one open mapped-matrix file — its descriptor, its mapping (read-only or
//! writable) and its header — with the steps every layout shares: create, open and check, typed
//! section views, flush, finalize, grow.
//!
//! Crash safety: a file is created in the *writing* state; `finalize` first makes the data
//! durable (`msync` + `fsync`), then writes the header in the *finalized* state and makes that
//! durable. The first mutable access to a finalized file puts it back in the writing state (one
//! header write) until the next `finalize`. So a file whose writer died mid-way is refused on
//! open, never read half-written.
//!
//! A new file is written under a temporary name in the same directory
//! (`.{name}.tmp.{pid}.{counter}`) and renamed over the target only by the first `finalize`, so
//! a failed or abandoned write (an error, or a drop before `finalize`) never destroys what was
//! there, and the temporary file is removed. Scratch files ([`MappedFile::create_in_place`])
//! are written where they are named.
//!
//! Version-2 files carry a CRC-32C per 1 MiB block of data (see `header.rs`), written by
//! `finalize` and checked by [`MappedFile::verify`] (and on open when asked).
//!
//! Mappings are shared with the file: the file must not be truncated or rewritten by another
//! program while it is mapped (the operating system would deliver SIGBUS or change the data).
//! Data read from a mapping is therefore never trusted to stay as validated: the CSR kernels
//! check every index as they read it (`csr.rs`).

use super::header::{CHECKSUM_BLOCK, HEADER_BYTES, Header, Layout, Section};
use crate::error::{Error, ErrorKind, Result};
use crate::io::open::open_regular_file;
use crate::matrix::ScalarKind;
use crate::memory::PoolElement;
use crate::memory::os::reserve_file_space;
use memmap2::{Mmap, MmapMut, MmapOptions};
use rayon::prelude::*;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

enum Mapping {
    ReadOnly(Mmap),
    Writable(MmapMut),
}

/// An open mapped-matrix file.
pub(crate) struct MappedFile {
    path: PathBuf,
    /// While a new file is not yet finalized: the temporary name it is written under (renamed to
    /// `path` by the first `finalize`, removed on drop before that).
    temporary: Option<PathBuf>,
    file: File,
    map: Mapping,
    header: Header,
}

/// What the caller of [`MappedFile::open`] needs the file to hold (`None`: anything), and
/// whether to verify the data checksums.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Expect {
    pub layout: Option<Layout>,
    pub scalar: Option<ScalarKind>,
    pub verify: bool,
}

/// A unique temporary name beside `path`: `.{name}.tmp.{pid}.{counter}`.
fn temporary_name(path: &Path) -> Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| {
        Error::invalid_argument(format!("{} does not name a file", path.display()))
    })?;
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    tmp.push(format!(
        ".tmp.{}.{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    Ok(path.with_file_name(tmp))
}

/// Makes a rename in `path`'s directory durable.
fn sync_directory(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

pub(crate) fn io_error(path: &Path, doing: &str, e: std::io::Error) -> Error {
    Error::new(
        ErrorKind::Io,
        format!("{}: cannot {doing}: {e}", path.display()),
    )
}

fn read_only_error(path: &Path) -> Error {
    Error::invalid_argument(format!(
        "{} is mapped read-only; open it writable to modify it",
        path.display()
    ))
}

impl MappedFile {
    /// Creates a file that will replace `path` at its first [`finalize`](Self::finalize), with
    /// room for `header`'s sections (zero-filled), mapped writable, with the header in the
    /// writing state. It is written under a temporary name in the same directory: until
    /// `finalize`, whatever `path` held stays, and on failure or drop nothing is left behind.
    pub(crate) fn create(path: &Path, header: Header) -> Result<Self> {
        let temporary = temporary_name(path)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&temporary)
            .map_err(|e| {
                io_error(
                    path,
                    &format!("create the file (as {})", temporary.display()),
                    e,
                )
            })?;
        // Until `Self` owns it (and removes it on drop), this removes the temporary file.
        let mut guard = RemoveOnDrop(Some(temporary));
        let map = Self::reserve_and_map(path, &file, &header)?;
        let mut mapped = Self::new_in(path, file, map, header);
        mapped.temporary = guard.0.take();
        mapped.write_header()?;
        Ok(mapped)
    }

    /// Creates (or truncates) `path` itself, for scratch files that the caller unlinks at once
    /// and never finalizes.
    pub(crate) fn create_in_place(path: &Path, header: Header) -> Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|e| io_error(path, "create the file", e))?;
        let map = Self::reserve_and_map(path, &file, &header)?;
        let mut mapped = Self::new_in(path, file, map, header);
        mapped.write_header()?;
        Ok(mapped)
    }

    fn new_in(path: &Path, file: File, map: MmapMut, mut header: Header) -> Self {
        header.finalized = false;
        Self {
            path: path.to_path_buf(),
            temporary: None,
            file,
            map: Mapping::Writable(map),
            header,
        }
    }

    /// Reserves a new file's space for `header` and maps it writable.
    fn reserve_and_map(path: &Path, file: &File, header: &Header) -> Result<MmapMut> {
        if cfg!(target_endian = "big") {
            return Err(Error::invalid_argument(
                "mapped matrices are little-endian; this machine is big-endian",
            ));
        }
        reserve_file_space(file, header.file_len)
            .map_err(|e| io_error(path, "reserve the file's space on disk", e))?;
        // SAFETY: the file was just created by us; the type's contract (module doc) is that no
        // other program truncates or rewrites it while it is mapped.
        unsafe { MmapOptions::new().map_mut(file) }.map_err(|e| io_error(path, "map the file", e))
    }

    /// Opens `path`, checks its header (and that it holds what `expect` asks for) and maps it.
    pub(crate) fn open(path: &Path, writable: bool, expect: Expect) -> Result<Self> {
        if cfg!(target_endian = "big") {
            return Err(Error::invalid_argument(
                "mapped matrices are little-endian; this machine is big-endian",
            ));
        }
        // Regular files only: a FIFO would block the open, a device cannot be mapped as a file.
        let mut file = open_regular_file(path, "the mapped-matrix file", writable)?;
        let len = file
            .metadata()
            .map_err(|e| io_error(path, "read the file's size", e))?
            .len();
        // A fixed-size buffer: the header's length is a constant, not something the file says.
        let mut bytes = Vec::with_capacity(HEADER_BYTES);
        (&mut file)
            .take(HEADER_BYTES as u64)
            .read_to_end(&mut bytes)
            .map_err(|e| io_error(path, "read the header", e))?;
        let context = path.display().to_string();
        let header = Header::decode(&bytes, len).map_err(|e| e.context(&context))?;
        if expect.layout.is_some_and(|layout| layout != header.layout) {
            return Err(Error::new(
                ErrorKind::CorruptFile,
                format!(
                    "{context}: the file holds a {} matrix, but a {} one was asked for",
                    header.layout.name(),
                    expect.layout.expect("checked").name()
                ),
            ));
        }
        if let Some(scalar) = expect.scalar.filter(|&s| s != header.scalar) {
            return Err(Error::new(
                ErrorKind::CorruptFile,
                format!(
                    "{context}: the file holds {} elements, but {} was asked for",
                    header.scalar.name(),
                    scalar.name()
                ),
            ));
        }
        let map = if writable {
            // SAFETY: the type's contract (module doc): nobody truncates or rewrites the file
            // behind the mapping.
            Mapping::Writable(
                unsafe { MmapOptions::new().map_mut(&file) }
                    .map_err(|e| io_error(path, "map the file", e))?,
            )
        } else {
            // SAFETY: as above.
            Mapping::ReadOnly(
                unsafe { MmapOptions::new().map(&file) }
                    .map_err(|e| io_error(path, "map the file", e))?,
            )
        };
        if map_len(&map) as u64 != header.file_len {
            return Err(Error::new(
                ErrorKind::CorruptFile,
                format!("{context}: the file changed size while being opened"),
            ));
        }
        let opened = Self {
            path: path.to_path_buf(),
            temporary: None,
            file,
            map,
            header,
        };
        if expect.verify {
            opened.verify()?;
        }
        Ok(opened)
    }

    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn is_writable(&self) -> bool {
        matches!(self.map, Mapping::Writable(_))
    }

    /// Refuses a read-only mapping (the error of every write).
    pub(crate) fn require_writable(&self) -> Result<()> {
        if self.is_writable() {
            Ok(())
        } else {
            Err(read_only_error(&self.path))
        }
    }

    /// The whole mapping.
    fn all_bytes(&self) -> &[u8] {
        match &self.map {
            Mapping::ReadOnly(m) => m,
            Mapping::Writable(m) => m,
        }
    }

    /// Section `k`'s bytes.
    fn bytes(&self, k: usize) -> &[u8] {
        let s = self.header.sections[k];
        &self.all_bytes()[s.offset as usize..s.end() as usize]
    }

    /// The CRC-32C of every [`CHECKSUM_BLOCK`] of the checksummed range, in parallel.
    fn block_checksums(&self) -> Vec<u32> {
        let range = self.header.checksummed_range();
        let bytes = &self.all_bytes()[range.start as usize..range.end as usize];
        crate::solver::threads::in_pool(|| {
            bytes
                .par_chunks(CHECKSUM_BLOCK as usize)
                .map(crc32c::crc32c)
                .collect()
        })
    }

    /// Checks the data against the checksum table (format version 2): every block's CRC-32C,
    /// and the table's own. Returns the number of bytes verified. A version-1 file (no data
    /// checksums) and a file changed since its last finalize are refused with `InvalidArgument`
    /// (nothing to verify against); damage is `CorruptFile`, naming the first bad block.
    pub(crate) fn verify(&self) -> Result<u64> {
        let h = &self.header;
        let context = self.path.display();
        if !h.is_checksummed() {
            return Err(Error::invalid_argument(format!(
                "{context}: not checksummed: the file has format version {}, which has no data \
                 checksums (rewrite it with this release to get them); nothing was verified",
                h.version
            )));
        }
        if !h.finalized {
            return Err(Error::invalid_argument(format!(
                "{context}: the file was changed since its last finalize, so its checksums are \
                 not current: finalize it before verifying"
            )));
        }
        let t = h.checksum_table;
        let table = &self.all_bytes()[t.offset as usize..t.end() as usize];
        let computed = crc32c::crc32c(table);
        if computed != h.table_crc {
            return Err(Error::new(
                ErrorKind::CorruptFile,
                format!(
                    "{context}: the checksum table (bytes {}..{}) fails its checksum (stored \
                     {:#010x}, computed {computed:#010x}): the table was damaged",
                    t.offset,
                    t.end(),
                    h.table_crc
                ),
            ));
        }
        let sums = self.block_checksums();
        let range = h.checksummed_range();
        let bad: Vec<usize> = sums
            .iter()
            .zip(table.chunks_exact(4))
            .enumerate()
            .filter(|(_, (sum, stored))| {
                u32::from_le_bytes((*stored).try_into().expect("4")) != **sum
            })
            .map(|(k, _)| k)
            .collect();
        if let Some(&k) = bad.first() {
            let start = range.start + k as u64 * CHECKSUM_BLOCK;
            let end = (start + CHECKSUM_BLOCK).min(range.end);
            let stored = u32::from_le_bytes(table[4 * k..4 * k + 4].try_into().expect("4"));
            return Err(Error::new(
                ErrorKind::CorruptFile,
                format!(
                    "{context}: data block {k} (bytes {start}..{end}) fails its checksum (stored \
                     {stored:#010x}, computed {:#010x}); {} of {} blocks are damaged: the data \
                     was changed or damaged after it was written",
                    sums[k],
                    bad.len(),
                    sums.len()
                ),
            ));
        }
        Ok(range.end - range.start)
    }

    /// Section `k` as elements of `T`.
    pub(crate) fn slice<T: PoolElement>(&self, k: usize) -> &[T] {
        cast(self.bytes(k))
    }

    /// Section `k` as mutable elements of `T`; refused for a read-only mapping. Puts a finalized
    /// file back in the writing state first.
    pub(crate) fn slice_mut<T: PoolElement>(&mut self, k: usize) -> Result<&mut [T]> {
        self.begin_writing()?;
        let Section { offset, bytes } = self.header.sections[k];
        let Mapping::Writable(map) = &mut self.map else {
            unreachable!("checked writable above")
        };
        let bytes = &mut map[offset as usize..(offset + bytes) as usize];
        assert!(
            (bytes.as_ptr() as usize) % align_of::<T>() == 0 && bytes.len() % size_of::<T>() == 0
        );
        // SAFETY: aligned and a whole number of elements (asserted); every bit pattern is a
        // valid `T` (PoolElement's contract); the bytes are borrowed mutably from `self`.
        Ok(unsafe {
            std::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast(), bytes.len() / size_of::<T>())
        })
    }

    /// Copies `len` bytes of `from` at `from_offset` into section `k` at byte `at` inside the
    /// kernel ([`copy_file_range`](crate::memory::os::copy_file_range)); refused for a
    /// read-only mapping, and puts a finalized file back in the writing state first
    /// ([`begin_writing`](Self::begin_writing)). The mapping sees the new bytes (one page cache). An `Err`
    /// of the inner result is the system's refusal or failure (part of the range may be
    /// copied): the caller can still write the range through the mapping.
    pub(crate) fn copy_into_section(
        &mut self,
        k: usize,
        at: u64,
        from: &File,
        from_offset: u64,
        len: usize,
    ) -> Result<std::io::Result<()>> {
        self.begin_writing()?;
        let Section { offset, bytes } = self.header.sections[k];
        assert!(at + len as u64 <= bytes, "inside section {k}");
        Ok(crate::memory::os::copy_file_range(
            from,
            from_offset,
            &self.file,
            offset + at,
            len,
        ))
    }

    /// Before the data changes: refused for a read-only mapping; a finalized file goes back to
    /// the writing state (its header says so until the next `finalize`).
    fn begin_writing(&mut self) -> Result<()> {
        self.require_writable()?;
        if self.header.finalized {
            self.header.finalized = false;
            self.write_header()?;
        }
        Ok(())
    }

    fn write_header(&mut self) -> Result<()> {
        let bytes = self.header.encode();
        let Mapping::Writable(map) = &mut self.map else {
            return Err(read_only_error(&self.path));
        };
        map[..HEADER_BYTES].copy_from_slice(&bytes);
        map.flush_range(0, HEADER_BYTES)
            .map_err(|e| io_error(&self.path, "write the header", e))
    }

    /// Writes modified pages back to the file (no-op for a read-only mapping). The file stays in
    /// its current state (finalized or not).
    pub(crate) fn flush(&self) -> Result<()> {
        match &self.map {
            Mapping::ReadOnly(_) => Ok(()),
            Mapping::Writable(m) => m
                .flush()
                .map_err(|e| io_error(&self.path, "flush the mapping", e)),
        }
    }

    /// Makes the data durable, then marks the header finalized (and makes that durable).
    pub(crate) fn finalize(&mut self) -> Result<()> {
        if !self.is_writable() {
            return Err(read_only_error(&self.path));
        }
        if self.header.is_checksummed() {
            let sums = self.block_checksums();
            let t = self.header.checksum_table;
            let Mapping::Writable(map) = &mut self.map else {
                unreachable!("checked writable above")
            };
            let table = &mut map[t.offset as usize..t.end() as usize];
            for (slot, sum) in table.chunks_exact_mut(4).zip(&sums) {
                slot.copy_from_slice(&sum.to_le_bytes());
            }
            self.header.table_crc = crc32c::crc32c(table);
        }
        self.flush()?;
        self.file
            .sync_all()
            .map_err(|e| io_error(&self.path, "sync the file", e))?;
        self.header.finalized = true;
        self.write_header()?;
        if let Some(temporary) = &self.temporary {
            std::fs::rename(temporary, &self.path).map_err(|e| {
                io_error(
                    &self.path,
                    &format!("rename the finished {} over it", temporary.display()),
                    e,
                )
            })?;
            self.temporary = None;
            sync_directory(&self.path)
                .map_err(|e| io_error(&self.path, "sync the directory after the rename", e))?;
        }
        Ok(())
    }

    /// Replaces the header by `header` (same layout, a longer file), extending the file with
    /// zeros and remapping it. The file is in the writing state afterwards.
    pub(crate) fn grow(&mut self, mut header: Header) -> Result<()> {
        if !self.is_writable() {
            return Err(read_only_error(&self.path));
        }
        debug_assert!(header.file_len >= self.header.file_len);
        self.flush()?;
        self.header.finalized = false;
        self.write_header()?;
        reserve_file_space(&self.file, header.file_len)
            .map_err(|e| io_error(&self.path, "extend the file (reserve its space)", e))?;
        // SAFETY: as in `create`: the file is ours and nobody truncates it behind the mapping.
        let map = unsafe { MmapOptions::new().map_mut(&self.file) }
            .map_err(|e| io_error(&self.path, "map the extended file", e))?;
        self.map = Mapping::Writable(map);
        header.finalized = false;
        self.header = header;
        self.write_header()
    }
}

/// Removes the file it names when dropped (unless taken).
struct RemoveOnDrop(Option<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for MappedFile {
    /// A new file dropped before its first `finalize` is removed: the target keeps what it held.
    fn drop(&mut self) {
        drop(RemoveOnDrop(self.temporary.take()));
    }
}

fn map_len(map: &Mapping) -> usize {
    match map {
        Mapping::ReadOnly(m) => m.len(),
        Mapping::Writable(m) => m.len(),
    }
}

/// `bytes` as elements of `T` (sections are page-aligned and whole multiples of `T`).
fn cast<T: PoolElement>(bytes: &[u8]) -> &[T] {
    assert!((bytes.as_ptr() as usize) % align_of::<T>() == 0 && bytes.len() % size_of::<T>() == 0);
    // SAFETY: aligned and a whole number of elements (asserted above); every bit pattern is a
    // valid `T` (PoolElement's contract); the lifetime is that of `bytes`.
    unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast(), bytes.len() / size_of::<T>()) }
}
