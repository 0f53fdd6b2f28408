//! The on-disk format of memory-mapped matrices (version 2; version 1 is still read): a
//! 4096-byte header page, then the data sections, each starting on a 4096-byte boundary so that
//! every mapping of them is page-aligned, then (version 2) the table of data checksums.
//!
//! The first 192 bytes of the header page (128 in version 1; the rest is zero), all
//! little-endian:
//!
//! | offset | type | field |
//! |---:|---|---|
//! | 0 | `[u8; 8]` | magic `QDSIMMAT` |
//! | 8 | `u32` | format version (2, or 1 for files of earlier releases) |
//! | 12 | `u32` | state: `WRIT` (0x5449_5257) being written, `FINL` (0x4C4E_4946) finalized |
//! | 16 | `u32` | layout: 1 dense (column-major), 2 CSR |
//! | 20 | `u32` | element type: 1 `f64`, 2 complex `f64` pair (re, im) |
//! | 24 | `u32` | index width of CSR arrays: 32 or 64 (0 for dense) |
//! | 28 | `u32` | reserved, 0 |
//! | 32 | `u64` | rows |
//! | 40 | `u64` | columns |
//! | 48 | `u64` | stored entries (CSR; 0 for dense) |
//! | 56 | `u64` | leading dimension in elements (dense; 0 for CSR) |
//! | 64 | `3 × (u64, u64)` | sections: (offset, bytes) — dense: data, -, -; CSR: row pointers, column indices, values |
//! | 112 | `u64` | total file length in bytes |
//! | 120 | `u64` | version 1: FNV-1a 64 checksum of bytes 0..120 (the header ends here) |
//! | 120 | `u64` | version 2: bytes per checksummed data block ([`CHECKSUM_BLOCK`], 1 MiB) |
//! | 128 | `(u64, u64)` | version 2: the checksum table section (offset, bytes) |
//! | 144 | `u32` | version 2: CRC-32C of the checksum table |
//! | 148 | `[u8; 36]` | version 2: reserved, 0 |
//! | 184 | `u64` | version 2: FNV-1a 64 checksum of bytes 0..184 |
//!
//! Dense data is column-major with leading dimension [`aligned_ld`](crate::matrix::aligned_ld)
//! (every column starts on a 64-byte boundary, as in `ManagedMatrix`); CSR sections hold
//! `rows + 1` row pointers, `nnz` column indices and `nnz` values. The sections follow one
//! another in that order, each at the next multiple of 4096 after the previous one's end.
//!
//! Version 2 checksums the data: the bytes from offset 4096 to the start of the checksum table
//! (every data section and the zero padding between them) are cut into blocks of
//! [`CHECKSUM_BLOCK`] bytes (the last one shorter), and the table, the section after the last
//! data section, holds one little-endian `u32` CRC-32C per block; the table's own CRC-32C is in
//! the header, which the header checksum covers. The table is written by `finalize`. The file
//! ends with the table. Version 1 files end with the last data section and only their header is
//! checksummed. In both versions CSR index arrays are also checked structurally on every open.

use crate::error::{Error, ErrorKind, Result};
use crate::matrix::ScalarKind;

/// The first 8 bytes of every file.
pub const MAGIC: [u8; 8] = *b"QDSIMMAT";
/// The format version this library writes (it also reads [`FORMAT_VERSION_1`]).
pub const FORMAT_VERSION: u32 = 2;
/// The first format version: no data checksums; still read.
pub const FORMAT_VERSION_1: u32 = 1;
/// Bytes of data per checksum (version 2).
pub const CHECKSUM_BLOCK: u64 = 1 << 20;
/// Sections start on multiples of this many bytes; the header occupies the first such page.
pub const SECTION_ALIGN: u64 = 4096;
/// Bytes of the header that carry fields (the checksum is the last 8 of them): the most of
/// any version (192, version 2; version 1 has 128).
pub const HEADER_BYTES: usize = 192;
/// Bytes of a version-1 header.
pub const HEADER_BYTES_V1: usize = 128;

