//! Work on every core: verifying a large log is hashing and parsing a million independent
//! items, and a supporter's laptop has more than one core.

use std::sync::atomic::{AtomicUsize, Ordering};

/// `items.iter().map(f)`, on every core for long inputs: hashing and parsing a large
/// ledger are the bulk of a verification, and each item is independent.
pub(crate) fn map<T: Sync, U: Send>(items: &[T], f: impl Fn(&T) -> U + Sync) -> Vec<U> {
    let (out, _) = try_map(items, |item| Ok::<U, std::convert::Infallible>(f(item)));
    out
}

/// `items.iter().map(f)` up to the first error, on every core for long inputs: what `f`
/// gave for the items before the first error, and that error with its item's index.
pub(crate) fn try_map<T: Sync, U: Send, E: Send>(
    items: &[T],
    f: impl Fn(&T) -> Result<U, E> + Sync,
) -> (Vec<U>, Option<(usize, E)>) {
    try_map_over(items, SMALL, f)
}

/// Fewer items than this are not worth a thread each core: hashing or parsing one is a
/// microsecond or less.
const SMALL: usize = 4096;

/// Runs `f` on every part, spread over the cores in order (parts that write into disjoint
/// pieces of one buffer: a verifier's leaves and hashes, a tree's stored hashes).
pub(crate) fn for_each<P: Send>(parts: Vec<P>, f: impl Fn(P) + Sync) {
    let threads = threads().min(parts.len());
    if threads <= 1 {
        parts.into_iter().for_each(f);
        return;
    }
    let per = parts.len().div_ceil(threads);
    let mut parts = parts.into_iter();
    std::thread::scope(|scope| {
        let f = &f;
        let mut handles = Vec::with_capacity(threads);
        loop {
            let group: Vec<P> = parts.by_ref().take(per).collect();
            if group.is_empty() {
                break;
            }
            handles.push(scope.spawn(move || group.into_iter().for_each(f)));
        }
        for h in handles {
            h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
        }
    });
}

/// How many threads to spread work over: the cores, up to 8.
pub(crate) fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

fn try_map_over<T: Sync, U: Send, E: Send>(
    items: &[T],
    serial_below: usize,
    f: impl Fn(&T) -> Result<U, E> + Sync,
) -> (Vec<U>, Option<(usize, E)>) {
    try_map_on(threads(), items, serial_below, f)
}

/// [`try_map_over`] on `threads` threads.
fn try_map_on<T: Sync, U: Send, E: Send>(
    threads: usize,
    items: &[T],
    serial_below: usize,
    f: impl Fn(&T) -> Result<U, E> + Sync,
) -> (Vec<U>, Option<(usize, E)>) {
    // The lowest index that failed so far: a part that gets past it stops, since nothing
    // after the first error counts (a ledger whose first entry is bad is not parsed whole).
    let first_failed = AtomicUsize::new(usize::MAX);
    let run = |start: usize, part: &[T]| {
        let mut out = Vec::with_capacity(part.len());
        for (i, item) in part.iter().enumerate() {
            if start + i > first_failed.load(Ordering::Relaxed) {
                break;
            }
            match f(item) {
                Ok(u) => out.push(u),
                Err(e) => {
                    first_failed.fetch_min(start + i, Ordering::Relaxed);
                    return (out, Some((i, e)));
                }
            }
        }
        (out, None)
    };
    if threads <= 1 || items.len() < serial_below.max(2) {
        return run(0, items);
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let mut handles = items
            .chunks(chunk)
            .enumerate()
            .map(|(k, part)| {
                let run = &run;
                scope.spawn(move || run(k * chunk, part))
            })
            .collect::<Vec<_>>()
            .into_iter();
        let join = |h: std::thread::ScopedJoinHandle<'_, _>| {
            h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
        };
        // The first part's results are kept where they are and the others moved after
        // them: a million parsed entries are a lot to move.
        let (mut out, mut failed): (Vec<U>, _) = handles.next().map_or((Vec::new(), None), join);
        out.reserve(items.len() - out.len());
        let mut start = chunk;
        for h in handles {
            let (part, part_failed) = join(h);
            if failed.is_some() {
                // Nothing after the first error counts.
                continue;
            }
            out.extend(part);
            failed = part_failed.map(|(i, e)| (start + i, e));
            start += chunk;
        }
        (out, failed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spread over the cores or not, on any number of threads and parts of any length, the
    /// results come in order and stop at the first error, which is given with its index.
    #[test]
    fn try_map_stops_at_the_first_error() {
        for n in [1u32, 2, 3, 10, 4095, 4096, 4097, 10_001] {
            let items: Vec<u32> = (0..n).collect();
            let faults = [
                vec![],
                vec![n - 1],
                vec![n / 2, n - 1],
                vec![n / 3, n / 2],
                vec![0, n / 2],
            ];
            for bad in faults {
                for threads in 1..=8 {
                    let (out, failed) = try_map_on(threads, &items, 2, |&x| {
                        if bad.contains(&x) {
                            Err(x)
                        } else {
                            Ok(2 * x)
                        }
                    });
                    let first = bad.iter().min().copied();
                    let why = format!("{n} items, {threads} threads, faults at {bad:?}");
                    assert_eq!(failed, first.map(|x| (x as usize, x)), "{why}");
                    let upto = first.unwrap_or(n);
                    assert_eq!(out, (0..upto).map(|x| 2 * x).collect::<Vec<_>>(), "{why}");
                }
            }
            assert_eq!(map(&items, |x| x + 1), (1..=n).collect::<Vec<_>>());
            let mut out = vec![0; items.len()];
            let parts = items.chunks(7).zip(out.chunks_mut(7)).collect();
            for_each(parts, |(xs, out): (&[u32], &mut [u32])| {
                for (x, o) in xs.iter().zip(out) {
                    *o = x + 1;
                }
            });
            assert_eq!(out, (1..=n).collect::<Vec<_>>());
        }
    }
}
