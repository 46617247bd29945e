//! What verifying a ledger costs, against its floor: `check_log` (decode every bundle,
//! compare every leaf with its signed hash, rebuild the tree, compare every hash tile, parse
//! every entry and check the rules), and the same followed by reading every entry again
//! for display (`check_log-and-entries`), for 100,000 and 1,000,000 entries, beside SHA-256 over
//! the same leaves (RFC 6962 leaf hashes, which no verifier can skip); and checking one
//! inclusion proof in a tree of a million.
//!
//!     cargo bench -p panah-core --bench ledger

#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use panah_core::ledger::audit::check_log;
use panah_core::ledger::{Amount, Category, Currency, DatePrecision, Entry, Kind, Rail};
use panah_core::tlog::check::all_tiles;
use panah_core::tlog::tree::{check_inclusion, leaf_hash};
use time::macros::date;

fn leaves(n: u64) -> Vec<Vec<u8>> {
    let afn = Currency::parse("AFN").unwrap();
    (0..n)
        .map(|i| {
            Entry {
                kind: if i % 5 == 0 {
                    Kind::Income
                } else {
                    Kind::Expense
                },
                date: date!(2021 - 09 - 01),
                precision: DatePrecision::Day,
                category: Category::ALL[(i % 9) as usize],
                amount: Amount::new(1_000 + i as i64, afn).unwrap(),
                base: Amount::new(1_000 + i as i64, afn).unwrap(),
                counter: None,
                reverses: None,
                rail: Rail::Cash,
                memo: format!("flour, rice and oil for family group {i}"),
                translations: Default::default(),
                receipt: None,
                coordinator: "1a2b-3c4d-5e6f-7a8b".into(),
            }
            .to_leaf()
        })
        .collect()
}

/// `PANAH_BENCH_SIZES=100000` for a quick run; both sizes by default.
fn bench_sizes() -> Vec<u64> {
    std::env::var("PANAH_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100_000, 1_000_000])
}

fn verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");
    group.sample_size(10);
    for n in bench_sizes() {
        let leaves = leaves(n);
        let bytes: usize = leaves.iter().map(Vec::len).sum();
        let (tree, files) = all_tiles(&leaves).unwrap();
        let root = tree.root();
        group.throughput(Throughput::Elements(n));
        group.bench_with_input(
            BenchmarkId::new("sha256-of-leaves", n),
            &leaves,
            |b, leaves| {
                b.iter(|| {
                    for l in leaves {
                        black_box(leaf_hash(l));
                    }
                })
            },
        );
        // The tiles are the checker's to keep (the entry bundles become its list of
        // leaves): each run gets its own copy, made outside the time measured. What it
        // returns is dropped inside.
        let tiles = || files.clone();
        group.bench_with_input(BenchmarkId::new("check_log", n), &n, |b, &n| {
            b.iter_batched(
                tiles,
                |files| check_log(n, &root, files).unwrap().leaves().len(),
                BatchSize::PerIteration,
            )
        });
        // What the coordinators' desk does: check, then read the entries to show them.
        group.bench_with_input(BenchmarkId::new("check_log-and-entries", n), &n, |b, &n| {
            b.iter_batched(
                tiles,
                |files| check_log(n, &root, files).unwrap().entries().len(),
                BatchSize::PerIteration,
            )
        });
        group.bench_with_input(
            BenchmarkId::new("parse-and-rules", n),
            &leaves,
            |b, leaves| {
                b.iter(|| {
                    panah_core::ledger::audit::check_entries(leaves).unwrap();
                })
            },
        );
        eprintln!(
            "{n} entries: {bytes} bytes of leaves, {} tiles",
            files.len()
        );
        if n == 1_000_000 {
            let index = 765_432;
            let proof = tree.inclusion_proof(index, n).unwrap();
            group.throughput(Throughput::Elements(1));
            group.bench_function("inclusion-proof-check-1M", |b| {
                b.iter(|| {
                    check_inclusion(&proof, n, &root, index, &leaves[index as usize]).unwrap()
                })
            });
            group.bench_function("inclusion-proof-build-1M", |b| {
                b.iter(|| black_box(tree.inclusion_proof(index, n).unwrap()))
            });
        }
    }
    group.finish();
}

/// One entry, on one core: parsing it (with the check that it is canonical) and checking
/// it on its own, the per-entry work of every verifier.
fn entry(c: &mut Criterion) {
    let leaf = leaves(8).pop().unwrap();
    let afn = Currency::parse("AFN").unwrap();
    let mut group = c.benchmark_group("entry");
    group.bench_function("from_leaf", |b| {
        b.iter(|| Entry::from_leaf(black_box(&leaf)).unwrap())
    });
    let parsed = Entry::from_leaf(&leaf).unwrap();
    group.bench_function("validate", |b| {
        b.iter(|| black_box(&parsed).validate(afn).unwrap())
    });
    group.bench_function("sha256", |b| b.iter(|| leaf_hash(black_box(&leaf))));
    group.finish();
}

criterion_group!(benches, verify, entry);
criterion_main!(benches);
