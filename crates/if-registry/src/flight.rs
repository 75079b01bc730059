//! `Flights`: a cache shared across threads in which concurrent callers for one key wait
//! for the first one's work instead of repeating it (one token request per registry and
//! scope, one discovery of a registry's auth scheme).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// A key's state.
enum Slot<V> {
    /// A leader is working on the value.
    Running,
    /// The value.
    Ready(V),
}

/// The cache.
pub(crate) struct Flights<K, V> {
    slots: Mutex<HashMap<K, Slot<V>>>,
    changed: Condvar,
}

/// What [`Flights::turn`] gives a caller.
pub(crate) enum Turn<'a, K: Eq + Hash, V> {
    /// A usable value, cached or just made by another caller.
    Ready(V),
    /// No usable value and nobody working on one: this caller leads and must call
    /// [`Lead::finish`] (dropping the lead unfinished lets the next caller lead).
    Lead(Lead<'a, K, V>),
}

/// The duty to produce a key's value.
pub(crate) struct Lead<'a, K: Eq + Hash, V> {
    flights: &'a Flights<K, V>,
    key: Option<K>,
}

impl<K, V> Flights<K, V> {
    fn lock(&self) -> MutexGuard<'_, HashMap<K, Slot<V>>> {
        // A panic while holding the lock leaves the map consistent (each step is one
        // insert or remove), so a poisoned lock is still usable.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `change` under the lock, then wakes every waiting caller.
    fn settle(&self, change: impl FnOnce(&mut HashMap<K, Slot<V>>)) {
        let mut slots = self.lock();
        change(&mut slots);
        drop(slots);
        self.changed.notify_all();
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Flights<K, V> {
    pub(crate) fn new() -> Self {
        Flights {
            slots: Mutex::new(HashMap::new()),
            changed: Condvar::new(),
        }
    }

    /// The value for `key` if there is one that `usable` accepts; else waits while another
    /// caller leads; else makes this caller the leader.
    pub(crate) fn turn(&self, key: &K, usable: impl Fn(&V) -> bool) -> Turn<'_, K, V> {
        let mut slots = self.lock();
        loop {
            match slots.get(key) {
                Some(Slot::Ready(value)) if usable(value) => return Turn::Ready(value.clone()),
                Some(Slot::Running) => {
                    slots = self
                        .changed
                        .wait(slots)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                _ => {
                    slots.insert(key.clone(), Slot::Running);
                    return Turn::Lead(Lead {
                        flights: self,
                        key: Some(key.clone()),
                    });
                }
            }
        }
    }

    /// Leads `key` if nobody does and it has no value `usable` accepts; never waits.
    pub(crate) fn try_lead(&self, key: &K, usable: impl Fn(&V) -> bool) -> Option<Lead<'_, K, V>> {
        let mut slots = self.lock();
        match slots.get(key) {
            Some(Slot::Running) => None,
            Some(Slot::Ready(value)) if usable(value) => None,
            _ => {
                slots.insert(key.clone(), Slot::Running);
                Some(Lead {
                    flights: self,
                    key: Some(key.clone()),
                })
            }
        }
    }

    /// Every value there is.
    pub(crate) fn values(&self) -> Vec<V> {
        self.lock()
            .values()
            .filter_map(|slot| match slot {
                Slot::Ready(value) => Some(value.clone()),
                Slot::Running => None,
            })
            .collect()
    }

    /// Sets `key`'s value, unless a leader is working on it (the leader's value wins).
    pub(crate) fn set(&self, key: &K, value: V) {
        let mut slots = self.lock();
        if !matches!(slots.get(key), Some(Slot::Running)) {
            slots.insert(key.clone(), Slot::Ready(value));
        }
    }

    /// Forgets `key`'s value if `stale` says so (not while a leader works on it).
    pub(crate) fn forget_if(&self, key: &K, stale: impl Fn(&V) -> bool) {
        let mut slots = self.lock();
        if matches!(slots.get(key), Some(Slot::Ready(value)) if stale(value)) {
            slots.remove(key);
        }
    }
}

impl<K: Eq + Hash, V> Lead<'_, K, V> {
    /// Stores the value and wakes the waiting callers.
    pub(crate) fn finish(mut self, value: V) {
        if let Some(key) = self.key.take() {
            self.flights.settle(|slots| {
                slots.insert(key, Slot::Ready(value));
            });
        }
    }
}

impl<K: Eq + Hash, V> Drop for Lead<'_, K, V> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.flights.settle(|slots| {
                slots.remove(&key);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::thread;
    use std::time::Duration;

    fn get(flights: &Flights<u8, u32>, runs: &AtomicU32, fail: bool) -> Option<u32> {
        match flights.turn(&1, |_| true) {
            Turn::Ready(v) => Some(v),
            Turn::Lead(lead) => {
                runs.fetch_add(1, Ordering::SeqCst);
                thread::sleep(Duration::from_millis(30));
                if fail {
                    return None;
                }
                lead.finish(7);
                Some(7)
            }
        }
    }

    #[test]
    fn concurrent_callers_share_one_run() {
        let flights = Flights::new();
        let runs = AtomicU32::new(0);
        thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| assert_eq!(get(&flights, &runs, false), Some(7)));
            }
        });
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_failed_lead_passes_the_turn_on() {
        let flights = Flights::new();
        let runs = AtomicU32::new(0);
        assert_eq!(get(&flights, &runs, true), None);
        assert_eq!(get(&flights, &runs, false), Some(7));
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn unusable_values_are_replaced_and_forget_if() {
        let flights: Flights<u8, u32> = Flights::new();
        flights.set(&1, 3);
        assert!(matches!(flights.turn(&1, |v| *v > 5), Turn::Lead(_)));
        flights.set(&1, 9);
        assert!(matches!(flights.turn(&1, |v| *v > 5), Turn::Ready(9)));
        flights.forget_if(&1, |v| *v == 8);
        assert!(matches!(flights.turn(&1, |_| true), Turn::Ready(9)));
        flights.forget_if(&1, |v| *v == 9);
        assert!(matches!(flights.turn(&1, |_| true), Turn::Lead(_)));
    }

    #[test]
    fn try_lead_never_waits() {
        let flights: Flights<u8, u32> = Flights::new();
        let lead = flights.try_lead(&1, |_| true).unwrap();
        assert!(flights.try_lead(&1, |_| true).is_none(), "running");
        lead.finish(4);
        assert!(flights.try_lead(&1, |_| true).is_none(), "usable");
        assert_eq!(flights.values(), [4]);
        let again = flights.try_lead(&1, |v| *v > 4).unwrap();
        drop(again);
        assert!(flights.values().is_empty());
    }
}
