//! The ring buffer's pages made resident at start.
//!
//! The kernel allocates (and charges to podtop's cgroup) every page of the
//! ring buffer when the map is made, and maps its data twice in a row so a
//! record that wraps reads as one slice. Untouched, those pages enter
//! podtop's resident set only as the reader first reaches each one, so RSS
//! would climb over the ring's first laps (twice its size) without any
//! allocation. Faulting them in at start makes RSS say from the first
//! second what the ring costs.

use std::fs;

/// Faults in every mapping of a ring buffer of `ring_bytes` in this process
/// (its data mapped twice after one page of positions); returns the bytes
/// made resident.
pub fn make_ring_buffer_resident(ring_bytes: usize) -> usize {
    let page = page_size();
    let expected = page + 2 * ring_bytes;
    let Ok(maps) = fs::read_to_string("/proc/self/maps") else { return 0 };
    ring_mappings(&maps, expected).map(|(start, len)| populate(start, len, page)).sum()
}

/// The read-only shared BPF map mappings of exactly `len` bytes, as (start, len).
fn ring_mappings(maps: &str, len: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
    maps.lines().filter_map(move |line| {
        let mut fields = line.split_whitespace();
        let range = fields.next()?;
        let perms = fields.next()?;
        let name = fields.nth(3)?;
        let (start, end) = range.split_once('-')?;
        let (start, end) = (usize::from_str_radix(start, 16).ok()?, usize::from_str_radix(end, 16).ok()?);
        (name == "anon_inode:bpf-map" && perms == "r--s" && end.checked_sub(start)? == len).then_some((start, len))
    })
}

fn populate(start: usize, len: usize, page: usize) -> usize {
    // SAFETY: the range is one whole mapping of this process, listed by the
    // kernel, that libbpf keeps mapped for as long as the reader lives;
    // populating reads nothing and changes nothing in it.
    let done = unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_POPULATE_READ) } == 0;
    if !done {
        // Kernels before 5.14 lack MADV_POPULATE_READ: read a byte of each page.
        for offset in (0..len).step_by(page) {
            // SAFETY: as above, and the mapping is readable.
            unsafe { std::ptr::read_volatile((start + offset) as *const u8) };
        }
    }
    len
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_ring_buffers_double_mapping_is_chosen() {
        let maps = "\
7f0000000000-7f0000001000 rw-s 00000000 00:0e 77 anon_inode:bpf-map
7f0000001000-7f0002002000 r--s 00001000 00:0e 77 anon_inode:bpf-map
7f0003000000-7f0003001000 r--s 00000000 00:0e 78 anon_inode:bpf-map
7f0004000000-7f0006001000 r--s 00000000 08:01 12 /home/user/anon_inode:bpf-map
7f0008000000-7f000a001000 r--p 00000000 00:00 0
";
        let found: Vec<_> = ring_mappings(maps, 0x1000 + 2 * 16 * 1024 * 1024).collect();
        assert_eq!(found, vec![(0x7f0000001000, 0x2001000)]);
    }
}
