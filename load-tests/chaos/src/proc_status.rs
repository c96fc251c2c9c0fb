//! Memory of the router process, read from `/proc/<pid>/status` (Linux).

/// Resident set size now and its peak, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

/// Reads `VmRSS` and `VmHWM` of `pid`; `None` when the process is gone or not Linux.
pub fn memory(pid: u32) -> Option<Memory> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse(&text)
}

/// Parses the two fields out of a `/proc/<pid>/status` text.
pub fn parse(text: &str) -> Option<Memory> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|n| n.trim().parse::<u64>().ok())
    };
    Some(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rss_and_peak_from_a_status_text() {
        let text = "Name:\txoev-router\nVmPeak:\t  900000 kB\nVmHWM:\t   61234 kB\nVmRSS:\t   51200 kB\nThreads:\t9\n";
        assert_eq!(
            parse(text),
            Some(Memory {
                rss_kib: 51200,
                hwm_kib: 61234
            })
        );
    }

    #[test]
    fn a_status_text_without_vmrss_gives_none() {
        assert_eq!(parse("Name:\tzombie\nVmHWM:\t1 kB\n"), None);
    }

    #[test]
    fn reads_this_process() {
        let m = memory(std::process::id()).expect("own /proc status");
        assert!(m.rss_kib > 0 && m.hwm_kib >= m.rss_kib, "{m:?}");
    }
}
