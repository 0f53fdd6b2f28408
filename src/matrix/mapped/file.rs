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
//! Mappings are shared with the file: the file must not be truncated or rewritten by another
//! program while it is mapped (the operating system would deliver SIGBUS or change the data).

use super::header::{HEADER_BYTES, Header, Layout, Section};
use crate::error::{Error, ErrorKind, Result};
use crate::io::open::open_regular_file;
use crate::matrix::ScalarKind;
use crate::memory::PoolElement;
use crate::memory::os::reserve_file_space;
use memmap2::{Mmap, MmapMut, MmapOptions};
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

enum Mapping {
    ReadOnly(Mmap),
    Writable(MmapMut),
}

/// An open mapped-matrix file.
pub(crate) struct MappedFile {
    path: PathBuf,
    file: File,
    map: Mapping,
    header: Header,
}

/// What the caller of [`MappedFile::open`] needs the file to hold (`None`: anything).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Expect {
    pub layout: Option<Layout>,
    pub scalar: Option<ScalarKind>,
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
    /// Creates (or replaces) `path` with room for `header`'s sections (zero-filled), maps it
    /// writable and writes the header in the writing state.
    pub(crate) fn create(path: &Path, mut header: Header) -> Result<Self> {
        if cfg!(target_endian = "big") {
            return Err(Error::invalid_argument(
                "mapped matrices are little-endian; this machine is big-endian",
            ));
        }
        header.finalized = false;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|e| io_error(path, "create the file", e))?;
        reserve_file_space(&file, header.file_len)
            .map_err(|e| io_error(path, "reserve the file's space on disk", e))?;
        // SAFETY: the file was just created by us; the type's contract (module doc) is that no
        // other program truncates or rewrites it while it is mapped.
        let map = unsafe { MmapOptions::new().map_mut(&file) }
            .map_err(|e| io_error(path, "map the file", e))?;
        let mut mapped = Self {
            path: path.to_path_buf(),
            file,
            map: Mapping::Writable(map),
            header,
        };
        mapped.write_header()?;
        Ok(mapped)
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
        Ok(Self {
            path: path.to_path_buf(),
            file,
            map,
            header,
        })
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

    /// Section `k`'s bytes.
    fn bytes(&self, k: usize) -> &[u8] {
        let s = self.header.sections[k];
        let map: &[u8] = match &self.map {
            Mapping::ReadOnly(m) => m,
            Mapping::Writable(m) => m,
        };
        &map[s.offset as usize..s.end() as usize]
    }

    /// Section `k` as elements of `T`.
    pub(crate) fn slice<T: PoolElement>(&self, k: usize) -> &[T] {
        cast(self.bytes(k))
    }

    /// Section `k` as mutable elements of `T`; refused for a read-only mapping. Puts a finalized
    /// file back in the writing state first.
    pub(crate) fn slice_mut<T: PoolElement>(&mut self, k: usize) -> Result<&mut [T]> {
        self.require_writable()?;
        if self.header.finalized {
            self.header.finalized = false;
            self.write_header()?;
        }
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
        self.flush()?;
        self.file
            .sync_all()
            .map_err(|e| io_error(&self.path, "sync the file", e))?;
        self.header.finalized = true;
        self.write_header()
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
