//! The FUSE file system: a pass-through over a backing directory that holds every write in
//! memory until the file is `fsync`ed, and on a power cut drops what was not synced and
//! answers every later request with `EIO`.
//!
//! The model (docs in `load-tests/chaos/README.md`, "power-loss"):
//! - file data (write, truncate) is durable only after an `fsync`/`fdatasync` of that file;
//!   closing a file does not make it durable; `sync_file_range` never reaches a FUSE file
//!   system, so it makes nothing durable either;
//! - names (create, mkdir, rename, unlink, rmdir) are durable only after an `fsync` of the
//!   directory holding them (both directories for a rename), as POSIX says; a cut undoes the
//!   others (`names.rs`). Some file systems (ext4) also persist a new file's name with the
//!   file's own `fsync`; this model does not, so it is stricter than they are;
//! - `fsync` writes the changes to the backing file without syncing it: the host does not
//!   lose power, only the file system above it does.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, UNIX_EPOCH};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, LockOwner,
    OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty,
    ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow, WriteFlags,
};

use super::names::Names;
use super::unsynced::{Change, Unsynced};

/// Attributes and names are never cached by the kernel: sizes change under it.
const TTL: Duration = Duration::ZERO;

/// Counters of one mount (`PowerCutDisk::stats`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DiskStats {
    pub writes: u64,
    pub fsyncs: u64,
    /// Changes (writes, truncations) a power cut dropped, and the bytes they wrote.
    pub changes_lost: u64,
    pub bytes_lost: u64,
    /// Files that lost at least one change in a power cut.
    pub files_hit: u64,
    /// Changes a power cut dropped, by the first component of the file's path (`""` for a
    /// file that no longer had a name), so a caller can tell whose writes were at stake.
    pub lost_under: BTreeMap<String, u64>,
    /// `fsync`/`fdatasync` calls of files, by the first component of the file's path.
    pub synced_under: BTreeMap<String, u64>,
    /// `fsync`/`fdatasync` calls answered with `EIO` after `PowerCutDisk::fail_fsyncs`.
    pub fsyncs_failed: u64,
    /// `fsync`/`fdatasync` calls held back after `PowerCutDisk::hang_fsyncs`.
    pub fsyncs_held: u64,
    /// Name changes (create, rename, unlink, ...) a power cut undid: their directory had not
    /// been synced since.
    pub names_undone: u64,
    /// The first undo that failed (the model then no longer holds: a finding).
    pub undo_error: Option<String>,
}

#[derive(Debug)]
struct Node {
    /// Relative to the backing root; `None` once unlinked.
    path: Option<PathBuf>,
    unsynced: Unsynced,
}

/// A sync held back by `hang_fsyncs`: its caller waits until `release_fsyncs` answers it.
#[derive(Debug)]
enum Held {
    File {
        ino: u64,
        fh: u64,
        reply: ReplyEmpty,
    },
    Dir {
        ino: u64,
        reply: ReplyEmpty,
    },
}

#[derive(Debug)]
pub(crate) struct State {
    root: PathBuf,
    nodes: HashMap<u64, Node>,
    by_path: HashMap<PathBuf, u64>,
    next_ino: u64,
    /// Open files: file handle → (inode, backing file).
    files: HashMap<u64, (u64, File)>,
    next_fh: u64,
    names: Names,
    cut: bool,
    /// Every `fsync` fails with `EIO` and the file's unsynced changes are gone. Linux marks the
    /// pages clean after a failed writeback ("fsyncgate"), so they may never reach the disk;
    /// it keeps them readable until evicted, this model drops them at once. Everything else
    /// keeps working.
    fsyncs_fail: bool,
    /// Every `fsync` is held unanswered (a device that stopped answering its flushes), while
    /// reads and writes keep working, until `release_fsyncs`.
    fsyncs_hang: bool,
    held: Vec<Held>,
    stats: DiskStats,
}

