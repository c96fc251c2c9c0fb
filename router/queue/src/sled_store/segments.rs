//! Small payloads live in append-only segment files, not in sled (docs/queue.md §16).
//!
//! sled's cost grows with every byte it logs and every leaf it rewrites: a 4 KiB payload in the
//! `payloads` tree costs about a fifth of the store's CPU per message (lifecycle bench) and
//! makes the log that sled replays at open several times longer. Here a payload is written
//! once, into `<dir>/segments/<id:016x>.seg`, and `payloads` holds a checked pointer.
//!
//! Ordering, which makes a 202 imply the bytes are durable:
//! 1. the appender thread writes a batch of frames to the active segment and `fdatasync`s it
//!    (a new segment file also gets its directory synced) **before** any of the batch's
//!    pointers exists;
//! 2. the writer stores the pointers (and the segment's live count, tree `segments`) in the
//!    enqueue transaction; the flusher makes that durable as before.
//!
//! A pointer can therefore never reach the disk before its bytes. A segment file is removed
//! in two steps: a sweep that finds it inactive, without appends in flight and without a
//! committed live count takes a fresh ticket; a later sweep removes the file once that ticket
//! is durable and the count is still absent, so the removal of its last pointer can no longer
//! be undone by a crash. `open` removes every segment file without a live count (bytes of
//! enqueues that never committed, or a removal a crash interrupted) and creates a new active
//! segment with a higher id.

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use bytes::Bytes;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::sync_watch::SyncWatch;
use crate::api::StoreError;

pub(crate) const DIR: &str = "segments";

const MAGIC: &[u8; 4] = b"XQS1";
/// magic ‖ message id ‖ payload length (u64 LE) ‖ CRC32 of the payload (u32 LE).
const HEADER: usize = 4 + 16 + 8 + 4;

/// Appends merged into one write and one `fdatasync` at most.
const MAX_BATCH: usize = 256;
const MAX_BATCH_BYTES: usize = 8 << 20;

/// Why a segment cannot serve a payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SegmentError {
    #[error("segment {seg:016x} holding {id} is missing")]
    Missing { id: Uuid, seg: u64 },
    #[error("segment {seg:016x} ends before the payload of {id} at offset {offset}")]
    Truncated { id: Uuid, seg: u64, offset: u64 },
    #[error("segment {seg:016x} at offset {offset} does not hold the payload of {id}")]
    Frame { id: Uuid, seg: u64, offset: u64 },
    #[error("payload of {id} in segment {seg:016x} fails its checksum")]
    Checksum { id: Uuid, seg: u64 },
    #[error("segment {seg:016x}: {message}")]
    Io { seg: u64, message: String },
}

/// Where a payload was appended. Holding it keeps the segment from being removed (it counts
/// as an append on its way to the writer); drop it once the enqueue committed or failed.
#[derive(Debug)]
pub(crate) struct SegRef {
    shared: Arc<Shared>,
    pub(crate) seg: u64,
    pub(crate) offset: u64,
    pub(crate) len: u64,
    pub(crate) crc: u32,
}

impl Drop for SegRef {
    fn drop(&mut self) {
        let mut st = self.shared.state();
        if let Some(n) = st.inflight.get_mut(&self.seg) {
            *n -= 1;
            if *n == 0 {
                st.inflight.remove(&self.seg);
            }
        }
    }
}

struct Append {
    id: Uuid,
    payload: Bytes,
    reply: oneshot::Sender<Result<SegRef, StoreError>>,
}

#[derive(Debug, Default)]
struct State {
    /// The segment the appender writes to; never removed.
    active: Option<u64>,
    /// Appends handed out and not yet committed or dropped, per segment.
    inflight: HashMap<u64, usize>,
    /// Segments that may have no live pointer any more (their count reached zero, or they
    /// stopped being active), with the ticket taken after their count was last seen absent.
    candidates: HashMap<u64, Option<u64>>,
    /// Open read handles.
    readers: HashMap<u64, Arc<File>>,
    /// Segments this process removed: a handle opened just before the removal is used once,
    /// never cached (it would keep the file's space until the store closes).
    removed: std::collections::HashSet<u64>,
}