const STATE_WRITING: u32 = u32::from_le_bytes(*b"WRIT");
const STATE_FINALIZED: u32 = u32::from_le_bytes(*b"FINL");
const CHECKSUM_AT_V1: usize = 120;
const CHECKSUM_AT: usize = 184;

/// How the matrix is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Column-major dense, with a leading dimension.
    Dense,
    /// Compressed sparse rows.
    Csr,
}

impl Layout {
    /// "dense" or "CSR", for messages.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Dense => "dense",
            Layout::Csr => "CSR",
        }
    }
}

/// One contiguous array of the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Section {
    /// Byte offset from the start of the file (a multiple of [`SECTION_ALIGN`]).
    pub offset: u64,
    /// Length in bytes.
    pub bytes: u64,
}

impl Section {
    /// One past the last byte.
    pub fn end(&self) -> u64 {
        self.offset + self.bytes
    }
}

/// The decoded header of a mapped-matrix file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Dense or CSR.
    pub layout: Layout,
    /// Element type.
    pub scalar: ScalarKind,
    /// 32 or 64 for CSR, 0 for dense.
    pub index_bits: u32,
    /// Rows.
    pub rows: u64,
    /// Columns.
    pub cols: u64,
    /// Stored entries (CSR), 0 for dense.
    pub nnz: u64,
    /// Leading dimension in elements (dense), 0 for CSR.
    pub ld: u64,
    /// Dense: `[data, empty, empty]`; CSR: `[row_ptr, col_idx, values]`.
    pub sections: [Section; 3],
    /// Total length of the file.
    pub file_len: u64,
    /// True once the writer declared the contents complete and durable.
    pub finalized: bool,
    /// Format version: [`FORMAT_VERSION`] for new files, [`FORMAT_VERSION_1`] (no data
    /// checksums) for files of earlier releases.
    pub version: u32,
    /// Version 2: the table of per-block CRC-32C checksums of the data (empty for version 1).
    pub checksum_table: Section,
    /// Version 2: the CRC-32C of the checksum table (valid once finalized).
    pub table_crc: u32,
}

/// Bytes of one element of `scalar`.
pub fn element_bytes(scalar: ScalarKind) -> u64 {
    match scalar {
        ScalarKind::Real => 8,
        ScalarKind::Complex => 16,
    }
}

/// FNV-1a, 64 bits: the header checksum.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn too_large(what: &str) -> Error {
    Error::invalid_argument(format!("{what} does not fit in a 64-bit file offset"))
}

/// The section of `bytes` bytes that follows `previous` (on the next aligned offset).
fn section_after(previous_end: u64, bytes: u64, what: &str) -> Result<Section> {
    let offset = previous_end
        .checked_next_multiple_of(SECTION_ALIGN)
        .ok_or_else(|| too_large(what))?;
    offset.checked_add(bytes).ok_or_else(|| too_large(what))?;
    Ok(Section { offset, bytes })
}

/// The checksum table of the data that ends at `data_end`: the section after it, one `u32` per
/// [`CHECKSUM_BLOCK`] bytes from [`SECTION_ALIGN`] to the table's offset.
fn table_after(data_end: u64, what: &str) -> Result<Section> {
    let offset = data_end
        .checked_next_multiple_of(SECTION_ALIGN)
        .ok_or_else(|| too_large(what))?;
    let blocks = (offset - SECTION_ALIGN).div_ceil(CHECKSUM_BLOCK);
    section_after(offset, blocks * 4, what)
}

fn product(a: u64, b: u64, c: u64, what: &str) -> Result<u64> {
    a.checked_mul(b)
        .and_then(|x| x.checked_mul(c))
        .ok_or_else(|| too_large(what))
}

impl Header {
    /// The header of a not yet finalized dense `rows × cols` file with leading dimension `ld`.
    pub fn dense(scalar: ScalarKind, rows: u64, cols: u64, ld: u64) -> Result<Self> {
        let what = format!("a {rows}×{cols} dense matrix");
        if ld < rows.max(1) {
            return Err(Error::invalid_argument(format!(
                "leading dimension {ld} is smaller than max(1, rows = {rows})"
            )));
        }
        let data = section_after(
            SECTION_ALIGN,
            product(ld, cols, element_bytes(scalar), &what)?,
            &what,
        )?;
        let checksum_table = table_after(data.end(), &what)?;
        Ok(Self {
            layout: Layout::Dense,
            scalar,
            index_bits: 0,
            rows,
            cols,
            nnz: 0,
            ld,
            sections: [data, Section::default(), Section::default()],
            file_len: checksum_table.end(),
            finalized: false,
            version: FORMAT_VERSION,
            checksum_table,
            table_crc: 0,
        })
    }

