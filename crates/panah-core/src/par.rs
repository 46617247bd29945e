//! Work on every core: verifying a large log is hashing and parsing a million independent
//! items, and a supporter's laptop has more than one core.

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

/// [`map`] for items that are each a lot of work (a subtree of 256 leaves to hash): on
/// every core as soon as there are two.
pub(crate) fn map_large<T: Sync, U: Send>(items: &[T], f: impl Fn(&T) -> U + Sync) -> Vec<U> {
    let (out, _) = try_map_over(items, 2, |item| Ok::<U, std::convert::Infallible>(f(item)));
    out
}

/// Fewer items than this are not worth a thread each core: hashing or parsing one is a
/// microsecond or less.
const SMALL: usize = 4096;

fn try_map_over<T: Sync, U: Send, E: Send>(
    items: &[T],
    serial_below: usize,
    f: impl Fn(&T) -> Result<U, E> + Sync,
) -> (Vec<U>, Option<(usize, E)>) {
    let run = |part: &[T]| {
        let mut out = Vec::with_capacity(part.len());
        for (i, item) in part.iter().enumerate() {
            match f(item) {
                Ok(u) => out.push(u),
                Err(e) => return (out, Some((i, e))),
            }
        }
        (out, None)
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    if threads == 1 || items.len() < serial_below {
        return run(items);
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let mut handles = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| run(part)))
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
            if failed.is_some() {
                // Still joined (scoped threads are), but nothing after the first error counts.
                drop(join(h));
                continue;
            }
            let (part, part_failed) = join(h);
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

    /// Spread over the cores or not, the results come in order and stop at the first
    /// error, which is given with its index.
    #[test]
    fn try_map_stops_at_the_first_error() {
        for n in [10u32, 10_000] {
            let items: Vec<u32> = (0..n).collect();
            for bad in [
                vec![],
                vec![n - 1],
                vec![n / 2, n - 1],
                vec![3, n - 2],
                vec![0],
            ] {
                let (out, failed) =
                    try_map(
                        &items,
                        |&x| if bad.contains(&x) { Err(x) } else { Ok(2 * x) },
                    );
                let first = bad.first().copied();
                assert_eq!(failed, first.map(|x| (x as usize, x)), "{n} {bad:?}");
                let upto = first.unwrap_or(n);
                assert_eq!(out, (0..upto).map(|x| 2 * x).collect::<Vec<_>>());
            }
            assert_eq!(map(&items, |x| x + 1), (1..=n).collect::<Vec<_>>());
            assert_eq!(map_large(&items, |x| x + 1), (1..=n).collect::<Vec<_>>());
        }
    }
}
