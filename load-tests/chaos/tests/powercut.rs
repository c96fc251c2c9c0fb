//! The power-cut disk itself, mounted for real. Needs root and `/dev/fuse`, so these are
//! `#[ignore]`d in `cargo test --workspace`; `load-tests/chaos/ci.sh` runs them where it can.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use xoev_chaos::powercut::PowerCutDisk;

struct Setup {
    _dir: tempfile::TempDir,
    backing: PathBuf,
    mnt: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("temp dir");
    let backing = dir.path().join("disk");
    let mnt = dir.path().join("mnt");
    fs::create_dir(&backing).expect("backing dir");
    fs::create_dir(&mnt).expect("mountpoint");
    Setup {
        _dir: dir,
        backing,
        mnt,
    }
}

fn mount(s: &Setup) -> PowerCutDisk {
    PowerCutDisk::mount(&s.backing, &s.mnt).expect("mount (needs root and /dev/fuse)")
}

/// `fsync` of a directory: makes the name changes in it durable.
fn sync_dir(dir: &Path) {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .expect("fsync of the directory");
}

fn append(path: &Path, bytes: &[u8]) -> File {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open");
    f.write_all(bytes).expect("write");
    f
}

#[test]
#[ignore = "needs root and /dev/fuse; load-tests/chaos/ci.sh runs it"]
fn a_cut_keeps_what_was_synced_and_drops_the_rest() {
    let s = setup();
    let disk = mount(&s);
    append(&s.mnt.join("a"), b"synced ")
        .sync_data()
        .expect("fdatasync");
    drop(append(&s.mnt.join("a"), b"lost"));
    drop(append(&s.mnt.join("b"), b"never synced"));
    sync_dir(&s.mnt);
    assert_eq!(
        fs::read(s.mnt.join("a")).ok(),
        Some(b"synced lost".to_vec())
    );
    assert_eq!(
        fs::metadata(s.mnt.join("b")).map(|m| m.len()).ok(),
        Some(12)
    );

    let stats = disk.cut();
    assert_eq!(
        (stats.changes_lost, stats.bytes_lost, stats.files_hit),
        (2, 16, 2)
    );
    let after = fs::read(s.mnt.join("a")).map_err(|e| e.raw_os_error());
    assert_eq!(
        after,
        Err(Some(5)),
        "every request after the cut fails with EIO"
    );
    disk.unmount().expect("unmount");

    assert_eq!(
        fs::read(s.backing.join("a")).ok(),
        Some(b"synced ".to_vec())
    );
    assert_eq!(fs::read(s.backing.join("b")).ok(), Some(Vec::new()));
}

#[test]
#[ignore = "needs root and /dev/fuse; load-tests/chaos/ci.sh runs it"]
fn a_new_name_needs_a_directory_sync_and_the_data_behind_it_a_file_sync() {
    let s = setup();
    let disk = mount(&s);
    append(&s.mnt.join("synced-data"), b"data")
        .sync_data()
        .expect("fdatasync");
    drop(append(&s.mnt.join("unsynced-data"), b"data"));
    let stats = disk.cut();
    assert_eq!(stats.names_undone, 2);
    disk.unmount().expect("unmount");
    let names: Vec<_> = fs::read_dir(&s.backing)
        .expect("read_dir")
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    assert!(names.is_empty(), "no directory sync, no names: {names:?}");

    let disk = mount(&s);
    append(&s.mnt.join("synced-data"), b"data")
        .sync_data()
        .expect("fdatasync");
    drop(append(&s.mnt.join("unsynced-data"), b"data"));
    sync_dir(&s.mnt);
    disk.unmount().expect("unmount (a cut)");
    assert_eq!(
        fs::read(s.backing.join("synced-data")).ok(),
        Some(b"data".to_vec())
    );
    assert_eq!(
        fs::read(s.backing.join("unsynced-data")).ok(),
        Some(Vec::new())
    );
}

