//! The one table of a `scenarios` run (Markdown).

use super::Results;
use crate::client::Proto;
use crate::pki::KeyKind;

fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}

fn pct(part: f64, whole: f64) -> String {
    if whole > 0.0 {
        format!("{:.0} %", 100.0 * part / whole)
    } else {
        "n/a".into()
    }
}

/// The table of everything measured (Markdown).
pub fn table(r: &Results) -> String {
    let mut rows: Vec<[String; 4]> = Vec::new();
    let ceiling = |name: &str| r.http_ceiling.iter().find(|c| c.label == name);
    let crypto = |k: KeyKind| r.crypto_ceiling.iter().find(|c| c.key == k);
    for t in &r.throughput {
        let run = &t.run;
        let what = format!(
            "{} {} B {:?} {}",
            run.corpus.key.name(),
            run.corpus.message_len,
            run.proto,
            match run.rate {
                Some(x) => format!("fixed {x:.0}/s"),
                None => format!("flat out ×{}", run.connections * run.streams),
            }
        );
        let target = if t.name.starts_with('3') {
            "≥ 200 MiB/s; peak RSS ≤ 300 MiB".to_owned()
        } else if run.rate.is_some() {
            "p99 ≤ 10 ms at 5,000/s (half of 10,000/s)".to_owned()
        } else {
            "≥ 10,000/s; delivery keeps pace".to_owned()
        };
        let mut measured = if t.name.starts_with('3') {
            format!(
                "{:.1} MiB/s ({:.0}/s); peak RSS {}",
                run.mib_per_s,
                run.accepted_per_s,
                mib(t.peak_rss_kib)
            )
        } else if run.rate.is_some() {
            format!(
                "p99 {:.1} ms (p50 {:.1}, p99.9 {:.1}); {:.0}/s accepted{}",
                run.latency.p99,
                run.latency.p50,
                run.latency.p999,
                run.accepted_per_s,
                if run.unsent_due > 0 {
                    format!(
                        "; rate not sustained: {} due requests never sent",
                        run.unsent_due
                    )
                } else {
                    String::new()
                }
            )
        } else {
            format!(
                "{:.0}/s; delivered {:.0}/s; queue {:+.0}/s",
                run.accepted_per_s, t.delivered_per_s, t.depth_growth_per_s
            )
        };
        if run.rate.is_none() && !t.name.starts_with('3') {
            let hc = ceiling(match run.proto {
                Proto::H1 => "ceiling-http-4k-h1",
                Proto::H2 => "ceiling-http-4k-h2",
            });
            if let Some(hc) = hc {
                measured.push_str(&format!(
                    "; {} of HTTP ceiling",
                    pct(run.accepted_per_s, hc.accepted_per_s)
                ));
            }
            if let Some(c) = crypto(run.corpus.key) {
                measured.push_str(&format!(
                    "; {} of crypto ceiling",
                    pct(run.accepted_per_s, c.verify_per_s)
                ));
            }
        }
        if t.name.starts_with('3')
            && let Some(hc) = ceiling("ceiling-http-1m-h1")
        {
            measured.push_str(&format!(
                "; {} of HTTP ceiling",
                pct(run.mib_per_s, hc.mib_per_s)
            ));
        }
        let errors: u64 = run.rejected.values().chain(run.failed.values()).sum();
        let notes = format!(
            "cores router/authority/generator {:.2}/{:.2}/{:.2}; p99 {:.1} ms; e2e p99 {:.0} ms; RSS peak {}; errors {errors}; lost {}; altered {}; dup {}; load {:.1}{}",
            t.cores.router,
            t.cores.authority,
            t.cores.generator,
            run.latency.p99,
            t.ledger.e2e_latency_ms.p99,
            mib(t.peak_rss_kib),
            t.ledger.outstanding,
            t.ledger.mismatched,
            t.ledger.duplicates,
            t.load_after[0],
            if run.corpus_exhausted {
                "; corpus exhausted"
            } else {
                ""
            }
        );
        let id = t.name.split('-').next().unwrap_or_default();
        rows.push([format!("{id} {what}"), target, measured, notes]);
    }
    if let Some(b) = &r.backlog {
        rows.push([
            format!("4 backlog {} × {} B, authority down", b.messages, b.fill.corpus.message_len),
            "RSS ≤ 300 MiB; drain ≥ scenario-1 rate".into(),
            format!(
                "fill {:.0}/s, RSS peak {} (after fill {}); drain {:.0}/s (best second {:.0}/s) in {:.1} s",
                b.fill.accepted_per_s,
                mib(b.fill_peak_rss_kib.max(b.drain_peak_rss_kib)),
                mib(b.rss_after_fill_kib),
                b.drain_per_s,
                b.drain_peak_per_s,
                b.drain_s
            ),
            format!(
                "not delivered {} (dead letters {}, still queued {}, circuits open {}); altered {}; dup {}; drained {}; load {:.1}",
                b.ledger.outstanding,
                b.dead_letters,
                b.left_queued,
                b.circuits_open,
                b.ledger.mismatched,
                b.ledger.duplicates,
                b.drained,
                b.load_after[0]
            ),
        ]);
        rows.push([
            format!("5 start-up with {} queued", b.messages),
            "< 5 s (with 1,000,000)".into(),
            format!(
                "{:.2} s to ready; RSS {}",
                b.startup_s,
                mib(b.restart_rss_kib)
            ),
            format!("graceful stop took {:.1} s", b.stop_s),
        ]);
    }
    if let Some(i) = &r.idle {
        rows.push([
            "5 idle after start".into(),
            "RSS ≤ 30 MiB".into(),
            format!("RSS {} (peak {})", mib(i.rss_kib), mib(i.hwm_kib)),
            format!("ready in {:.2} s", i.startup_s),
        ]);
    }
    for c in &r.http_ceiling {
        rows.push([
            format!("ceiling HTTP {} B {:?}", c.corpus.message_len, c.proto),
            "—".into(),
            format!("{:.0}/s ({:.1} MiB/s)", c.accepted_per_s, c.mib_per_s),
            format!("p99 {:.1} ms", c.latency.p99),
        ]);
    }
    for c in &r.crypto_ceiling {
        rows.push([
            format!("ceiling crypto {}", c.key.name()),
            "—".into(),
            format!("{:.0} verify/s on {} threads", c.verify_per_s, c.threads),
            format!(
                "{:.0}/s on one thread; SHA-256 of {} B {:.0}/s",
                c.verify_per_s_per_thread, c.digest_len, c.digest_per_s
            ),
        ]);
    }
    let mut s =
        String::from("| scenario | target | measured | notes |\n| --- | --- | --- | --- |\n");
    for r in rows {
        s.push_str(&format!("| {} | {} | {} | {} |\n", r[0], r[1], r[2], r[3]));
    }
    s
}
