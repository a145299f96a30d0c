//! The trace header: magic and version first, so that a file that is not
//! a trace, or is from another format version, gets that error before
//! anything else is read; then the checksummed, bincode-encoded `Header`.
//!
//! A module of its own because the header is read before any chunk and
//! nothing can be recovered without it: every problem here is an error,
//! never a truncation.

use crate::codec;
use crate::error::FormatError;
use crate::model::Header;

use super::scan::{le_u32, Scanner};

impl Scanner<'_> {
    /// Checks magic and version (before anything else), then decodes the
    /// header. Returns it and the offset of the first chunk.
    pub(super) fn read_header(&self) -> Result<(Header, usize), FormatError> {
        let data = self.data;
        let truncated = |problem: String| FormatError::TruncatedHeader {
            file: self.file.to_string(),
            offset: data.len() as u64,
            problem,
        };
        let magic_len = codec::MAGIC.len();
        let head = &data[..data.len().min(magic_len)];
        if head != &codec::MAGIC[..head.len()] {
            return Err(FormatError::BadMagic {
                file: self.file.to_string(),
                offset: 0,
                found: codec::escape_bytes(head),
            });
        }
        if data.len() < magic_len + 4 {
            return Err(truncated(format!(
                "file is {} bytes long, too short for a trace header",
                data.len()
            )));
        }
        let version = le_u32(&data[magic_len..]);
        if !(crate::model::OLDEST_READABLE_VERSION..=crate::model::FORMAT_VERSION)
            .contains(&version)
        {
            return Err(FormatError::UnsupportedVersion {
                file: self.file.to_string(),
                offset: magic_len as u64,
                version,
                oldest: crate::model::OLDEST_READABLE_VERSION,
                supported: crate::model::FORMAT_VERSION,
            });
        }
        if data.len() < codec::HEADER_PREFIX_LEN {
            return Err(truncated(format!(
                "file is {} bytes long, too short for a trace header",
                data.len()
            )));
        }
        let len = le_u32(&data[12..]) as usize;
        let stored = le_u32(&data[16..]);
        let start = codec::HEADER_PREFIX_LEN;
        let Some(body) = data.get(start..start + len) else {
            return Err(truncated(format!(
                "header needs {len} bytes, {} present",
                data.len() - start
            )));
        };
        let corrupt = |problem: String| FormatError::CorruptHeader {
            file: self.file.to_string(),
            offset: start as u64,
            problem,
        };
        let computed = crc32fast::hash(body);
        if computed != stored {
            return Err(corrupt(format!(
                "checksum mismatch: stored {stored:08x}, computed {computed:08x}"
            )));
        }
        let (header, used): (Header, usize) = codec::decode_bounded(body, codec::STRINGS_ONLY)
            .map_err(|e| corrupt(format!("cannot decode: {e}")))?;
        if used != len {
            return Err(corrupt(format!(
                "{} unused bytes after the header",
                len - used
            )));
        }
        if header.format_version != version {
            return Err(corrupt(format!(
                "header says format version {}, file prefix says {version}",
                header.format_version
            )));
        }
        Ok((header, start + len))
    }
}