#[test]
#[ignore = "needs root and /dev/fuse; load-tests/chaos/ci.sh runs it"]
fn an_unsynced_rename_or_unlink_is_undone_and_a_replaced_file_comes_back() {
    let s = setup();
    fs::write(s.backing.join("old"), b"old").expect("seed");
    fs::write(s.backing.join("target"), b"target").expect("seed");
    fs::write(s.backing.join("doomed"), b"doomed").expect("seed");
    let disk = mount(&s);
    fs::rename(s.mnt.join("old"), s.mnt.join("target")).expect("rename over a file");
    fs::remove_file(s.mnt.join("doomed")).expect("unlink");
    assert_eq!(fs::read(s.mnt.join("target")).ok(), Some(b"old".to_vec()));
    assert_eq!(disk.cut().names_undone, 2);
    disk.unmount().expect("unmount");
    for (name, content) in [("old", "old"), ("target", "target"), ("doomed", "doomed")] {
        let got = fs::read(s.backing.join(name)).ok();
        assert_eq!(got, Some(content.as_bytes().to_vec()), "{name}");
    }

    let disk = mount(&s);
    fs::rename(s.mnt.join("old"), s.mnt.join("target")).expect("rename over a file");
    fs::remove_file(s.mnt.join("doomed")).expect("unlink");
    sync_dir(&s.mnt);
    assert_eq!(disk.cut().names_undone, 0);
    disk.unmount().expect("unmount");
    assert_eq!(
        fs::read(s.backing.join("target")).ok(),
        Some(b"old".to_vec())
    );
    assert!(!s.backing.join("old").exists() && !s.backing.join("doomed").exists());
}

#[test]
#[ignore = "needs root and /dev/fuse; load-tests/chaos/ci.sh runs it"]
fn a_truncation_waits_for_fsync_like_a_write() {
    let s = setup();
    fs::write(s.backing.join("t"), b"0123456789").expect("seed file");
    let disk = mount(&s);
    let f = OpenOptions::new()
        .write(true)
        .open(s.mnt.join("t"))
        .expect("open");
    f.set_len(4).expect("truncate");
    assert_eq!(fs::read(s.mnt.join("t")).ok(), Some(b"0123".to_vec()));
    drop(f);
    disk.cut();
    disk.unmount().expect("unmount");
    assert_eq!(
        fs::read(s.backing.join("t")).ok(),
        Some(b"0123456789".to_vec())
    );

    let disk = mount(&s);
    let f = OpenOptions::new()
        .write(true)
        .open(s.mnt.join("t"))
        .expect("open again");
    f.set_len(4).expect("truncate");
    f.sync_all().expect("fsync");
    drop(f);
    disk.cut();
    disk.unmount().expect("unmount");
    assert_eq!(fs::read(s.backing.join("t")).ok(), Some(b"0123".to_vec()));
}

#[test]
#[ignore = "needs root and /dev/fuse; load-tests/chaos/ci.sh runs it"]
fn directories_listing_and_free_space_pass_through() {
    let s = setup();
    let disk = mount(&s);
    fs::create_dir_all(s.mnt.join("x/y")).expect("mkdir -p");
    fs::write(s.mnt.join("x/y/f"), b"1").expect("write");
    fs::rename(s.mnt.join("x"), s.mnt.join("z")).expect("rename a directory");
    let names: Vec<_> = fs::read_dir(s.mnt.join("z/y"))
        .expect("read_dir")
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("f")]);
    assert_eq!(fs::read(s.mnt.join("z/y/f")).ok(), Some(b"1".to_vec()));
    let free = rustix::fs::statvfs(&s.mnt)
        .map(|st| st.f_bavail)
        .unwrap_or(0);
    assert!(
        free > 0,
        "statfs must report the backing file system's free space"
    );
    fs::remove_file(s.mnt.join("z/y/f")).expect("unlink");
    fs::remove_dir(s.mnt.join("z/y")).expect("rmdir");
    sync_dir(&s.mnt.join("z"));
    sync_dir(&s.mnt);
    let stats = disk.cut();
    assert_eq!((stats.names_undone, stats.undo_error), (0, None));
    disk.unmount().expect("unmount");
    assert!(s.backing.join("z").is_dir());
    assert!(!s.backing.join("z/y").exists());
}

#[test]
#[ignore = "needs root and /dev/fuse; load-tests/chaos/ci.sh runs it"]
fn after_fail_fsyncs_a_sync_fails_with_eio_and_its_data_is_gone() {
    let s = setup();
    let disk = mount(&s);
    append(&s.mnt.join("a"), b"kept ")
        .sync_data()
        .expect("fdatasync while healthy");
    sync_dir(&s.mnt);
    disk.fail_fsyncs();
    let f = append(&s.mnt.join("a"), b"dropped");
    assert_eq!(f.sync_data().map_err(|e| e.raw_os_error()), Err(Some(5)));
    fs::write(s.mnt.join("b"), b"writes still work").expect("write after the failure");
    assert_eq!(
        fs::read(s.mnt.join("b")).ok(),
        Some(b"writes still work".to_vec())
    );
    let dir = File::open(&s.mnt).expect("open the directory");
    assert_eq!(dir.sync_all().map_err(|e| e.raw_os_error()), Err(Some(5)));
    assert_eq!(disk.stats().fsyncs_failed, 2);
    drop((f, dir));
    disk.unmount().expect("unmount");
    assert_eq!(fs::read(s.backing.join("a")).ok(), Some(b"kept ".to_vec()));
    assert!(!s.backing.join("b").exists(), "its directory sync failed");
}

