//! Directory entries that are not durable yet. POSIX makes a new, removed or renamed name
//! durable only with an `fsync` of the directory that holds it (both directories for a
//! rename); until then a power loss may undo it. Every name change is applied to the backing
//! directory at once and logged here; an `fsync` of a directory settles the changes in it,
//! and a power cut undoes the unsettled ones, newest first. Removed files and replaced rename
//! targets are kept in a stash until their removal is durable, so an undo can bring them back.
//!
//! Paths in the log are always current: renaming a directory rewrites the older unsettled
//! changes below it (so an `fsync` of the directory under its new name settles them), and
//! undoing that rename rewrites them back before they are undone in turn. Once the removal
//! of a directory is durable, the unsettled changes inside it are moot and dropped.

use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug)]
enum Change {
    Created(PathBuf),
    MadeDir(PathBuf),
    Unlinked {
        path: PathBuf,
        kept: PathBuf,
    },
    RemovedDir(PathBuf),
    Renamed {
        from: PathBuf,
        to: PathBuf,
        replaced: Option<PathBuf>,
    },
}

#[derive(Debug)]
struct Unsettled {
    change: Change,
    /// Directories (relative) whose `fsync` the change still waits for.
    dirs: Vec<PathBuf>,
}

/// The name changes of one mount that a power cut would undo.
#[derive(Debug)]
pub(crate) struct Names {
    root: PathBuf,
    stash: PathBuf,
    next: u64,
    unsettled: Vec<Unsettled>,
}

