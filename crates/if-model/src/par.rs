//! Data parallelism without a runtime: a map over a slice on scoped threads, in order.
//!
//! A factory of 100,000 images is 100,000 small files to read and parse; each is
//! independent, so they spread over the machine's cores. The result is the same as a
//! sequential map, element for element: parallelism never changes an output.
//!
//! Work is handed out in small blocks from a shared counter, not split in equal halves up
//! front: on a shared machine one thread is often descheduled for a while, and the others
//! then take its share instead of waiting for it at the end.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Fewer items than this are mapped on the calling thread (threads cost more than they save).
const MIN_PARALLEL: usize = 64;
/// The most threads used.
const MAX_THREADS: usize = 16;
/// Blocks handed out per thread (more: better balance; fewer: less bookkeeping).
const BLOCKS_PER_THREAD: usize = 16;

/// `items.iter().map(f).collect()`, on up to one thread per core.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    map_with(items, MIN_PARALLEL, || (), |(), t| f(t))
}

/// [`map`] for few items that each take long (parts of a large file): parallel from two
/// items on.
pub fn map_heavy<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    map_with(items, 2, || (), |(), t| f(t))
}

/// [`map`] where each thread has its own scratch state made by `init` (a read buffer used
/// for every file the thread reads), parallel from `min_parallel` items on.
pub fn map_with<T: Sync, R: Send, S>(
    items: &[T],
    min_parallel: usize,
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, &T) -> R + Sync,
) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(MAX_THREADS)
        .min(items.len());
    if threads < 2 || items.len() < min_parallel.max(2) {
        let mut state = init();
        return items.iter().map(|t| f(&mut state, t)).collect();
    }
    let block = items.len().div_ceil(threads * BLOCKS_PER_THREAD).max(1);
    let blocks = items.len().div_ceil(block);
    let next = AtomicUsize::new(0);
    let (f, init, next) = (&f, &init, &next);
    let worker = move || {
        let mut state = init();
        let mut done: Vec<(usize, Vec<R>)> = Vec::new();
        loop {
            let b = next.fetch_add(1, Ordering::Relaxed);
            let Some(part) = items.chunks(block).nth(b) else {
                break;
            };
            done.push((b, part.iter().map(|t| f(&mut state, t)).collect()));
        }
        done
    };
    let mut parts: Vec<Option<Vec<R>>> = (0..blocks).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (1..threads).map(|_| scope.spawn(worker)).collect();
        let mine = worker();
        let theirs = handles.into_iter().map(|h| match h.join() {
            Ok(done) => done,
            // A panic in `f` is a bug; carry it to the caller as it would have been.
            Err(panic) => std::panic::resume_unwind(panic),
        });
        for (b, part) in std::iter::once(mine).chain(theirs).flatten() {
            if let Some(slot) = parts.get_mut(b) {
                *slot = Some(part);
            }
        }
    });
    let mut out = Vec::with_capacity(items.len());
    out.extend(parts.into_iter().flatten().flatten());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_result_is_the_sequential_map_in_order() {
        for n in [0, 1, 2, 3, 63, 64, 65, 1000, 4097] {
            let items: Vec<usize> = (0..n).collect();
            let want: Vec<usize> = items.iter().map(|i| i * 3 + 1).collect();
            assert_eq!(map(&items, |i| i * 3 + 1), want, "n = {n}");
            assert_eq!(map_heavy(&items, |i| i * 3 + 1), want, "n = {n}");
            let counted = map_with(
                &items,
                2,
                || 0usize,
                |seen, i| {
                    *seen += 1;
                    (i * 3 + 1, *seen)
                },
            );
            let values: Vec<usize> = counted.iter().map(|(v, _)| *v).collect();
            assert_eq!(values, want, "n = {n}");
            // Each thread's state is its own: counts restart per thread, never skip.
            assert!(counted.iter().all(|(_, seen)| *seen >= 1 && *seen <= n));
        }
    }
}
