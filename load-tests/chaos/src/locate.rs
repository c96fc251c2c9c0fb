//! Finding (and by default building) the `xoev-router` binary the scenarios run.
//!
//! Default: the binary of the same cargo profile as this harness, rebuilt with
//! `cargo build [--release] -p xoev-routerd --bin xoev-router` first, so a run never tests a
//! stale router. `--router PATH` skips the build and uses exactly that file.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ChaosError;

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds the router in this harness's profile and returns its path.
pub fn build_router() -> Result<PathBuf, ChaosError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let release = !cfg!(debug_assertions);
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(workspace_root())
        .args(["build", "-p", "xoev-routerd", "--bin", "xoev-router"]);
    if release {
        cmd.arg("--release");
    }
    let shown = format!(
        "cargo build -p xoev-routerd --bin xoev-router{}",
        if release { " --release" } else { "" }
    );
    let status = cmd.status().map_err(|e| ChaosError::Build {
        command: shown.clone(),
        reason: e.to_string(),
    })?;
    if !status.success() {
        return Err(ChaosError::Build {
            command: shown,
            reason: status.to_string(),
        });
    }
    let path = profile_dir().join("xoev-router");
    if path.is_file() {
        Ok(path)
    } else {
        Err(ChaosError::NoRouter(path))
    }
}

/// The directory this harness binary lives in (`target/<profile>`), where cargo puts the
/// router of the same profile.
fn profile_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| {
            workspace_root()
                .join("target")
                .join(if cfg!(debug_assertions) {
                    "debug"
                } else {
                    "release"
                })
        })
}

/// Uses `explicit` if given (it must exist), otherwise builds.
pub fn router_binary(explicit: Option<&Path>) -> Result<PathBuf, ChaosError> {
    match explicit {
        Some(p) if p.is_file() => Ok(p.to_path_buf()),
        Some(p) => Err(ChaosError::NoRouter(p.to_path_buf())),
        None => build_router(),
    }
}
