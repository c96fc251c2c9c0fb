//! Memory of a process from `/proc/<pid>/status`: `VmRSS` (now) and `VmHWM` (peak), and a
//! sampler that also keeps the highest `VmRSS` it saw.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Resident memory in KiB, and the thread count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rss {
    /// `VmRSS`: resident now.
    pub rss_kib: u64,
    /// `VmHWM`: the peak since the process started.
    pub hwm_kib: u64,
    /// `Threads`: threads now.
    pub threads: u64,
}

/// Parses the `VmRSS` and `VmHWM` lines of a `/proc/<pid>/status` text.
pub fn parse_status(text: &str) -> Option<Rss> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|rest| rest.trim().trim_end_matches("kB").trim())
            .and_then(|n| n.parse::<u64>().ok())
    };
    Some(Rss {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
        threads: field("Threads:").unwrap_or(0),
    })
}

/// Reads the memory of `pid` (None when the process is gone).
pub fn read(pid: u32) -> Option<Rss> {
    parse_status(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// Samples `VmRSS` of a process every `every` on a thread until dropped.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    max_rss: Arc<AtomicU64>,
    max_threads: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    /// Starts sampling `pid`.
    pub fn start(pid: u32, every: Duration) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let max_rss = Arc::new(AtomicU64::new(0));
        let max_threads = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, max_rss, max_threads) = (stop.clone(), max_rss.clone(), max_threads.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match read(pid) {
                        Some(r) => {
                            max_rss.fetch_max(r.rss_kib, Ordering::Relaxed);
                            max_threads.fetch_max(r.threads, Ordering::Relaxed);
                        }
                        None => break,
                    }
                    std::thread::sleep(every);
                }
            })
        };
        Sampler {
            stop,
            max_rss,
            max_threads,
            thread: Some(thread),
        }
    }

    /// Highest `VmRSS` seen so far (KiB).
    pub fn max_rss_kib(&self) -> u64 {
        self.max_rss.load(Ordering::Relaxed)
    }

    /// Most threads seen so far.
    pub fn max_threads(&self) -> u64 {
        self.max_threads.load(Ordering::Relaxed)
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rss_and_peak_from_proc_status() {
        let text = "Name:\txoev-router\nVmPeak:\t  900000 kB\nVmHWM:\t   51234 kB\nVmRSS:\t   40960 kB\nThreads:\t4\n";
        assert_eq!(
            parse_status(text),
            Some(Rss {
                rss_kib: 40_960,
                hwm_kib: 51_234,
                threads: 4,
            })
        );
    }

    #[test]
    fn status_without_memory_lines_is_none() {
        assert_eq!(parse_status("Name:\tkthreadd\nState:\tS\n"), None);
    }

    #[test]
    fn reads_this_process() {
        let r = read(std::process::id()).expect("own /proc status");
        assert!(r.rss_kib > 0 && r.hwm_kib >= r.rss_kib, "{r:?}");
    }
}
