//! The writes to one file since its last `fsync`: what a power cut takes away.
//!
//! A file's content as programs see it is the backing file (the durable bytes) with these
//! changes applied in order. `fsync` applies them to the backing file; a power cut drops them.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// One change not yet synced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    Write { offset: u64, data: Vec<u8> },
    SetLen(u64),
}

/// The unsynced changes of one file, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Unsynced {
    changes: Vec<Change>,
    bytes: u64,
}

impl Unsynced {
    pub(crate) fn push(&mut self, change: Change) {
        if let Change::Write { data, .. } = &change {
            self.bytes += data.len() as u64;
        }
        self.changes.push(change);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Changes held and the bytes they write.
    pub(crate) fn size(&self) -> (u64, u64) {
        (self.changes.len() as u64, self.bytes)
    }

    /// Drops every change (power cut, or the file was unlinked or replaced).
    pub(crate) fn clear(&mut self) {
        self.changes.clear();
        self.bytes = 0;
    }

    /// The file's length as programs see it, given the durable length.
    pub(crate) fn len(&self, durable_len: u64) -> u64 {
        self.changes.iter().fold(durable_len, |len, c| match c {
            Change::Write { offset, data } => len.max(offset + data.len() as u64),
            Change::SetLen(l) => *l,
        })
    }

    /// Reads `size` bytes at `offset` as programs see them. `durable` reads the backing file
    /// (whose length is `durable_len`) into the buffer it is given.
    pub(crate) fn read(
        &self,
        offset: u64,
        size: u64,
        durable_len: u64,
        durable: impl FnOnce(&mut [u8], u64) -> io::Result<()>,
    ) -> io::Result<Vec<u8>> {
        let end = offset.saturating_add(size).min(self.len(durable_len));
        if offset >= end {
            return Ok(Vec::new());
        }
        let mut buf = vec![0u8; to_usize(end - offset)?];
        let durable_end = end.min(durable_len);
        if offset < durable_end {
            durable(&mut buf[..to_usize(durable_end - offset)?], offset)?;
        }
        for change in &self.changes {
            match change {
                Change::Write { offset: at, data } => {
                    let from = offset.max(*at);
                    let to = end.min(at + data.len() as u64);
                    if from < to {
                        let dst = to_usize(from - offset)?..to_usize(to - offset)?;
                        let src = to_usize(from - at)?..to_usize(to - at)?;
                        buf[dst].copy_from_slice(&data[src]);
                    }
                }
                // Bytes past a truncation read as zeros if the file grows again.
                Change::SetLen(l) if *l < end => {
                    let from = to_usize(offset.max(*l) - offset)?;
                    buf[from..].fill(0);
                }
                Change::SetLen(_) => {}
            }
        }
        Ok(buf)
    }

    /// `fsync`: writes the changes to the backing file in order and forgets them.
    pub(crate) fn apply(&mut self, file: &File) -> io::Result<()> {
        for change in &self.changes {
            match change {
                Change::Write { offset, data } => file.write_all_at(data, *offset)?,
                Change::SetLen(l) => file.set_len(*l)?,
            }
        }
        self.clear();
        Ok(())
    }
}

fn to_usize(n: u64) -> io::Result<usize> {
    usize::try_from(n).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn durable(content: &'static [u8]) -> impl Fn(&mut [u8], u64) -> io::Result<()> {
        move |buf: &mut [u8], at: u64| {
            let at = at as usize;
            buf.copy_from_slice(&content[at..at + buf.len()]);
            Ok(())
        }
    }

    fn write(offset: u64, data: &[u8]) -> Change {
        Change::Write {
            offset,
            data: data.to_vec(),
        }
    }

    #[test]
    fn a_file_without_changes_reads_its_durable_bytes() {
        let u = Unsynced::default();
        assert_eq!(
            u.read(1, 3, 5, durable(b"hello")).ok(),
            Some(b"ell".to_vec())
        );
        assert_eq!(u.read(4, 9, 5, durable(b"hello")).ok(), Some(b"o".to_vec()));
        assert_eq!(u.read(5, 9, 5, durable(b"hello")).ok(), Some(Vec::new()));
    }

    #[test]
    fn unsynced_writes_overlay_the_durable_bytes_in_order_and_extend_the_file() {
        let mut u = Unsynced::default();
        u.push(write(3, b"XYZ"));
        u.push(write(4, b"q"));
        assert_eq!(u.len(5), 6);
        assert_eq!(
            u.read(0, 100, 5, durable(b"hello")).ok(),
            Some(b"helXqZ".to_vec())
        );
        assert_eq!(u.size(), (2, 4));
    }

    #[test]
    fn a_gap_past_the_end_reads_as_zeros() {
        let mut u = Unsynced::default();
        u.push(write(7, b"!"));
        assert_eq!(
            u.read(0, 100, 5, durable(b"hello")).ok(),
            Some(b"hello\0\0!".to_vec())
        );
    }

    #[test]
    fn a_truncation_hides_the_bytes_behind_it_even_when_the_file_grows_again() {
        let mut u = Unsynced::default();
        u.push(Change::SetLen(2));
        assert_eq!(
            u.read(0, 100, 5, durable(b"hello")).ok(),
            Some(b"he".to_vec())
        );
        u.push(write(4, b"!"));
        assert_eq!(
            u.read(0, 100, 5, durable(b"hello")).ok(),
            Some(b"he\0\0!".to_vec())
        );
    }

    #[test]
    fn applying_writes_the_same_bytes_that_were_read_and_empties_the_list() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello").expect("write");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .expect("open");
        let mut u = Unsynced::default();
        u.push(write(3, b"XYZ"));
        u.push(Change::SetLen(5));
        u.push(write(6, b"!"));
        let seen = u.read(0, 100, 5, durable(b"hello")).ok();
        assert!(u.apply(&file).is_ok());
        assert!(u.is_empty());
        assert_eq!(std::fs::read(&path).ok(), seen);
        assert_eq!(seen, Some(b"helXY\0!".to_vec()));
    }
}
