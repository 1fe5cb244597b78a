//! Concurrency of one fetcher: a memo that computes each key once, permits that bound the work across
//! callers, counted network requests, and a bounded parallel map.

use super::*;

/// Values computed once per key, even when several threads ask at the same time (the others wait and
/// share the result); a value its computer does not keep is forgotten, so the next asker computes again.
pub(super) struct Memo<K, V> {
    cells: Mutex<HashMap<K, Arc<OnceLock<V>>>>,
}

impl<K, V> fmt::Debug for Memo<K, V> {
    // Only the count: the values are whole files.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self
            .cells
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len();
        write!(f, "Memo({count} entries)")
    }
}

impl<K, V> Default for Memo<K, V> {
    fn default() -> Self {
        Self {
            cells: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + std::hash::Hash, V: Clone> Memo<K, V> {
    /// The value under `key`, computed now if there is none; one for which `keep` says false is not
    /// remembered.
    pub(super) fn get_or(
        &self,
        key: K,
        compute: impl FnOnce() -> V,
        keep: impl FnOnce(&V) -> bool,
    ) -> V {
        let cell = Arc::clone(
            self.cells
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(key)
                .or_default(),
        );
        // The map is unlocked while computing: only askers of the same key wait.
        let mut computed = false;
        let value = cell
            .get_or_init(|| {
                computed = true;
                compute()
            })
            .clone();
        if computed && !keep(&value) {
            // Only this cell: a later asker may already have put a fresh one under the key.
            self.cells
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .retain(|_, other| !Arc::ptr_eq(other, &cell));
        }
        value
    }
}

/// Whether a fetch result is an answer worth remembering for the rest of the run.
pub(super) fn permanent<T>(result: &Result<T, SourceError>) -> bool {
    result.as_ref().err().is_none_or(|err| !err.is_transient())
}

/// A counting semaphore: how many fetches may run at once across every user of a fetcher.
#[derive(Debug)]
pub(super) struct Permits {
    free: Mutex<usize>,
    returned: Condvar,
}

pub(super) struct Permit<'a>(&'a Permits);

impl Permits {
    pub(super) fn new(count: usize) -> Self {
        Self {
            free: Mutex::new(count.max(1)),
            returned: Condvar::new(),
        }
    }

    pub(super) fn acquire(&self) -> Permit<'_> {
        let mut free = self
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while *free == 0 {
            free = self
                .returned
                .wait(free)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *free -= 1;
        Permit(self)
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self
            .0
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) += 1;
        self.0.returned.notify_one();
    }
}

thread_local! {
    /// Network requests made by this thread, so that a call can count its own among shared ones.
    pub(super) static THREAD_REQUESTS: Cell<usize> = const { Cell::new(0) };
}

/// Runs `work`, adding the network requests it made on this thread to `made`.
pub(super) fn counted<R>(made: &AtomicUsize, work: impl FnOnce() -> R) -> R {
    let before = THREAD_REQUESTS.with(Cell::get);
    let result = work();
    made.fetch_add(THREAD_REQUESTS.with(Cell::get) - before, Ordering::Relaxed);
    result
}

/// Runs `f` on every item with at most `limit` threads; results in item order.
pub(crate) fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    limit: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    let workers = limit.max(1).min(items.len());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(index) else { break };
                    let result = f(item);
                    results
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)[index] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .flatten()
        .collect()
}