    /// The header of a not yet finalized CSR file.
    pub fn csr(
        scalar: ScalarKind,
        index_bits: u32,
        rows: u64,
        cols: u64,
        nnz: u64,
    ) -> Result<Self> {
        let what = format!("a {rows}×{cols} CSR matrix with {nnz} entries");
        if index_bits != 32 && index_bits != 64 {
            return Err(Error::invalid_argument(format!(
                "index width {index_bits} is not 32 or 64"
            )));
        }
        let ib = u64::from(index_bits / 8);
        let rows1 = rows.checked_add(1).ok_or_else(|| too_large(&what))?;
        let row_ptr = section_after(SECTION_ALIGN, product(rows1, ib, 1, &what)?, &what)?;
        let col_idx = section_after(row_ptr.end(), product(nnz, ib, 1, &what)?, &what)?;
        let values = section_after(
            col_idx.end(),
            product(nnz, element_bytes(scalar), 1, &what)?,
            &what,
        )?;
        let checksum_table = table_after(values.end(), &what)?;
        Ok(Self {
            layout: Layout::Csr,
            scalar,
            index_bits,
            rows,
            cols,
            nnz,
            ld: 0,
            sections: [row_ptr, col_idx, values],
            file_len: checksum_table.end(),
            finalized: false,
            version: FORMAT_VERSION,
            checksum_table,
            table_crc: 0,
        })
    }

    /// True for a file whose data is checksummed (format version 2 and later).
    pub fn is_checksummed(&self) -> bool {
        self.version >= FORMAT_VERSION
    }

    /// The byte range the data checksums cover: from [`SECTION_ALIGN`] to the checksum table
    /// (version 2; empty for version 1).
    pub fn checksummed_range(&self) -> std::ops::Range<u64> {
        if self.is_checksummed() {
            SECTION_ALIGN..self.checksum_table.offset
        } else {
            SECTION_ALIGN..SECTION_ALIGN
        }
    }

    /// This header as format version 1 describes the same matrix (no checksum table).
    fn into_version_1(mut self) -> Self {
        self.file_len = self.sections.iter().map(Section::end).max().unwrap_or(0);
        self.version = FORMAT_VERSION_1;
        self.checksum_table = Section::default();
        self.table_crc = 0;
        self
    }

    /// The header's [`HEADER_BYTES`] bytes, checksum included (for version 1, the first 128 are
    /// the header and the rest is zero).
    pub fn encode(&self) -> [u8; HEADER_BYTES] {
        let mut b = [0u8; HEADER_BYTES];
        b[0..8].copy_from_slice(&MAGIC);
        let state = if self.finalized {
            STATE_FINALIZED
        } else {
            STATE_WRITING
        };
        let layout: u32 = match self.layout {
            Layout::Dense => 1,
            Layout::Csr => 2,
        };
        let scalar: u32 = match self.scalar {
            ScalarKind::Real => 1,
            ScalarKind::Complex => 2,
        };
        for (at, v) in [
            (8, self.version),
            (12, state),
            (16, layout),
            (20, scalar),
            (24, self.index_bits),
        ] {
            b[at..at + 4].copy_from_slice(&v.to_le_bytes());
        }
        let mut words = vec![self.rows, self.cols, self.nnz, self.ld];
        for s in &self.sections {
            words.extend([s.offset, s.bytes]);
        }
        words.push(self.file_len);
        if self.is_checksummed() {
            words.extend([
                CHECKSUM_BLOCK,
                self.checksum_table.offset,
                self.checksum_table.bytes,
                u64::from(self.table_crc),
            ]);
        }
        for (k, w) in words.iter().enumerate() {
            b[32 + 8 * k..40 + 8 * k].copy_from_slice(&w.to_le_bytes());
        }
        let at = if self.is_checksummed() {
            CHECKSUM_AT
        } else {
            CHECKSUM_AT_V1
        };
        let sum = fnv1a64(&b[..at]);
        b[at..at + 8].copy_from_slice(&sum.to_le_bytes());
        b
    }