fn parent(rel: &Path) -> PathBuf {
    rel.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// `p` with its prefix `from` replaced by `to`, if it lies under `from`.
fn moved(p: &Path, from: &Path, to: &Path) -> Option<PathBuf> {
    let rest = p.strip_prefix(from).ok()?;
    Some(if rest.as_os_str().is_empty() {
        to.to_path_buf()
    } else {
        to.join(rest)
    })
}

impl Change {
    fn paths_mut(&mut self) -> Vec<&mut PathBuf> {
        match self {
            Change::Created(p) | Change::MadeDir(p) | Change::RemovedDir(p) => vec![p],
            Change::Unlinked { path, .. } => vec![path],
            Change::Renamed { from, to, .. } => vec![from, to],
        }
    }
}

impl Names {
    /// Rewrites every logged path and awaited directory under `from` to lie under `to`.
    fn rewrite(unsettled: &mut [Unsettled], from: &Path, to: &Path) {
        for u in unsettled {
            for p in u.change.paths_mut().into_iter().chain(u.dirs.iter_mut()) {
                if let Some(n) = moved(p, from, to) {
                    *p = n;
                }
            }
        }
    }

    /// `stash` is a directory outside `root` on the same file system.
    pub(crate) fn new(root: PathBuf, stash: PathBuf) -> Self {
        Names {
            root,
            stash,
            next: 0,
            unsettled: Vec::new(),
        }
    }

    fn full(&self, rel: &Path) -> PathBuf {
        self.root.join(rel)
    }

    fn keep(&mut self, rel: &Path) -> io::Result<PathBuf> {
        std::fs::create_dir_all(&self.stash)?;
        self.next += 1;
        let kept = self.stash.join(self.next.to_string());
        std::fs::rename(self.full(rel), &kept)?;
        Ok(kept)
    }

    fn log(&mut self, change: Change, dirs: Vec<PathBuf>) {
        self.unsettled.push(Unsettled { change, dirs });
    }

    pub(crate) fn created(&mut self, rel: &Path) {
        self.log(Change::Created(rel.to_path_buf()), vec![parent(rel)]);
    }

    pub(crate) fn made_dir(&mut self, rel: &Path) {
        self.log(Change::MadeDir(rel.to_path_buf()), vec![parent(rel)]);
    }

    /// Removes the file (into the stash).
    pub(crate) fn unlink(&mut self, rel: &Path) -> io::Result<()> {
        if !std::fs::symlink_metadata(self.full(rel))?.is_file() {
            return Err(io::Error::from_raw_os_error(21)); // EISDIR
        }
        let kept = self.keep(rel)?;
        let change = Change::Unlinked {
            path: rel.to_path_buf(),
            kept,
        };
        self.log(change, vec![parent(rel)]);
        Ok(())
    }

    pub(crate) fn rmdir(&mut self, rel: &Path) -> io::Result<()> {
        std::fs::remove_dir(self.full(rel))?;
        self.log(Change::RemovedDir(rel.to_path_buf()), vec![parent(rel)]);
        Ok(())
    }

    /// Renames, keeping a replaced target in the stash.
    pub(crate) fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        let source = std::fs::symlink_metadata(self.full(from))?;
        let replaced = match std::fs::symlink_metadata(self.full(to)) {
            Ok(target) if target.is_dir() != source.is_dir() => {
                return Err(io::Error::from_raw_os_error(if target.is_dir() {
                    21 // EISDIR
                } else {
                    20 // ENOTDIR
                }));
            }
            Ok(target) if target.is_dir() && std::fs::read_dir(self.full(to))?.next().is_some() => {
                return Err(io::Error::from_raw_os_error(39)); // ENOTEMPTY
            }
            Ok(_) => Some(self.keep(to)?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        if let Err(e) = std::fs::rename(self.full(from), self.full(to)) {
            if let Some(kept) = &replaced {
                let _ = std::fs::rename(kept, self.full(to));
            }
            return Err(e);
        }
        if source.is_dir() {
            Self::rewrite(&mut self.unsettled, from, to);
        }
        let mut dirs = vec![parent(from)];
        if parent(to) != parent(from) {
            dirs.push(parent(to));
        }
        let change = Change::Renamed {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
            replaced,
        };
        self.log(change, dirs);
        Ok(())
    }

    /// `fsync` of the directory `rel`: the changes of names in it are durable.
    pub(crate) fn synced_dir(&mut self, rel: &Path) {
        for u in &mut self.unsettled {
            u.dirs.retain(|d| d != rel);
        }
        let (settled, unsettled): (Vec<_>, Vec<_>) = std::mem::take(&mut self.unsettled)
            .into_iter()
            .partition(|u| u.dirs.is_empty());
        self.unsettled = unsettled;
        // A directory whose removal is durable takes what was pending inside it along.
        for u in &settled {
            if let Change::RemovedDir(gone) = &u.change {
                let (moot, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.unsettled)
                    .into_iter()
                    .partition(|o| o.dirs.iter().any(|d| d.starts_with(gone)));
                self.unsettled = keep;
                for o in moot {
                    drop_stash(o.change);
                }
            }
        }
        for u in settled {
            drop_stash(u.change);
        }
    }

    /// The power cut: undoes every unsettled change, newest first. Returns how many were
    /// undone and the first error, if an undo failed.
    pub(crate) fn undo(&mut self) -> (u64, Option<String>) {
        let mut undone = 0;
        let mut first_error = None;
        while let Some(u) = self.unsettled.pop() {
            let result = match &u.change {
                Change::Created(p) => std::fs::remove_file(self.full(p)),
                Change::MadeDir(p) => std::fs::remove_dir_all(self.full(p)),
                Change::Unlinked { path, kept } => std::fs::rename(kept, self.full(path)),
                Change::RemovedDir(p) => std::fs::create_dir(self.full(p)),
                Change::Renamed { from, to, replaced } => {
                    let is_dir = std::fs::symlink_metadata(self.full(to)).is_ok_and(|m| m.is_dir());
                    let r =
                        std::fs::rename(self.full(to), self.full(from)).and_then(
                            |()| match replaced {
                                Some(kept) => std::fs::rename(kept, self.full(to)),
                                None => Ok(()),
                            },
                        );
                    if r.is_ok() && is_dir {
                        Self::rewrite(&mut self.unsettled, to, from);
                    }
                    r
                }
            };
            match result {
                Ok(()) => undone += 1,
                Err(e) => {
                    first_error.get_or_insert_with(|| format!("undoing {:?}: {e}", u.change));
                }
            }
        }
        (undone, first_error)
    }
}

/// A settled removal or replacement: the stashed file is gone for good.
fn drop_stash(change: Change) {
    let kept = match change {
        Change::Unlinked { kept, .. } => Some(kept),
        Change::Renamed { replaced, .. } => replaced,
        _ => None,
    };
    if let Some(kept) = kept {
        let _ = remove_any(&kept);
    }
}

fn remove_any(p: &Path) -> io::Result<()> {
    if std::fs::symlink_metadata(p)?.is_dir() {
        std::fs::remove_dir_all(p)
    } else {
        std::fs::remove_file(p)
    }
}
