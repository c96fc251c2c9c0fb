//! The standard `process_*` metrics (Prometheus client conventions), read from `/proc` at
//! every scrape: what capacity planning watches, since retained messages cost the router
//! memory (docs/configuration.md, "Sizing").

use std::fs;

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Counter, Gauge, IntGauge, Opts};

/// Memory, CPU, threads, open files and start time of this process.
pub struct ProcessCollector {
    resident: IntGauge,
    virtual_memory: IntGauge,
    cpu: Counter,
    threads: IntGauge,
    open_fds: IntGauge,
    max_fds: IntGauge,
    start_time: Gauge,
    descs: Vec<Desc>,
}

/// What `/proc/self/stat` says, in the units the metrics use.
#[derive(Debug, PartialEq)]
struct Stat {
    cpu_seconds: f64,
    threads: i64,
    start_seconds_after_boot: f64,
    virtual_bytes: i64,
    resident_bytes: i64,
}

/// Parses `/proc/self/stat` (proc(5)). The command name in parentheses may contain spaces
/// and parentheses, so fields are counted from the last `)`.
fn parse_stat(text: &str, ticks_per_second: f64, page_size: i64) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // `f[0]` is field 3 (state) of proc(5).
    let field = |n: usize| f.get(n - 3).and_then(|v| v.parse::<f64>().ok());
    Some(Stat {
        cpu_seconds: (field(14)? + field(15)?) / ticks_per_second,
        threads: field(20)? as i64,
        start_seconds_after_boot: field(22)? / ticks_per_second,
        virtual_bytes: field(23)? as i64,
        resident_bytes: field(24)? as i64 * page_size,
    })
}

/// The soft limit of open files from `/proc/self/limits`; `None` when unlimited or unknown.
fn parse_max_fds(limits: &str) -> Option<i64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The boot time (seconds since the Unix epoch) from `/proc/stat`.
fn parse_boot_time(stat: &str) -> Option<f64> {
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

impl ProcessCollector {
    pub fn new() -> ProcessCollector {
        let int = |name: &str, help: &str| {
            IntGauge::with_opts(Opts::new(name, help)).expect("valid metric")
        };
        let resident = int(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
        );
        let virtual_memory = int(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
        );
        let threads = int("process_threads", "Number of OS threads in the process.");
        let open_fds = int("process_open_fds", "Number of open file descriptors.");
        let max_fds = int(
            "process_max_fds",
            "Maximum number of open file descriptors.",
        );
        let cpu = Counter::with_opts(Opts::new(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
        ))
        .expect("valid metric");
        let start_time = Gauge::with_opts(Opts::new(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
        ))
        .expect("valid metric");
        let mut descs = Vec::new();
        for d in [
            resident.desc(),
            virtual_memory.desc(),
            threads.desc(),
            open_fds.desc(),
            max_fds.desc(),
            cpu.desc(),
            start_time.desc(),
        ] {
            descs.extend(d.into_iter().cloned());
        }
        ProcessCollector {
            resident,
            virtual_memory,
            cpu,
            threads,
            open_fds,
            max_fds,
            start_time,
            descs,
        }
    }

    /// Reads `/proc` into the metrics; what cannot be read keeps its last value.
    fn refresh(&self) {
        let ticks = rustix::param::clock_ticks_per_second() as f64;
        let page = rustix::param::page_size() as i64;
        if let Some(s) = fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|t| parse_stat(&t, ticks, page))
        {
            self.resident.set(s.resident_bytes);
            self.virtual_memory.set(s.virtual_bytes);
            self.threads.set(s.threads);
            let grown = s.cpu_seconds - self.cpu.get();
            if grown > 0.0 {
                self.cpu.inc_by(grown);
            }
            if let Some(boot) = fs::read_to_string("/proc/stat")
                .ok()
                .and_then(|t| parse_boot_time(&t))
            {
                self.start_time.set(boot + s.start_seconds_after_boot);
            }
        }
        if let Ok(dir) = fs::read_dir("/proc/self/fd") {
            // The directory handle being read is one of them.
            self.open_fds.set(dir.count() as i64 - 1);
        }
        if let Some(max) = fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|t| parse_max_fds(&t))
        {
            self.max_fds.set(max);
        }
    }
}

impl Default for ProcessCollector {
    fn default() -> Self {
        Self::new()
    }
}

impl Collector for ProcessCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.refresh();
        let mut out = Vec::new();
        out.extend(self.resident.collect());
        out.extend(self.virtual_memory.collect());
        out.extend(self.threads.collect());
        out.extend(self.open_fds.collect());
        out.extend(self.max_fds.collect());
        out.extend(self.cpu.collect());
        out.extend(self.start_time.collect());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_whose_command_holds_spaces_and_parentheses_is_read_from_the_last_parenthesis() {
        let line = "4242 (xoev (router) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 \
                    17 0 12345 987654321 2048 18446744073709551615";
        let s = parse_stat(line, 100.0, 4096).expect("parses");
        assert_eq!(
            s,
            Stat {
                cpu_seconds: 3.0,
                threads: 17,
                start_seconds_after_boot: 123.45,
                virtual_bytes: 987_654_321,
                resident_bytes: 2048 * 4096,
            }
        );
    }

    #[test]
    fn a_truncated_stat_line_gives_nothing_instead_of_wrong_numbers() {
        assert_eq!(parse_stat("4242 (x) S 1 2 3", 100.0, 4096), None);
        assert_eq!(parse_stat("no parenthesis", 100.0, 4096), None);
    }

    #[test]
    fn the_open_files_limit_and_boot_time_are_read_and_unlimited_is_none() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(parse_max_fds(limits), Some(1024));
        assert_eq!(
            parse_max_fds("Max open files            unlimited            unlimited    files"),
            None
        );
        assert_eq!(
            parse_boot_time("cpu  1 2 3\nbtime 1765000000\nprocesses 5\n"),
            Some(1_765_000_000.0)
        );
    }

    #[test]
    fn this_process_reports_its_memory_threads_and_files() {
        let c = ProcessCollector::new();
        let families = c.collect();
        let value = |name: &str| {
            let f = families
                .iter()
                .find(|f| f.name() == name)
                .unwrap_or_else(|| panic!("{name} missing"));
            let m = &f.get_metric()[0];
            if name.ends_with("_total") {
                m.get_counter().get_value()
            } else {
                m.get_gauge().get_value()
            }
        };
        assert!(value("process_resident_memory_bytes") > 1_000_000.0);
        assert!(value("process_threads") >= 1.0);
        assert!(value("process_open_fds") >= 3.0);
        assert!(value("process_max_fds") >= value("process_open_fds"));
        let start = value("process_start_time_seconds");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs_f64();
        assert!(
            start > now - 86_400.0 && start <= now + 1.0,
            "{start} vs {now}"
        );
    }
}
