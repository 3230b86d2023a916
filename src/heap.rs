//! podtop's own heap, handed back to the kernel as it frees.
//!
//! glibc's malloc keeps what a program frees for its next allocations: the
//! top of each arena is returned past a threshold, but free pages in the
//! middle of an arena stay resident. podtop's allocations follow the
//! traffic (records, HTTP exchanges, names), so every burst leaves a new
//! high-water mark of free pages behind, and a DaemonSet's memory limit is
//! approached in steps that never come back down. `malloc_trim` advises the
//! kernel to drop every whole free page in every arena; once an interval it
//! costs a walk of the free lists (measured by `make soak`, which prints
//! each podtop's CPU time beside its memory).

/// Returns every whole free page of the heap to the kernel.
pub fn return_free_pages() {
    // SAFETY: malloc_trim takes no pointers; it only walks malloc's own lists.
    #[cfg(target_env = "gnu")]
    unsafe {
        libc::malloc_trim(0);
    }
}
