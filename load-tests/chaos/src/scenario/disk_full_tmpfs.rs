//! Proof 3 on a real small file system (root only: it mounts a tmpfs as the data directory).
//!
//! Part 1, the floor against real free space: a ballast file pushes the free space of the
//! tmpfs below `min_free_disk`; ingress must answer `503 storage-unavailable` and store
//! nothing; once the ballast is removed the router accepts again *without a restart*.
//!
//! Part 2, a disk that really fills (`min_free_disk = 0`, tmpfs filled to ENOSPC): the router
//! must not acknowledge what it could not store, must keep running and answer
//! `503 storage-unavailable`, and after space returns and an operator restart every message
//! it acknowledged must still be delivered. Messages it refused should be unknown to it: a
//! refused message that is later found stored was half-accepted.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use super::probe::{make, require_503, require_accepted, require_unknown, submit};
use super::{check_lanes, finish};
use crate::ChaosError;
use crate::ledger::{Ledger, Outcome};
use crate::report::Report;
use crate::world::{World, two_lanes};

const A: usize = 0;
const B: usize = 1;
const TMPFS_SIZE: &str = "64m";
const FLOOR_MIB: u64 = 16;
/// Messages sent at most while the file system is full.
const MAX_WHILE_FULL: usize = 5000;

/// A mounted tmpfs, unmounted on drop.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path) -> Result<Tmpfs, ChaosError> {
        std::fs::create_dir_all(path).map_err(ChaosError::io("mount point", path))?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={TMPFS_SIZE}"), "tmpfs"])
            .arg(path)
            .output()
            .map_err(ChaosError::io("running mount for", path))?;
        if !out.status.success() {
            return Err(ChaosError::Protocol(format!(
                "cannot mount a tmpfs on {} (disk-full --tmpfs needs root): {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(Tmpfs {
            path: path.to_path_buf(),
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: the router may still hold files if the scenario stopped early.
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Available bytes of the file system holding `path` (`df`, which reads `statvfs`).
fn available(path: &Path) -> Result<u64, ChaosError> {
    let out = Command::new("df")
        .args(["-B1", "--output=avail"])
        .arg(path)
        .output()
        .map_err(ChaosError::io("running df for", path))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| {
            ChaosError::Protocol(format!("df gave no free space for {}", path.display()))
        })
}

/// Writes zeros to `path` until `bytes` are written or the file system is full.
fn ballast(path: &Path, bytes: Option<u64>) -> Result<u64, ChaosError> {
    let mut f = std::fs::File::create(path).map_err(ChaosError::io("ballast", path))?;
    let chunk = vec![0u8; 1 << 20];
    let mut written = 0u64;
    while bytes.is_none_or(|b| written < b) {
        let n = bytes.map_or(chunk.len() as u64, |b| {
            (b - written).min(chunk.len() as u64)
        });
        let part = chunk.get(..n as usize).unwrap_or(&chunk);
        match f.write_all(part) {
            Ok(()) => written += n,
            Err(e) if e.raw_os_error() == Some(28) && bytes.is_none() => break, // ENOSPC
            Err(e) => return Err(ChaosError::io("ballast", path)(e)),
        }
    }
    let _ = f.sync_all();
    Ok(written)
}

pub async fn run(binary: &Path) -> Result<Report, ChaosError> {
    let mut report = Report::new("disk-full-tmpfs");
    let mut world = World::new(binary, &two_lanes(None)).await?;
    let mount = Tmpfs::mount(&world.path().join("data"))?;
    let result = body(&mut world, &mut report).await;
    // Stop the router before unmounting its data directory.
    let _ = world.router.kill();
    drop(mount);
    finish(&mut world, &mut report, result)
}

async fn body(world: &mut World, report: &mut Report) -> Result<(), ChaosError> {
    report.fact("work directory", world.path().display());
    let data = world.path().join("data");
    let timeout = Duration::from_secs(30);
    let mut spec = world.spec.clone();
    spec.min_free_disk = format!("{FLOOR_MIB}MiB");
    let floor_config = world.write_config("router-tmpfs.toml", &spec)?;
    spec.min_free_disk = "0".into();
    let no_floor_config = world.write_config("router-tmpfs-no-floor.toml", &spec)?;
    report.fact(
        "data directory",
        format!("tmpfs of {TMPFS_SIZE}, floor {FLOOR_MIB} MiB"),
    );
    let mut ledger = Ledger::default();

    // Part 1: the floor, reached by real usage; service resumes without a restart.
    world.router.set_config(floor_config);
    world.router.spawn()?;
    world.router.wait_ready(timeout).await?;
    let mut first = make(world, A, 5)?;
    first.extend(make(world, B, 5)?);
    require_accepted(
        world,
        &mut ledger,
        &mut first,
        "before the disk filled",
        report,
    )
    .await;
    let free = available(&data)?;
    let fill = free.saturating_sub(FLOOR_MIB << 20) + (2 << 20);
    let ballast_path = data.join("ballast");
    ballast(&ballast_path, Some(fill))?;
    report.fact(
        "free space before / after the ballast",
        format!("{} / {} KiB", free >> 10, available(&data)? >> 10),
    );
    // The router caches its free-space reading for 1 s.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut refused = make(world, A, 5)?;
    refused.extend(make(world, B, 5)?);
    let mut ok = 0;
    for m in refused.iter_mut() {
        let (_, reply) = submit(world, &mut ledger, m).await;
        let what = format!("message {} with free space below the floor", m.id);
        ok += usize::from(require_503(
            report,
            &what,
            reply.as_ref(),
            "storage-unavailable",
        ));
    }
    report.fact(
        "answered 503 storage-unavailable below the floor",
        format!("{ok} of {}", refused.len()),
    );
    require_unknown(world, &refused, "below the floor", report).await?;
    std::fs::remove_file(&ballast_path).map_err(ChaosError::io("ballast", &ballast_path))?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    require_accepted(
        world,
        &mut ledger,
        &mut refused,
        "the refused messages once space returned (no restart)",
        report,
    )
    .await;
    let all = world.wait_delivered(&ledger, Duration::from_secs(30)).await;
    report.require(all, "not every message acknowledged in part 1 arrived");
    world.router.terminate(timeout).await?;

    // Part 2: no floor, the file system really fills.
    world.router.set_config(no_floor_config);
    world.router.spawn()?;
    world.router.wait_ready(timeout).await?;
    world.authorities[A].stop().await;
    world.authorities[B].stop().await;
    let filled = ballast(&ballast_path, None)?;
    report.fact("ballast until ENOSPC", format!("{} KiB", filled >> 10));
    // sled writes into space its files already hold first; keep sending until the file
    // system refuses for real (ten refusals in a row), at most MAX_WHILE_FULL messages.
    let (mut acked, mut unavailable, mut other) = (0, Vec::new(), Vec::new());
    let mut refusals_in_a_row = 0;
    for i in 0..MAX_WHILE_FULL {
        if refusals_in_a_row >= 10 {
            break;
        }
        let mut m = world.signer.make(i % 2, &world.lanes)?;
        let (outcome, reply) = submit(world, &mut ledger, &mut m).await;
        match outcome {
            Outcome::Accepted { .. } => {
                acked += 1;
                refusals_in_a_row = 0;
            }
            Outcome::BackPressure(r) if r.kind == "storage-unavailable" => {
                unavailable.push(m);
                refusals_in_a_row += 1;
            }
            o => {
                refusals_in_a_row += 1;
                other.push(format!(
                    "{o:?} {}",
                    reply
                        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
                        .unwrap_or_default()
                ));
            }
        }
    }
    report.require(
        refusals_in_a_row >= 10,
        format!("the router accepted {acked} messages on a full file system without refusing"),
    );
    report.fact(
        "with the disk full: 202 / 503 storage-unavailable / other",
        format!("{acked} / {} / {}", unavailable.len(), other.len()),
    );
    report.require(
        other.is_empty(),
        format!(
            "with the disk full the router answered other than 202 or 503 storage-unavailable: {}",
            other.first().map_or("", String::as_str)
        ),
    );
    world.router.check_alive()?;
    std::fs::remove_file(&ballast_path).map_err(ChaosError::io("ballast", &ballast_path))?;
    match world.router.terminate(timeout).await {
        Ok(_) => report.fact("stop after the disk was full", "exit 0"),
        Err(e) => report.fact("stop after the disk was full", e),
    }
    world.authorities[A]
        .restart()
        .await
        .map_err(|source| ChaosError::Mock {
            name: "authority-a".into(),
            source,
        })?;
    world.authorities[B]
        .restart()
        .await
        .map_err(|source| ChaosError::Mock {
            name: "authority-b".into(),
            source,
        })?;
    world.router.spawn()?;
    world.router.wait_ready(timeout).await?;
    let resumed_at = SystemTime::now();
    let mut half = Vec::new();
    for m in unavailable.iter_mut() {
        let (outcome, _) = submit(world, &mut ledger, m).await;
        match outcome {
            Outcome::Accepted { duplicate: false } => {}
            Outcome::Accepted { duplicate: true } => half.push(m.id),
            o => report.finding(format!("refused message {} after restart: {o:?}", m.id)),
        }
    }
    report.require(
        half.is_empty(),
        format!(
            "{} message(s) answered 503 while the disk was full were stored anyway (half-accepted), e.g. {:?}",
            half.len(),
            half.first()
        ),
    );
    let all = world.wait_delivered(&ledger, Duration::from_secs(60)).await;
    report.require(
        all,
        "not every acknowledged message arrived after the disk-full restart",
    );
    for m in &unavailable {
        let id = m.id.to_string();
        if world
            .authorities
            .iter()
            .any(|a| a.inbox.get(&id).is_some_and(|r| r.at < resumed_at))
        {
            report.finding(format!("{id} was delivered although it was refused"));
        }
    }
    check_lanes(world, &ledger, report);
    world.router.terminate(timeout).await?;
    Ok(())
}
