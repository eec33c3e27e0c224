//! What sealing and opening one PHI field costs, next to the other per-request crypto: wrapping
//! and unwrapping a patient's data key, and computing one blind index.
//!
//! Run with `cargo bench -p app --features ssr --bench crypto`. Synthetic values only.

use std::hint::black_box;

use app::domain::crypto::{BlindIndexer, DataKey, FieldRef, KekProvider, KeyBytes, LocalKeyring, Sealed};
use app::domain::patients::PostalAddress;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use uuid::Uuid;

/// A synthetic family name: 12 bytes, the size of a typical name column.
const SHORT: &str = "Quillfeather";

/// A synthetic address, serialized the way the patient repository seals it (about 200 bytes).
fn long_field() -> String {
    let address = PostalAddress {
        line1: "4417 Quillfeather Lane, Building C, Suite 300".to_owned(),
        line2: Some("Apartment 12B, Rear Entrance by the Garden".to_owned()),
        city: "Marrowick Springs Township".to_owned(),
        state: "ZZ".to_owned(),
        postal_code: "99999-0001".to_owned(),
        country: "US".to_owned(),
    };
    serde_json::to_string(&address).expect("a postal address serializes to JSON")
}

fn seal_and_open(c: &mut Criterion) {
    let key = DataKey::new(Uuid::now_v7(), &KeyBytes::random());
    let row = Uuid::now_v7();
    let long = long_field();
    let fields = [
        ("short", FieldRef::new("patient", "family_name", row), SHORT),
        ("long", FieldRef::new("patient", "address", row), long.as_str()),
    ];

    let mut seal = c.benchmark_group("seal");
    for (name, field, plaintext) in fields {
        seal.throughput(Throughput::Bytes(plaintext.len() as u64));
        seal.bench_function(format!("{name}/{}B", plaintext.len()), |b| {
            b.iter(|| key.seal_str(black_box(field), black_box(plaintext)).expect("sealing succeeds"));
        });
    }
    seal.finish();

    let mut open = c.benchmark_group("open");
    for (name, field, plaintext) in fields {
        let sealed: Sealed = key.seal_str(field, plaintext).expect("sealing succeeds");
        open.throughput(Throughput::Bytes(plaintext.len() as u64));
        open.bench_function(format!("{name}/{}B", plaintext.len()), |b| {
            b.iter(|| key.open(black_box(field), black_box(&sealed)).expect("opening succeeds"));
        });
    }
    open.finish();
}

fn data_key(c: &mut Criterion) {
    let ring = LocalKeyring::generate("bench");
    let id = Uuid::now_v7();
    let key = KeyBytes::random();
    let wrapped = ring.wrap(id, &key).expect("wrapping succeeds");

    let mut group = c.benchmark_group("data_key");
    group.bench_function("wrap", |b| b.iter(|| ring.wrap(black_box(id), black_box(&key)).expect("wrapping succeeds")));
    group.bench_function("unwrap", |b| {
        b.iter(|| ring.unwrap(black_box(id), black_box(&wrapped)).expect("unwrapping succeeds"));
    });
    group.finish();
}

fn blind_index(c: &mut Criterion) {
    let ring = LocalKeyring::generate("bench");
    let indexer = BlindIndexer::new(&ring);

    let mut group = c.benchmark_group("blind_index");
    group.bench_function("name", |b| {
        b.iter(|| indexer.index(black_box("patient"), black_box("name"), black_box("quillfeather|orrin")));
    });
    group.finish();
}

criterion_group!(benches, seal_and_open, data_key, blind_index);
criterion_main!(benches);
