//! CPU time of a process (all threads, user + system) from `/proc/<pid>/stat`, to tell how the
//! two cores were shared between router, authority and generator during a run.

/// Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`; 100 on Linux).
pub fn ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// `utime + stime` in clock ticks from a `/proc/<pid>/stat` line.
pub fn parse_stat(line: &str) -> Option<u64> {
    // The command name (field 2) may contain spaces; fields after its closing ')' are fixed.
    let rest = line.get(line.rfind(')')? + 1..)?;
    let mut fields = rest.split_ascii_whitespace();
    // After ')': state is field 3, utime field 14, stime field 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// CPU seconds used so far by `pid` (None when it is gone).
pub fn cpu_seconds(pid: u32, ticks_per_second: f64) -> Option<f64> {
    let line = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(parse_stat(&line)? as f64 / ticks_per_second)
}

/// The thread group a thread name belongs to: digits, `-` and `#` at the end removed
/// (`sled-io-17` → `sled-io`, `tokio-runtime-w` stays).
pub fn thread_group(comm: &str) -> String {
    comm.trim()
        .trim_end_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '#')
        .to_owned()
}

/// CPU ticks per thread group of `pid` right now (from `/proc/<pid>/task/*/stat`).
pub fn thread_ticks(pid: u32) -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        let Ok(line) = std::fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        let comm = line
            .find('(')
            .zip(line.rfind(')'))
            .and_then(|(a, b)| line.get(a + 1..b))
            .unwrap_or("?");
        if let Some(ticks) = parse_stat(&line) {
            *out.entry(thread_group(comm)).or_insert(0) += ticks;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_user_and_system_time_even_with_spaces_in_the_name() {
        let line = "4242 (xoev router) S 1 4242 4242 0 -1 4194560 2000 0 0 0 1500 250 0 0 20 0 6 0 100 0 0";
        assert_eq!(parse_stat(line), Some(1750));
    }

    #[test]
    fn thread_groups_drop_the_instance_number() {
        assert_eq!(thread_group("sled-io-17"), "sled-io");
        assert_eq!(thread_group("tokio-rt-worker"), "tokio-rt-worker");
        assert_eq!(thread_group("xoev-queue-flus"), "xoev-queue-flus");
    }

    #[test]
    fn this_process_has_a_main_thread_group() {
        assert!(!thread_ticks(std::process::id()).is_empty());
    }

    #[test]
    fn garbage_is_none() {
        assert_eq!(parse_stat("no parenthesis here"), None);
        assert_eq!(parse_stat("1 (x) S 1 2"), None);
    }

    #[test]
    fn this_process_has_used_some_cpu() {
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        assert!(x > 0);
        assert!(cpu_seconds(std::process::id(), ticks_per_second()).is_some());
    }
}