impl State {
    /// `stash` keeps removed files until their removal is durable (outside `root`).
    pub(crate) fn new(root: PathBuf, stash: PathBuf) -> Self {
        let mut nodes = HashMap::new();
        nodes.insert(
            INodeNo::ROOT.0,
            Node {
                path: Some(PathBuf::new()),
                unsynced: Unsynced::default(),
            },
        );
        let mut by_path = HashMap::new();
        by_path.insert(PathBuf::new(), INodeNo::ROOT.0);
        State {
            names: Names::new(root.clone(), stash),
            root,
            nodes,
            by_path,
            next_ino: INodeNo::ROOT.0 + 1,
            files: HashMap::new(),
            next_fh: 1,
            cut: false,
            fsyncs_fail: false,
            fsyncs_hang: false,
            held: Vec::new(),
            stats: DiskStats::default(),
        }
    }

    pub(crate) fn stats(&self) -> DiskStats {
        self.stats.clone()
    }

    /// The power cut: every unsynced change is gone, and the disk answers nothing any more.
    pub(crate) fn cut(&mut self) -> DiskStats {
        if self.cut {
            return self.stats.clone();
        }
        self.cut = true;
        for held in self.held.drain(..) {
            match held {
                Held::File { reply, .. } | Held::Dir { reply, .. } => reply.error(Errno::EIO),
            }
        }
        let (undone, error) = self.names.undo();
        self.stats.names_undone += undone;
        self.stats.undo_error = error;
        for node in self.nodes.values_mut() {
            if !node.unsynced.is_empty() {
                let (changes, bytes) = node.unsynced.size();
                *self.stats.lost_under.entry(top_dir(node)).or_default() += changes;
                self.stats.changes_lost += changes;
                self.stats.bytes_lost += bytes;
                self.stats.files_hit += 1;
                node.unsynced.clear();
            }
        }
        self.stats.clone()
    }

    /// From now on every `fsync` fails (see the field).
    pub(crate) fn fail_fsyncs(&mut self) {
        self.fsyncs_fail = true;
    }

    /// From now on every `fsync` waits unanswered (see the field).
    pub(crate) fn hang_fsyncs(&mut self) {
        self.fsyncs_hang = true;
    }

    /// Syncs answer again: every held one is carried out now, in the order it came.
    pub(crate) fn release_fsyncs(&mut self) {
        self.fsyncs_hang = false;
        for held in std::mem::take(&mut self.held) {
            match held {
                Held::File { ino, fh, reply } => {
                    match self.live().and_then(|()| self.sync_file(ino, fh)) {
                        Ok(()) => reply.ok(),
                        Err(e) => reply.error(e),
                    }
                }
                Held::Dir { ino, reply } => match self.live().and_then(|()| self.sync_dir(ino)) {
                    Ok(()) => reply.ok(),
                    Err(e) => reply.error(e),
                },
            }
        }
    }

    /// Whether a sync must be held back now (and counts it).
    fn hold(&mut self) -> bool {
        let hold = self.fsyncs_hang && !self.cut;
        if hold {
            self.stats.fsyncs_held += 1;
        }
        hold
    }

    /// `fsync`/`fdatasync` of an open file: its unsynced changes reach the backing file.
    fn sync_file(&mut self, ino: u64, fh: u64) -> Result<(), Errno> {
        let (_, file) = self.files.get(&fh).ok_or(Errno::EBADF)?;
        let node = self.nodes.get_mut(&ino).ok_or(Errno::ENOENT)?;
        if self.fsyncs_fail {
            node.unsynced.clear();
            self.stats.fsyncs_failed += 1;
            return Err(Errno::EIO);
        }
        node.unsynced.apply(file).map_err(Errno::from)?;
        self.stats.fsyncs += 1;
        *self.stats.synced_under.entry(top_dir(node)).or_default() += 1;
        Ok(())
    }

    /// `fsync` of a directory: its name changes become durable.
    fn sync_dir(&mut self, ino: u64) -> Result<(), Errno> {
        if self.fsyncs_fail {
            self.stats.fsyncs_failed += 1;
            return Err(Errno::EIO);
        }
        let rel = self.rel(INodeNo(ino))?;
        self.names.synced_dir(&rel);
        self.stats.fsyncs += 1;
        Ok(())
    }

    fn live(&self) -> Result<(), Errno> {
        if self.cut { Err(Errno::EIO) } else { Ok(()) }
    }

