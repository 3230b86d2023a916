//! User space's share of the per-event cost: decode -> enrich -> JSON, for
//! the record kinds that cross the ring buffer. No root, no BPF: records are
//! built as the kernel writes them and fed to the real pipeline.

use std::io;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use podtop::host::Host;
use podtop::enrich::Enricher;
use podtop::events::{ConnEvent, ExecEvent, Kind, OpenEvent};
use podtop::enrich::filter::Filter;
use podtop::output::JsonSink;
use podtop::pipeline::Pipeline;

const CGROUP: u64 = 4242;
const CONTAINER_PATH: &str = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b3c4d_0000_1111_2222_333344445555.slice/cri-containerd-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope";

/// A record's bytes with the ring buffer's 8-byte alignment.
fn record<T: Copy>(value: &T) -> Vec<u64> {
    let size = std::mem::size_of::<T>();
    let mut words = vec![0u64; size.div_ceil(8)];
    // SAFETY: copying the bytes of a plain C struct into a buffer at least as large.
    unsafe { std::ptr::copy_nonoverlapping((value as *const T).cast::<u8>(), words.as_mut_ptr().cast::<u8>(), size) };
    words
}

fn bytes(words: &[u64], size: usize) -> &[u8] {
    // SAFETY: the buffer holds at least `size` initialised bytes.
    unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), size) }
}

fn fill_comm(comm: &mut [i8; 16], name: &str) {
    for (slot, b) in comm.iter_mut().zip(name.bytes()) {
        *slot = b as i8;
    }
}

fn pipeline() -> Pipeline<JsonSink<io::Sink>> {
    let mut enricher = Enricher::new(Host::live(), None);
    enricher.cgroup_created(CGROUP, CONTAINER_PATH.to_string());
    Pipeline::new(enricher, JsonSink::new(io::sink(), "node-1".into()), Filter::default(), true)
}

fn open_record() -> Vec<u64> {
    let mut e = OpenEvent::default();
    e.hdr.kind = Kind::Open as u32;
    e.hdr.who.cgroup_id = CGROUP;
    e.hdr.who.pid = 1234;
    e.hdr.who.tid = 1234;
    fill_comm(&mut e.hdr.who.comm, "nginx");
    let path = b"/var/lib/nginx/cache/3/7a/c1d9f9a7e5b3";
    for (i, b) in path.iter().enumerate() {
        e.path[i] = *b as i8;
    }
    e.path_len = path.len() as u32;
    e.flags = 0o2000000;
    e.ret = 7;
    e.ino = 99;
    e.dev = (8 << 20) | 1;
    record(&e)
}

fn exec_record() -> Vec<u64> {
    let mut e = ExecEvent::default();
    e.hdr.kind = Kind::Exec as u32;
    e.hdr.who.cgroup_id = CGROUP;
    e.hdr.who.pid = 1235;
    fill_comm(&mut e.hdr.who.comm, "sh");
    let filename = b"/bin/sh";
    for (i, b) in filename.iter().enumerate() {
        e.filename[i] = *b as i8;
    }
    e.filename_len = filename.len() as u32;
    let args = b"sh\0-c\0curl -s http://backend:8080/healthz\0";
    for (i, b) in args.iter().enumerate() {
        e.args[i] = *b as i8;
    }
    e.args_len = args.len() as u32;
    record(&e)
}

fn close_record() -> Vec<u64> {
    let mut e = ConnEvent::default();
    e.hdr.kind = Kind::Close as u32;
    e.hdr.who.cgroup_id = CGROUP;
    e.hdr.who.pid = 1236;
    fill_comm(&mut e.hdr.who.comm, "envoy");
    e.saddr[..4].copy_from_slice(&[10, 244, 1, 7]);
    e.daddr[..4].copy_from_slice(&[10, 244, 2, 9]);
    e.sport = 43210;
    e.dport = 8080;
    e.family = 2;
    e.protocol = 6;
    e.tx_bytes = 1_000_000;
    e.rx_bytes = 500;
    record(&e)
}

fn per_event(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode+enrich+json");
    group.throughput(Throughput::Elements(1));
    for (name, words, size) in [
        ("open", open_record(), std::mem::size_of::<OpenEvent>()),
        ("exec", exec_record(), std::mem::size_of::<ExecEvent>()),
        ("close", close_record(), std::mem::size_of::<ConnEvent>()),
    ] {
        let mut p = pipeline();
        let data = bytes(&words, size);
        assert_eq!(p.handle(data), 0);
        group.bench_function(name, |b| b.iter(|| p.handle(std::hint::black_box(data))));
    }
    group.finish();
}

criterion_group!(benches, per_event);
criterion_main!(benches);
