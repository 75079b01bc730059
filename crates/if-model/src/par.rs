//! Data parallelism without a runtime: a map over a slice on scoped threads, in order.
//!
//! A factory of 100,000 images is 100,000 small files to read and parse; each is
//! independent, so they spread over the machine's cores. The result is the same as a
//! sequential map, element for element: parallelism never changes an output.

/// Fewer items than this are mapped on the calling thread (threads cost more than they save).
const MIN_PARALLEL: usize = 64;
/// The most threads used.
const MAX_THREADS: usize = 16;

/// `items.iter().map(f).collect()`, on up to one thread per core.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(MAX_THREADS);
    if threads < 2 || items.len() < MIN_PARALLEL {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for h in handles {
            match h.join() {
                Ok(part) => out.extend(part),
                // A panic in `f` is a bug; carry it to the caller as it would have been.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_result_is_the_sequential_map_in_order() {
        for n in [0, 1, 63, 64, 65, 1000, 4097] {
            let items: Vec<usize> = (0..n).collect();
            let got = map(&items, |i| i * 3 + 1);
            let want: Vec<usize> = items.iter().map(|i| i * 3 + 1).collect();
            assert_eq!(got, want, "n = {n}");
        }
    }
}