#[test]
#[ignore = "needs root and /dev/fuse; load-tests/chaos/ci.sh runs it"]
fn after_hang_fsyncs_a_sync_waits_for_the_release_and_then_makes_its_data_durable() {
    let s = setup();
    let disk = mount(&s);
    disk.hang_fsyncs();
    let path = s.mnt.join("a");
    let f = append(&path, b"held");
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let syncing = std::thread::spawn(move || {
        let r = f.sync_data().map_err(|e| e.raw_os_error());
        let _ = done_tx.send(r);
        f
    });
    let held = done_rx.recv_timeout(std::time::Duration::from_millis(500));
    assert!(held.is_err(), "the sync answered while held: {held:?}");
    fs::write(s.mnt.join("b"), b"writes still work").expect("write while syncs hang");
    assert_eq!(disk.stats().fsyncs_held, 1);
    disk.release_fsyncs();
    let answered = done_rx.recv_timeout(std::time::Duration::from_secs(5));
    assert_eq!(answered, Ok(Ok(())));
    let f = syncing.join().expect("sync thread");
    sync_dir(&s.mnt);
    drop(f);
    disk.unmount().expect("unmount");
    assert_eq!(fs::read(s.backing.join("a")).ok(), Some(b"held".to_vec()));
}

#[test]
#[ignore = "needs root and /dev/fuse; load-tests/chaos/ci.sh runs it"]
fn changes_inside_a_renamed_directory_settle_and_undo_under_its_current_name() {
    let s = setup();
    fs::create_dir(s.backing.join("x")).expect("seed dir");
    let disk = mount(&s);
    drop(File::create(s.mnt.join("x/f")).expect("create x/f"));
    fs::rename(s.mnt.join("x"), s.mnt.join("z")).expect("rename the directory");
    sync_dir(&s.mnt.join("z"));
    let stats = disk.cut();
    // x/f was settled by the sync of z (the same directory); the rename itself was not.
    assert_eq!((stats.names_undone, stats.undo_error), (1, None));
    disk.unmount().expect("unmount");
    assert!(s.backing.join("x/f").is_file() && !s.backing.join("z").exists());

    let disk = mount(&s);
    fs::remove_file(s.mnt.join("x/f")).expect("unlink");
    fs::rename(s.mnt.join("x"), s.mnt.join("z")).expect("rename the directory");
    let stats = disk.cut();
    assert_eq!((stats.names_undone, stats.undo_error), (2, None));
    disk.unmount().expect("unmount");
    assert!(s.backing.join("x/f").is_file() && !s.backing.join("z").exists());

    fs::create_dir(s.backing.join("full")).expect("seed dir");
    fs::write(s.backing.join("full/g"), b"g").expect("seed file");
    let disk = mount(&s);
    let err = fs::rename(s.mnt.join("x"), s.mnt.join("full")).map_err(|e| e.raw_os_error());
    assert_eq!(
        err,
        Err(Some(39)),
        "a directory renamed over a non-empty one: ENOTEMPTY"
    );
    disk.unmount().expect("unmount");
}

#[test]
#[ignore = "needs root and /dev/fuse; load-tests/chaos/ci.sh runs it"]
fn an_open_file_keeps_its_unsynced_writes_after_unlink_and_can_still_sync_them() {
    let s = setup();
    fs::write(s.backing.join("f"), b"").expect("seed");
    let disk = mount(&s);
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(s.mnt.join("f"))
        .expect("open");
    f.write_all(b"written").expect("write");
    fs::remove_file(s.mnt.join("f")).expect("unlink");
    f.sync_data().expect("fdatasync through the open handle");
    drop(f);
    assert_eq!(disk.cut().names_undone, 1);
    disk.unmount().expect("unmount");
    assert_eq!(
        fs::read(s.backing.join("f")).ok(),
        Some(b"written".to_vec())
    );
}
