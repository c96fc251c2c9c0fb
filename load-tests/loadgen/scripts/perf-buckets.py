#!/usr/bin/env python3
"""Where the router's CPU goes, from a perf profile with call chains.

Usage: perf script -i perf.data --no-inline > script.txt; perf-buckets.py script.txt

Each sample goes to the first bucket (in the order below) whose pattern matches any frame of
its stack, so a bucket includes the locks, allocations and kernel time below it, and the
shares add up to 100 %. Record with DWARF stacks (`xoev-loadgen scenarios --perf` does:
perf record -F 399 --call-graph dwarf,16384 -p <router pid>); release builds have no frame
pointers."""
import re, sys, collections
BUCKETS = [
    ("sled-io threads: write_to_log incl. sync_file_range", r"sled::pagecache::iobuf::IoBufs::write_to_log"),
    ("sled-io threads: other background work", r"sled::threadpool::perform_work"),
    ("queue flusher thread (sled flush + fsync)", r"xoev_queue::sled_store::flusher"),
    ("queue lease endings: complete/retry (sled transaction)", r"xoev_queue::sled_store::ops::.*(complete|end_lease|retry)"),
    # Since round 12 a writer round commits its lease endings and leases in one transaction
    # (`scans::end_and_lease`) and its enqueues in another (`ops::enqueue_batch`): both
    # commits land here, and so do the other writer jobs (`writer::`).
    ("queue writer rounds: leases, enqueues, commits", r"xoev_queue::sled_store::(writer::|scans::.*lease|ops::.*[Ee]nqueue)"),
    ("queue segment appender (write + fdatasync)", r"xoev_queue::sled_store::segments::Appender"),
    ("queue other", r"xoev_queue::"),
    ("dsig verify (c14n, digest, RSA/ECDSA)", r"xoev_dsig::verify::verify"),
    ("xml parse (xoev_xml)", r"xoev_xml::parser::parse"),
    ("schema validation (xoev_xsd)", r"xoev_xsd::"),
    ("pipeline other (header, routing)", r"xoev_routerd::ingress::pipeline::check"),
    ("ingress other (body read, response, metrics)", r"xoev_routerd::ingress::"),
    ("delivery worker + http adapter", r"xoev_routerd::delivery|xoev_adapter_http|hyper_util::client"),
    ("TLS (rustls record layer)", r"rustls::|tokio_rustls"),
    ("hyper server (HTTP parse/encode)", r"hyper::proto"),
    ("tokio blocking pool handoff (spawn_blocking, park)", r"tokio::runtime::blocking"),
    ("tokio scheduler / park / wake", r"tokio::runtime"),
    ("malloc/free (unattributed)", r"malloc|free|_int_"),
]
comp = [(n, re.compile(p)) for n, p in BUCKETS]
counts = collections.Counter()
threads = collections.Counter()
total = 0
stack = []
head = None
def flush():
    global total
    if head is None:
        return
    total += 1
    threads[re.sub(r"[-#]?\d+$", "", head)] += 1
    for n, c in comp:
        if any(c.search(f) for f in stack):
            counts[n] += 1
            return
    counts["other (kernel scheduling, syscalls, libc)"] += 1
for line in open(sys.argv[1], errors="replace"):
    if not line.strip():
        flush(); stack = []; head = None
        continue
    if not line.startswith((" ", "\t")):
        head = line.split()[0]
        continue
    parts = line.strip().split(None, 1)
    if len(parts) == 2:
        stack.append(parts[1])
flush()
print(f"{total} samples")
for n, c in counts.most_common():
    print(f"{100*c/total:6.1f} %  {n}")
print("by thread:")
for n, c in threads.most_common(8):
    print(f"{100*c/total:6.1f} %  {n}")