    fn rel(&self, ino: INodeNo) -> Result<PathBuf, Errno> {
        self.nodes
            .get(&ino.0)
            .and_then(|n| n.path.clone())
            .ok_or(Errno::ENOENT)
    }

    fn child(&self, parent: INodeNo, name: &OsStr) -> Result<PathBuf, Errno> {
        Ok(self.rel(parent)?.join(name))
    }

    fn full(&self, rel: &Path) -> PathBuf {
        self.root.join(rel)
    }

    fn ino_for(&mut self, rel: &Path) -> u64 {
        if let Some(ino) = self.by_path.get(rel) {
            return *ino;
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        self.nodes.insert(
            ino,
            Node {
                path: Some(rel.to_path_buf()),
                unsynced: Unsynced::default(),
            },
        );
        self.by_path.insert(rel.to_path_buf(), ino);
        ino
    }

    /// The name `rel` is gone (unlinked, or replaced by a rename). Its node keeps its unsynced
    /// changes: a process holding the file open still reads them and may `fsync` them into the
    /// stashed file, which comes back if the cut undoes the removal.
    fn forget_path(&mut self, rel: &Path) {
        if let Some(ino) = self.by_path.remove(rel)
            && let Some(node) = self.nodes.get_mut(&ino)
        {
            node.path = None;
        }
    }

    fn attr(&self, ino: u64, meta: &Metadata) -> FileAttr {
        let size = match self.nodes.get(&ino) {
            Some(n) if !n.unsynced.is_empty() => n.unsynced.len(meta.len()),
            _ => meta.len(),
        };
        let time = |secs: i64, nanos: i64| {
            let secs = u64::try_from(secs).unwrap_or(0);
            let nanos = u32::try_from(nanos).unwrap_or(0);
            UNIX_EPOCH + Duration::new(secs, nanos)
        };
        FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: time(meta.atime(), meta.atime_nsec()),
            mtime: time(meta.mtime(), meta.mtime_nsec()),
            ctime: time(meta.ctime(), meta.ctime_nsec()),
            crtime: UNIX_EPOCH,
            kind: kind(meta),
            perm: (meta.mode() & 0o7777) as u16,
            nlink: u32::try_from(meta.nlink()).unwrap_or(1),
            uid: meta.uid(),
            gid: meta.gid(),
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    fn attr_of(&mut self, rel: &Path) -> Result<FileAttr, Errno> {
        let meta = std::fs::symlink_metadata(self.full(rel)).map_err(Errno::from)?;
        let ino = self.ino_for(rel);
        Ok(self.attr(ino, &meta))
    }

    fn open_backing(&mut self, ino: u64, file: File) -> u64 {
        let fh = self.next_fh;
        self.next_fh += 1;
        self.files.insert(fh, (ino, file));
        fh
    }

    fn file(&self, fh: FileHandle) -> Result<&File, Errno> {
        self.files.get(&fh.0).map(|(_, f)| f).ok_or(Errno::EBADF)
    }

    fn unsynced_mut(&mut self, ino: INodeNo) -> Result<&mut Unsynced, Errno> {
        self.nodes
            .get_mut(&ino.0)
            .map(|n| &mut n.unsynced)
            .ok_or(Errno::ENOENT)
    }
}

/// The first component of a node's path (`""` once it has no name).
fn top_dir(node: &Node) -> String {
    node.path
        .as_ref()
        .and_then(|p| p.components().next())
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn kind(meta: &Metadata) -> FileType {
    FileType::from_std(meta.file_type()).unwrap_or(FileType::RegularFile)
}

fn read_write(full: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).open(full)
}

/// The file system handed to fuser; the scenario keeps the same `State` to cut the power.
pub(crate) struct PowerCutFs {
    pub(crate) state: Arc<Mutex<State>>,
}

impl PowerCutFs {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `unlink` and `rmdir`: the name goes (logged, so a cut can bring it back).
    fn remove(
        &self,
        parent: INodeNo,
        name: &OsStr,
        reply: ReplyEmpty,
        how: fn(&mut Names, &Path) -> io::Result<()>,
    ) {
        let mut s = self.lock();
        let result = s.live().and_then(|()| {
            let rel = s.child(parent, name)?;
            how(&mut s.names, &rel).map_err(Errno::from)?;
            s.forget_path(&rel);
            Ok(())
        });
        match result {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }
}

impl Filesystem for PowerCutFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let mut s = self.lock();
        match s
            .live()
            .and_then(|()| s.child(parent, name))
            .and_then(|rel| s.attr_of(&rel))
        {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        let s = self.lock();
        let result = s.live().and_then(|()| {
            let meta = match (s.rel(ino), fh) {
                (Ok(rel), _) => std::fs::symlink_metadata(s.full(&rel)),
                (Err(_), Some(fh)) => s.file(fh)?.metadata(),
                (Err(e), None) => return Err(e),
            };
            Ok(s.attr(ino.0, &meta.map_err(Errno::from)?))
        });
        match result {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<std::time::SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<std::time::SystemTime>,
        _chgtime: Option<std::time::SystemTime>,
        _bkuptime: Option<std::time::SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let mut s = self.lock();
        let result = s.live().and_then(|()| {
            // An unlinked file still open is reached through its handle (`ftruncate`).
            let rel = s.rel(ino);
            if let (Some(mode), Ok(rel)) = (mode, &rel) {
                std::fs::set_permissions(s.full(rel), PermissionsExt::from_mode(mode))
                    .map_err(Errno::from)?;
            }
            if let Some(size) = size {
                s.unsynced_mut(ino)?.push(Change::SetLen(size));
                s.stats.writes += 1;
            }
            match (rel, fh) {
                (Ok(rel), _) => s.attr_of(&rel),
                (Err(_), Some(fh)) => {
                    let meta = s.file(fh)?.metadata().map_err(Errno::from)?;
                    Ok(s.attr(ino.0, &meta))
                }
                (Err(e), None) => Err(e),
            }
        });
        match result {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let mut s = self.lock();
        let result = s.live().and_then(|()| {
            let rel = s.child(parent, name)?;
            let full = s.full(&rel);
            std::fs::create_dir(&full).map_err(Errno::from)?;
            s.names.made_dir(&rel);
            std::fs::set_permissions(&full, PermissionsExt::from_mode(mode & !umask))
                .map_err(Errno::from)?;
            s.attr_of(&rel)
        });
        match result {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.remove(parent, name, reply, Names::unlink);
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.remove(parent, name, reply, Names::rmdir);
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let mut s = self.lock();
        let result = s.live().and_then(|()| {
            if !flags.is_empty() {
                return Err(Errno::EINVAL);
            }
            let from = s.child(parent, name)?;
            let to = s.child(newparent, newname)?;
            s.names.rename(&from, &to).map_err(Errno::from)?;
            s.forget_path(&to);
            // The node and, for a directory, everything below it now live under `to`.
            let moved: Vec<(PathBuf, u64)> = s
                .by_path
                .iter()
                .filter(|(p, _)| p.starts_with(&from))
                .map(|(p, i)| (p.clone(), *i))
                .collect();
            for (old, ino) in moved {
                let Ok(rest) = old.strip_prefix(&from) else {
                    continue;
                };
                let new = if rest.as_os_str().is_empty() {
                    to.clone()
                } else {
                    to.join(rest)
                };
                s.by_path.remove(&old);
                s.by_path.insert(new.clone(), ino);
                if let Some(node) = s.nodes.get_mut(&ino) {
                    node.path = Some(new);
                }
            }
            Ok(())
        });
        match result {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let mut s = self.lock();
        let result = s.live().and_then(|()| {
            let full = s.full(&s.rel(ino)?);
            let file = read_write(&full).map_err(Errno::from)?;
            Ok(s.open_backing(ino.0, file))
        });
        match result {
            // Direct IO: every read and write comes here, nothing is cached in the kernel.
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::FOPEN_DIRECT_IO),
            Err(e) => reply.error(e),
        }
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let mut s = self.lock();
        let result = s.live().and_then(|()| {
            let rel = s.child(parent, name)?;
            let full = s.full(&rel);
            let existed = full.exists();
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .create_new(flags & libc_o_excl() != 0)
                .mode(mode & !umask)
                .open(&full)
                .map_err(Errno::from)?;
            if !existed {
                s.names.created(&rel);
            }
            let ino = s.ino_for(&rel);
            if existed && flags & libc_o_trunc() != 0 {
                s.unsynced_mut(INodeNo(ino))?.push(Change::SetLen(0));
            }
            let attr = s.attr_of(&rel)?;
            Ok((attr, s.open_backing(ino, file)))
        });
        match result {
            Ok((attr, fh)) => reply.created(
                &TTL,
                &attr,
                Generation(0),
                FileHandle(fh),
                FopenFlags::FOPEN_DIRECT_IO,
            ),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let s = self.lock();
        let result = s.live().and_then(|()| {
            let file = s.file(fh)?;
            let durable_len = file.metadata().map_err(Errno::from)?.len();
            let node = s.nodes.get(&ino.0).ok_or(Errno::ENOENT)?;
            node.unsynced
                .read(offset, u64::from(size), durable_len, |buf, at| {
                    file.read_exact_at(buf, at)
                })
                .map_err(Errno::from)
        });
        match result {
            Ok(data) => reply.data(&data),
            Err(e) => reply.error(e),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let mut s = self.lock();
        let result = s.live().and_then(|()| {
            s.file(fh)?;
            s.unsynced_mut(ino)?.push(Change::Write {
                offset,
                data: data.to_vec(),
            });
            s.stats.writes += 1;
            u32::try_from(data.len()).map_err(|_| Errno::EINVAL)
        });
        match result {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(e),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // close() makes nothing durable.
        match self.lock().live() {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.lock().files.remove(&fh.0);
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let mut s = self.lock();
        if s.hold() {
            s.held.push(Held::File {
                ino: ino.0,
                fh: fh.0,
                reply,
            });
            return;
        }
        match s.live().and_then(|()| s.sync_file(ino.0, fh.0)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let mut s = self.lock();
        let result = s.live().and_then(|()| {
            let rel = s.rel(ino)?;
            let mut names: Vec<(PathBuf, FileType)> = std::fs::read_dir(s.full(&rel))
                .map_err(Errno::from)?
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let kind = e.file_type().ok().and_then(FileType::from_std)?;
                    Some((PathBuf::from(e.file_name()), kind))
                })
                .collect();
            names.sort_by(|a, b| a.0.cmp(&b.0));
            let mut entries = vec![
                (ino.0, FileType::Directory, PathBuf::from(".")),
                (ino.0, FileType::Directory, PathBuf::from("..")),
            ];
            for (name, kind) in names {
                let child = s.ino_for(&rel.join(&name));
                entries.push((child, kind, name));
            }
            Ok(entries)
        });
        match result {
            Ok(entries) => {
                let skip = usize::try_from(offset).unwrap_or(usize::MAX);
                for (i, (child, kind, name)) in entries.into_iter().enumerate().skip(skip) {
                    if reply.add(INodeNo(child), i as u64 + 1, kind, name) {
                        break;
                    }
                }
                reply.ok();
            }
            Err(e) => reply.error(e),
        }
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let mut s = self.lock();
        if s.hold() {
            s.held.push(Held::Dir { ino: ino.0, reply });
            return;
        }
        match s.live().and_then(|()| s.sync_dir(ino.0)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let s = self.lock();
        let result = s.live().and_then(|()| {
            rustix::fs::statvfs(&s.root).map_err(|e| Errno::from_i32(e.raw_os_error()))
        });
        match result {
            Ok(st) => reply.statfs(
                st.f_blocks,
                st.f_bfree,
                st.f_bavail,
                st.f_files,
                st.f_ffree,
                u32::try_from(st.f_bsize).unwrap_or(4096),
                u32::try_from(st.f_namemax).unwrap_or(255),
                u32::try_from(st.f_frsize).unwrap_or(4096),
            ),
            Err(e) => reply.error(e),
        }
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: fuser::AccessFlags, reply: ReplyEmpty) {
        match self.lock().live() {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }
}

fn libc_o_excl() -> i32 {
    rustix::fs::OFlags::EXCL.bits() as i32
}

fn libc_o_trunc() -> i32 {
    rustix::fs::OFlags::TRUNC.bits() as i32
}
