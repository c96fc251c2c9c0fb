//! The power-cut disk itself, mounted for real. Needs root and `/dev/fuse`, so these are
//! `#[ignore]`d in `cargo test --workspace`; `load-tests/chaos/ci.sh` runs them where it can.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
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
fn a_rename_is_durable_at_once_but_the_data_behind_it_is_not() {
    let s = setup();
    let disk = mount(&s);
    let mut f = File::create(s.mnt.join("tmp")).expect("create");
    f.write_all(b"content").expect("write");
    drop(f);
    fs::rename(s.mnt.join("tmp"), s.mnt.join("final")).expect("rename");
    disk.cut();
    disk.unmount().expect("unmount");
    assert_eq!(fs::read(s.backing.join("final")).ok(), Some(Vec::new()));
    assert_eq!(
        fs::metadata(s.backing.join("tmp")).err().map(|e| e.kind()),
        Some(ErrorKind::NotFound)
    );
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
    assert_eq!(disk.stats().fsyncs, 0);
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
}
