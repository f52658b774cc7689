//! A global allocator that counts live and peak heap bytes.
//!
//! Resident-set numbers mix in the allocator's free lists and untouched
//! pages; counting what the program asked for gives the heap a connection
//! or a message really holds. Install it in a benchmark binary with
//! `#[global_allocator]`; the counters are process-wide.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting live and peak bytes.
#[derive(Debug, Default)]
pub struct CountingAlloc;

impl CountingAlloc {
    /// Heap bytes allocated and not yet freed.
    pub fn live() -> usize {
        LIVE.load(Ordering::Relaxed)
    }

    /// The largest [`CountingAlloc::live`] since the last reset.
    pub fn peak() -> usize {
        PEAK.load(Ordering::Relaxed)
    }

    /// Starts a new peak from the current live bytes.
    pub fn reset_peak() {
        PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

fn shrank(by: usize) {
    LIVE.fetch_sub(by, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` with the caller's layout
// unchanged; the counters are only bookkeeping beside it.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator with this layout.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`, with the caller's new size.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            // Counted as the logical change: a moving realloc briefly holds
            // both blocks, but so would any allocator the caller could use.
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        new
    }
}

/// The process's resident set size in bytes, from `/proc/self/statm`
/// (`None` where that file does not exist).
pub fn rss_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

fn page_size() -> usize {
    static PAGE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *PAGE.get_or_init(read_page_size)
}

fn read_page_size() -> usize {
    // Read once: the resident set is sampled often, and smaps is long.
    std::fs::read_to_string("/proc/self/smaps")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("KernelPageSize:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        })
        .map_or(4096, |kb| kb * 1024)
}

/// The soft limit on open file descriptors, from `/proc/self/limits`.
pub fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Runs `f` and returns the peak heap and peak resident bytes above what
/// was in use before it. Heap needs [`CountingAlloc`] installed as the
/// global allocator; resident is sampled from `/proc/self/statm` every
/// half millisecond by a helper thread (the kernel's own high-water mark
/// is updated lazily and cannot be trusted mid-run), so a peak shorter
/// than that can be missed. `None` where `/proc` is not available.
pub fn peak_of(f: impl FnOnce()) -> (usize, Option<usize>) {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    let heap_before = CountingAlloc::live();
    let rss_before = rss_bytes();
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut peak = 0usize;
            while !done.load(Ordering::Relaxed) {
                peak = peak.max(rss_bytes().unwrap_or(0));
                std::thread::sleep(std::time::Duration::from_micros(500));
            }
            peak.max(rss_bytes().unwrap_or(0))
        })
    };
    CountingAlloc::reset_peak();
    f();
    let heap = CountingAlloc::peak().saturating_sub(heap_before);
    done.store(true, Ordering::Relaxed);
    let sampled = sampler.join().ok();
    let rss = rss_before
        .zip(sampled)
        .map(|(before, peak)| peak.saturating_sub(before));
    (heap, rss)
}
