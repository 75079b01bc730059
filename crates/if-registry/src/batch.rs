//! `resolve_all`: many images resolved at once on scoped threads pulling from one work
//! queue, at most `limit` at a time, results in input order; [`map_bounded`], the same
//! queue for any per-item call (a tag listing then a resolution, say).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use if_model::reference::ImageRef;

use crate::Client;
use crate::error::RegistryError;
use crate::manifest::{Resolved, resolve_digest};

/// How many images are resolved at once by default.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// Resolves every image, at most `limit` at a time (0 counts as 1); the results are in
/// the order of `images`. Token requests are shared: concurrent resolutions in one
/// repository wait for one token.
pub fn resolve_all(
    client: &Client,
    images: &[ImageRef],
    limit: usize,
) -> Vec<Result<Resolved, RegistryError>> {
    resolve_all_with_progress(client, images, limit, &|_, _| {})
}

/// [`resolve_all`], calling `progress(done, total)` after each image (from the worker
/// threads, in completion order). The client is told to [expect](Client::expect) the
/// images first, so that their token requests are shared.
pub fn resolve_all_with_progress(
    client: &Client,
    images: &[ImageRef],
    limit: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Vec<Result<Resolved, RegistryError>> {
    client.expect(images);
    map_bounded(
        images,
        limit,
        |image| resolve_digest(client, image),
        progress,
    )
}

/// `call` on every item, at most `limit` at a time (0 counts as 1) on scoped threads
/// pulling from one queue; the results in the order of `items`. `progress(done, total)`
/// after each item.
pub fn map_bounded<T: Sync, R: Send>(
    items: &[T],
    limit: usize,
    call: impl Fn(&T) -> R + Sync,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Vec<R> {
    let total = items.len();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let workers = limit.max(1).min(total);
    let mut slots: Vec<Option<R>> = Vec::new();
    slots.resize_with(total, || None);
    thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut results = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(index) else {
                            break;
                        };
                        results.push((index, call(item)));
                        progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                    }
                    results
                })
            })
            .collect();
        for handle in handles {
            match handle.join() {
                Ok(results) => {
                    for (index, result) in results {
                        if let Some(slot) = slots.get_mut(index) {
                            *slot = Some(result);
                        }
                    }
                }
                // A worker panicked: a bug, not a registry failure; pass the panic on.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    slots.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn map_bounded_keeps_order_and_runs_at_most_limit_at_once() {
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let items: Vec<usize> = (0..40).collect();
        let out = map_bounded(
            &items,
            3,
            |i| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                thread::sleep(Duration::from_millis(2));
                running.fetch_sub(1, Ordering::SeqCst);
                i * 2
            },
            &|_, _| {},
        );
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        let most = most.load(Ordering::SeqCst);
        assert!((2..=3).contains(&most), "{most} at once");
        assert!(map_bounded(&[] as &[u8], 0, |_| 1, &|_, _| {}).is_empty());
    }
}