    /// Decodes and checks a header read from a file of `file_len` bytes. Every inconsistency is
    /// an [`ErrorKind::CorruptFile`] error saying what is wrong; an unfinalized file is refused.
    pub fn decode(bytes: &[u8], file_len: u64) -> Result<Self> {
        let corrupt = |message: String| Error::new(ErrorKind::CorruptFile, message);
        if file_len < SECTION_ALIGN || bytes.len() < HEADER_BYTES {
            return Err(corrupt(format!(
                "the file is {file_len} bytes long, shorter than the {SECTION_ALIGN}-byte header \
                 page (truncated, or not a qdsim mapped-matrix file)"
            )));
        }
        if bytes[0..8] != MAGIC {
            return Err(corrupt(format!(
                "bad magic {:?}: not a qdsim mapped-matrix file (expected \"QDSIMMAT\")",
                String::from_utf8_lossy(&bytes[0..8])
            )));
        }
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4"));
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8"));
        let version = u32_at(8);
        let checksum_at = match version {
            FORMAT_VERSION_1 => CHECKSUM_AT_V1,
            FORMAT_VERSION => CHECKSUM_AT,
            _ => {
                return Err(corrupt(format!(
                    "format version {version}, but this library reads versions \
                     {FORMAT_VERSION_1} and {FORMAT_VERSION}"
                )));
            }
        };
        let (stored, computed) = (u64_at(checksum_at), fnv1a64(&bytes[..checksum_at]));
        if stored != computed {
            return Err(corrupt(format!(
                "header checksum mismatch (stored {stored:#018x}, computed {computed:#018x}): \
                 the header was damaged"
            )));
        }
        let finalized = match u32_at(12) {
            STATE_FINALIZED => true,
            STATE_WRITING => false,
            other => return Err(corrupt(format!("unknown state {other:#010x}"))),
        };
        if !finalized {
            return Err(corrupt(
                "the file was never finalized: it is still being written, or writing was \
                 interrupted (a crash, or a writable mapping closed without finalize)"
                    .to_string(),
            ));
        }
        let layout = match u32_at(16) {
            1 => Layout::Dense,
            2 => Layout::Csr,
            other => return Err(corrupt(format!("unknown layout {other} (1 dense, 2 CSR)"))),
        };
        let scalar = match u32_at(20) {
            1 => ScalarKind::Real,
            2 => ScalarKind::Complex,
            other => {
                return Err(corrupt(format!(
                    "unknown element type {other} (1 f64, 2 complex128)"
                )));
            }
        };
        let (index_bits, rows, cols, nnz, ld) =
            (u32_at(24), u64_at(32), u64_at(40), u64_at(48), u64_at(56));
        let mut expected = match layout {
            Layout::Dense if index_bits != 0 || nnz != 0 => {
                return Err(corrupt(format!(
                    "a dense file with index width {index_bits} and {nnz} entries (both must be 0)"
                )));
            }
            Layout::Dense => Self::dense(scalar, rows, cols, ld),
            Layout::Csr if ld != 0 => {
                return Err(corrupt(format!(
                    "a CSR file with leading dimension {ld} (must be 0)"
                )));
            }
            Layout::Csr => Self::csr(scalar, index_bits, rows, cols, nnz),
        }
        .map_err(|e| corrupt(format!("inconsistent shape: {}", e.message())))?;
        if version == FORMAT_VERSION_1 {
            expected = expected.into_version_1();
        }
        expected.finalized = finalized;
        let names = match layout {
            Layout::Dense => ["data", "(unused)", "(unused)"],
            Layout::Csr => ["row pointers", "column indices", "values"],
        };
        for (k, name) in names.iter().enumerate() {
            let stored = Section {
                offset: u64_at(64 + 16 * k),
                bytes: u64_at(72 + 16 * k),
            };
            let want = expected.sections[k];
            if stored != want {
                return Err(corrupt(format!(
                    "section {k} ({name}) is at offset {} with {} bytes, but a {} {}×{} matrix{} \
                     needs offset {} and {} bytes",
                    stored.offset,
                    stored.bytes,
                    layout.name(),
                    rows,
                    cols,
                    match layout {
                        Layout::Dense => format!(" (ld {ld})"),
                        Layout::Csr => format!(" ({nnz} entries, {index_bits}-bit indices)"),
                    },
                    want.offset,
                    want.bytes
                )));
            }
        }
        if version == FORMAT_VERSION {
            let block = u64_at(120);
            if block != CHECKSUM_BLOCK {
                return Err(corrupt(format!(
                    "checksum block size {block} bytes, but format version {FORMAT_VERSION} \
                     uses {CHECKSUM_BLOCK}"
                )));
            }
            let stored = Section {
                offset: u64_at(128),
                bytes: u64_at(136),
            };
            if stored != expected.checksum_table {
                return Err(corrupt(format!(
                    "the checksum table is at offset {} with {} bytes, but this matrix needs \
                     offset {} and {} bytes",
                    stored.offset,
                    stored.bytes,
                    expected.checksum_table.offset,
                    expected.checksum_table.bytes
                )));
            }
            let crc = u64_at(144);
            expected.table_crc = u32::try_from(crc)
                .map_err(|_| corrupt(format!("checksum table CRC {crc:#x} is not 32-bit")))?;
        }
        let stored_len = u64_at(112);
        if stored_len != expected.file_len {
            return Err(corrupt(format!(
                "the header records a file length of {stored_len} bytes, but its sections end at {}",
                expected.file_len
            )));
        }
        if file_len != expected.file_len {
            return Err(corrupt(format!(
                "the file is {file_len} bytes long but its header describes {} bytes ({})",
                expected.file_len,
                if file_len < expected.file_len {
                    "truncated"
                } else {
                    "extra bytes at the end"
                }
            )));
        }
        Ok(expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_sections_are_page_aligned() {
        let mut h = Header::csr(ScalarKind::Complex, 64, 10, 7, 30).unwrap();
        assert_eq!(h.sections[0].offset, 4096);
        assert_eq!(h.sections[1].offset, 8192);
        assert_eq!(h.sections[2].offset, 12288);
        let data_end = 12288 + 30 * 16;
        assert_eq!(
            h.checksum_table,
            Section {
                offset: 16384,
                bytes: 4
            }
        );
        assert_eq!(h.file_len, 16384 + 4);
        assert_eq!(h.checksummed_range(), 4096..16384);
        h.finalized = true;
        h.table_crc = 0xdead_beef;
        assert_eq!(Header::decode(&h.encode(), h.file_len).unwrap(), h);
        let mut d = Header::dense(ScalarKind::Real, 5, 3, 8).unwrap();
        d.finalized = true;
        assert_eq!(d.file_len, 8192 + 4);
        assert_eq!(Header::decode(&d.encode(), d.file_len).unwrap(), d);
        // version 1: no table, the file ends with the data
        let v1 = h.clone().into_version_1();
        assert_eq!(v1.file_len, data_end);
        assert!(!v1.is_checksummed());
        let bytes = v1.encode();
        assert!(bytes[HEADER_BYTES_V1..].iter().all(|&b| b == 0));
        assert_eq!(Header::decode(&bytes, data_end).unwrap(), v1);
    }

    #[test]
    fn damage_is_named() {
        let mut h = Header::dense(ScalarKind::Real, 5, 3, 8).unwrap();
        h.finalized = true;
        let good = h.encode();
        let mut b = good;
        b[33] ^= 1;
        let e = Header::decode(&b, h.file_len).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::CorruptFile);
        assert!(e.message().contains("checksum mismatch"), "{e}");
        assert!(
            Header::decode(&good, h.file_len - 1)
                .unwrap_err()
                .message()
                .contains("truncated")
        );
        assert!(
            Header::dense(ScalarKind::Real, u64::MAX, 2, u64::MAX).is_err(),
            "overflow is refused"
        );
    }
}