#[derive(Debug)]
struct Shared {
    dir: PathBuf,
    max_bytes: u64,
    state: Mutex<State>,
    syncs: Arc<SyncWatch>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn path(&self, seg: u64) -> PathBuf {
        self.dir.join(format!("{seg:016x}.seg"))
    }
}

/// The segment files of one store and the thread that appends to them.
#[derive(Debug)]
pub(crate) struct Segments {
    shared: Arc<Shared>,
    tx: Mutex<Option<Sender<Append>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

fn parse_name(name: &str) -> Option<u64> {
    let hex = name.strip_suffix(".seg")?;
    if hex.len() != 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

fn io_err(seg: u64) -> impl Fn(io::Error) -> SegmentError {
    move |e| SegmentError::Io {
        seg,
        message: e.to_string(),
    }
}

impl Segments {
    /// Opens the segment directory, removes every segment not in `live` and starts the
    /// appender. Returns the segments and how many files were removed. `live = None` (the
    /// counts could not all be read) removes nothing.
    pub(crate) fn open(
        store_dir: &Path,
        max_bytes: u64,
        live: Option<&BTreeSet<u64>>,
        syncs: Arc<SyncWatch>,
    ) -> io::Result<(Segments, usize)> {
        let dir = store_dir.join(DIR);
        fs::create_dir_all(&dir)?;
        File::open(store_dir)?.sync_all()?;
        let mut removed = 0;
        let mut last = live.and_then(|l| l.last()).copied().unwrap_or(0);
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let Some(seg) = parse_name(&entry.file_name().to_string_lossy()) else {
                continue;
            };
            last = last.max(seg);
            if live.is_some_and(|l| !l.contains(&seg)) {
                fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        let shared = Arc::new(Shared {
            dir,
            max_bytes: max_bytes.max(1),
            state: Mutex::new(State::default()),
            syncs,
        });
        // The next segment exists (and its name is synced, with any removal above) before the
        // first append: a crash before that append cannot hand its id out twice.
        let mut appender = Appender::new(Arc::clone(&shared), last + 1);
        appender.rotate()?;
        let (tx, rx) = channel();
        let thread = std::thread::Builder::new()
            .name("xoev-queue-segments".into())
            .spawn(move || appender.run(&rx))?;
        Ok((
            Segments {
                shared,
                tx: Mutex::new(Some(tx)),
                thread: Mutex::new(Some(thread)),
            },
            removed,
        ))
    }

    /// Appends `payload` durably (written and synced when this resolves).
    pub(crate) async fn append(&self, id: Uuid, payload: Bytes) -> Result<SegRef, StoreError> {
        let (reply, rx) = oneshot::channel();
        {
            let guard = self.tx.lock().unwrap_or_else(|e| e.into_inner());
            let sender = guard.as_ref().ok_or(StoreError::Closed)?;
            sender
                .send(Append { id, payload, reply })
                .map_err(|_| StoreError::Closed)?;
        }
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Reads and checks the payload of `id` at `offset` of segment `seg`.
    pub(crate) fn read(
        &self,
        id: Uuid,
        seg: u64,
        offset: u64,
        len: u64,
        crc: u32,
    ) -> Result<Bytes, SegmentError> {
        let file = self.reader(id, seg)?;
        let total = usize::try_from(len)
            .ok()
            .and_then(|l| l.checked_add(HEADER))
            .ok_or(SegmentError::Frame { id, seg, offset })?;
        let mut buf = vec![0u8; total];
        match file.read_exact_at(&mut buf, offset) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(SegmentError::Truncated { id, seg, offset });
            }
            Err(e) => return Err(io_err(seg)(e)),
        }
        let (header, body) = buf.split_at(HEADER);
        if header.get(..4) != Some(MAGIC.as_slice())
            || header.get(4..20) != Some(id.as_bytes().as_slice())
            || header.get(20..28) != Some(len.to_le_bytes().as_slice())
            || header.get(28..32) != Some(crc.to_le_bytes().as_slice())
        {
            return Err(SegmentError::Frame { id, seg, offset });
        }
        if crc32fast::hash(body) != crc {
            return Err(SegmentError::Checksum { id, seg });
        }
        buf.drain(..HEADER);
        Ok(Bytes::from(buf))
    }

    fn reader(&self, id: Uuid, seg: u64) -> Result<Arc<File>, SegmentError> {
        if let Some(f) = self.shared.state().readers.get(&seg) {
            return Ok(Arc::clone(f));
        }
        // Opened without the lock (which a sled transaction may be waiting for, through this
        // very read); cached only if no sweep removed the file meanwhile.
        let f = match File::open(self.shared.path(seg)) {
            Ok(f) => Arc::new(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(SegmentError::Missing { id, seg });
            }
            Err(e) => return Err(io_err(seg)(e)),
        };
        let mut st = self.shared.state();
        if !st.removed.contains(&seg) {
            st.readers.insert(seg, Arc::clone(&f));
        }
        Ok(f)
    }

    /// A transaction took these segments' live counts to zero: they may be removable. (Only
    /// a hint: the sweep decides on the committed counts, since transactions off the writer
    /// report in an order that may differ from their commit order.)
    pub(crate) fn zeroed(&self, segs: &[u64]) {
        if segs.is_empty() {
            return;
        }
        let mut st = self.shared.state();
        for seg in segs {
            st.candidates.entry(*seg).or_insert(None);
        }
    }

    /// Removes segment files nothing points into, in two steps. A candidate that is not
    /// active, has no append in flight and no committed live count (`is_live`) gets a ticket
    /// from `take_ticket`, taken after that check; a later sweep removes it once `durable`
    /// covers that ticket and the count is still absent. Such a segment can never get a new
    /// pointer (only the active segment is appended to, and every pointer comes from an
    /// append), and once the ticket is durable the transaction that removed its last pointer
    /// is durable too. A candidate with a live count stops being one.
    pub(crate) fn sweep(
        &self,
        durable: u64,
        is_live: impl Fn(u64) -> bool,
        take_ticket: impl Fn() -> u64,
    ) {
        // The lock is never held across `is_live` (a sled read): a transaction holding sled's
        // lock may be waiting for this one in `reader`.
        // A candidate still waiting for its ticket has nothing to decide yet: skipped without
        // a sled read (the writer sweeps after every commit).
        let ready: Vec<(u64, Option<u64>)> = {
            let st = self.shared.state();
            st.candidates
                .iter()
                .filter(|(seg, t)| {
                    st.active != Some(**seg)
                        && !st.inflight.contains_key(*seg)
                        && !t.is_some_and(|t| t > durable)
                })
                .map(|(seg, t)| (*seg, *t))
                .collect()
        };
        for (seg, ticket) in ready {
            if is_live(seg) {
                self.shared.state().candidates.remove(&seg);
                continue;
            }
            match ticket {
                None => {
                    let t = take_ticket();
                    self.shared.state().candidates.insert(seg, Some(t));
                }
                Some(_) => {
                    {
                        let mut st = self.shared.state();
                        st.candidates.remove(&seg);
                        st.readers.remove(&seg);
                        st.removed.insert(seg);
                    }
                    if let Err(e) = fs::remove_file(self.shared.path(seg))
                        && e.kind() != io::ErrorKind::NotFound
                    {
                        tracing::warn!(segment = seg, error = %e, "cannot remove an unused payload segment; it is removed at the next open");
                    }
                }
            }
        }
    }

    /// Whether `seg` is the segment being appended to.
    pub(crate) fn is_active(&self, seg: u64) -> bool {
        self.shared.state().active == Some(seg)
    }

    /// Whether segment `seg`'s file exists (consistency check).
    pub(crate) fn exists(&self, seg: u64) -> bool {
        self.shared.path(seg).exists()
    }

    /// Lets the appender finish what it was given, then stops it. Blocking; idempotent.
    pub(crate) fn stop(&self) {
        drop(self.tx.lock().unwrap_or_else(|e| e.into_inner()).take());
        if let Some(t) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
    }
}

impl Drop for Segments {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Active {
    id: u64,
    file: File,
    len: u64,
}

struct Appender {
    shared: Arc<Shared>,
    next: u64,
    active: Option<Active>,
}

impl Appender {
    fn new(shared: Arc<Shared>, next: u64) -> Self {
        Appender {
            shared,
            next,
            active: None,
        }
    }

    fn run(mut self, rx: &Receiver<Append>) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            let mut bytes = batch[0].payload.len();
            while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
                match rx.try_recv() {
                    Ok(a) => {
                        bytes += a.payload.len();
                        batch.push(a);
                    }
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            }
            self.write_batch(batch);
        }
    }

    fn write_batch(&mut self, batch: Vec<Append>) {
        let mut buf = Vec::with_capacity(batch.iter().map(|a| HEADER + a.payload.len()).sum());
        let mut frames = Vec::with_capacity(batch.len());
        for a in &batch {
            let crc = crc32fast::hash(&a.payload);
            frames.push((buf.len() as u64, crc));
            buf.extend_from_slice(MAGIC);
            buf.extend_from_slice(a.id.as_bytes());
            buf.extend_from_slice(&(a.payload.len() as u64).to_le_bytes());
            buf.extend_from_slice(&crc.to_le_bytes());
            buf.extend_from_slice(&a.payload);
        }
        let shared = Arc::clone(&self.shared);
        let watched = shared.syncs.start("a payload segment");
        let written = self.write_synced(&buf);
        drop(watched);
        match written {
            Ok((seg, base)) => {
                // Counted before any reference exists, while `seg` is active (not removable).
                *self.shared.state().inflight.entry(seg).or_default() += batch.len();
                for (a, (rel, crc)) in batch.into_iter().zip(frames) {
                    let r = SegRef {
                        shared: Arc::clone(&self.shared),
                        seg,
                        offset: base + rel,
                        len: a.payload.len() as u64,
                        crc,
                    };
                    let _ = a.reply.send(Ok(r));
                }
            }
            Err(e) => {
                tracing::error!(message = "Cannot write a payload segment.", error = %e);
                // After a failed write or sync the file's state is unknown: start a new one.
                if let Some(a) = self.active.take() {
                    self.shared.state().candidates.entry(a.id).or_insert(None);
                }
                self.shared.state().active = None;
                for a in batch {
                    let _ = a.reply.send(Err(StoreError::Storage(format!(
                        "cannot write the payload: {e}"
                    ))));
                }
            }
        }
    }

    /// Writes `buf` at the end of the active segment (rotating first when it is full) and
    /// syncs it. Returns the segment and the offset `buf` starts at.
    fn write_synced(&mut self, buf: &[u8]) -> io::Result<(u64, u64)> {
        let full = self
            .active
            .as_ref()
            .is_none_or(|a| a.len > 0 && a.len + buf.len() as u64 > self.shared.max_bytes);
        if full {
            self.rotate()?;
        }
        let a = self
            .active
            .as_mut()
            .ok_or_else(|| io::Error::other("no segment"))?;
        a.file.write_all_at(buf, a.len)?;
        a.file.sync_data()?;
        let base = a.len;
        a.len += buf.len() as u64;
        Ok((a.id, base))
    }

    fn rotate(&mut self) -> io::Result<()> {
        let id = self.next;
        self.next += 1;
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.shared.path(id))?;
        File::open(&self.shared.dir)?.sync_all()?;
        let previous = self.active.replace(Active { id, file, len: 0 });
        let mut st = self.shared.state();
        st.active = Some(id);
        // The previous segment may hold only bytes nothing points to (refused or duplicate
        // enqueues): the sweep decides on its committed count.
        if let Some(p) = previous {
            st.candidates.entry(p.id).or_insert(None);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends `len` bytes for message `n`.
    async fn put(s: &Segments, n: u8, len: usize) -> SegRef {
        s.append(Uuid::from_u128(n.into()), Bytes::from(vec![n; len]))
            .await
            .unwrap()
    }

    fn open(dir: &Path, max: u64, live: &[u64]) -> (Segments, usize) {
        let live = live.iter().copied().collect();
        Segments::open(dir, max, Some(&live), Arc::default()).unwrap()
    }

    #[tokio::test]
    async fn an_appended_payload_reads_back_byte_identical() {
        let tmp = tempfile::tempdir().unwrap();
        let (s, _) = open(tmp.path(), 1 << 20, &[]);
        let id = Uuid::from_u128(1);
        let r = s
            .append(id, Bytes::from_static(b"payload \xc3\x9f"))
            .await
            .unwrap();
        assert_eq!(
            s.read(id, r.seg, r.offset, r.len, r.crc).unwrap(),
            Bytes::from_static(b"payload \xc3\x9f")
        );
    }

    #[tokio::test]
    async fn a_changed_byte_a_wrong_id_or_a_short_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let (s, _) = open(tmp.path(), 1 << 20, &[]);
        let id = Uuid::from_u128(2);
        let r = s
            .append(id, Bytes::from_static(b"0123456789"))
            .await
            .unwrap();
        let other = Uuid::from_u128(3);
        assert_eq!(
            s.read(other, r.seg, r.offset, r.len, r.crc),
            Err(SegmentError::Frame {
                id: other,
                seg: r.seg,
                offset: r.offset
            })
        );
        let path = tmp.path().join(DIR).join(format!("{:016x}.seg", r.seg));
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(&path, &bytes).unwrap();
        s.shared.state().readers.clear();
        assert_eq!(
            s.read(id, r.seg, r.offset, r.len, r.crc),
            Err(SegmentError::Checksum { id, seg: r.seg })
        );
        fs::write(&path, &bytes[..10]).unwrap();
        assert_eq!(
            s.read(id, r.seg, r.offset, r.len, r.crc),
            Err(SegmentError::Truncated {
                id,
                seg: r.seg,
                offset: r.offset
            })
        );
        fs::remove_file(&path).unwrap();
        s.shared.state().readers.clear();
        assert_eq!(
            s.read(id, r.seg, r.offset, r.len, r.crc),
            Err(SegmentError::Missing { id, seg: r.seg })
        );
    }

    /// Tickets for the sweep's second step, counting up from 100.
    fn tickets() -> impl Fn() -> u64 {
        let next = std::sync::atomic::AtomicU64::new(100);
        move || next.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1
    }

    #[tokio::test]
    async fn a_segment_goes_only_once_a_ticket_taken_after_its_count_was_absent_is_durable() {
        let tmp = tempfile::tempdir().unwrap();
        let (s, _) = open(tmp.path(), 64, &[]);
        let take = tickets();
        let a = put(&s, 1, 40).await;
        let b = put(&s, 2, 40).await;
        assert_ne!(a.seg, b.seg, "the second append does not fit the first one");
        let first = a.seg;
        s.zeroed(&[first]);
        s.sweep(u64::MAX, |_| false, &take);
        assert!(s.exists(first), "an append to it is still in flight");
        drop(a);
        s.sweep(0, |_| false, &take); // takes ticket 101
        s.sweep(100, |_| false, &take);
        assert!(s.exists(first), "its ticket is not durable yet");
        s.sweep(101, |_| false, &take);
        assert!(!s.exists(first));
        let active = b.seg;
        s.zeroed(&[active]);
        drop(b);
        s.sweep(u64::MAX, |_| false, &take);
        s.sweep(u64::MAX, |_| false, &take);
        assert!(s.exists(active), "the active segment is never removed");
        let c = put(&s, 3, 40).await; // b's segment rotates out
        assert_ne!(c.seg, active);
        let second = c.seg - 1;
        s.sweep(u64::MAX, |_| true, &take);
        s.sweep(u64::MAX, |_| false, &take);
        s.sweep(u64::MAX, |_| false, &take);
        assert!(
            s.exists(second),
            "a committed live count ends the candidacy"
        );
    }

    #[tokio::test]
    async fn a_rotated_out_segment_nothing_points_into_is_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let (s, _) = open(tmp.path(), 64, &[]);
        let take = tickets();
        let a = put(&s, 1, 40).await;
        let orphan = a.seg;
        drop(a); // refused or a duplicate: never counted
        let _b = put(&s, 2, 40).await;
        s.sweep(u64::MAX, |_| false, &take);
        assert!(s.exists(orphan), "first the ticket");
        s.sweep(u64::MAX, |_| false, &take);
        assert!(!s.exists(orphan));
    }

    #[tokio::test]
    async fn open_removes_segments_without_a_live_count_and_never_reuses_an_id() {
        let tmp = tempfile::tempdir().unwrap();
        let (s, _) = open(tmp.path(), 64, &[]);
        let a = put(&s, 1, 40).await;
        let b = put(&s, 2, 40).await;
        let (kept, orphan) = (a.seg, b.seg);
        drop((a, b));
        s.stop();
        drop(s);
        let (s, removed) = open(tmp.path(), 64, &[kept]);
        assert_eq!(removed, 1);
        assert!(s.exists(kept) && !s.exists(orphan));
        let c = put(&s, 3, 8).await;
        assert!(c.seg > orphan, "segment ids keep increasing");
    }
}
