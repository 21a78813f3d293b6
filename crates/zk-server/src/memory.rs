//! Giving freed heap memory back to the system.
//!
//! A background snapshot copies the tree (a million small path allocations for a million
//! znodes) and frees the copy once written. glibc keeps such freed chunks in its arenas, so the
//! server's resident size stayed a copy's worth above what the tree needs; `malloc_trim` returns
//! the whole free pages among them.

/// Returns the free pages of every malloc arena to the system.
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers and only walks glibc's own arenas under their locks.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}
