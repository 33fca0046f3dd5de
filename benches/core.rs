//! Native micro-benchmarks of the core (`cargo bench --bench core`), with a small timing loop of
//! our own: no benchmark framework to compile into every `cargo clippy --all-targets`.
//!
//! 1. A realistic `Cookie` header (analytics, consent, CSRF and the session cookie, ~500 bytes):
//!    find the session cookie, percent-decode it, strip `s:`, unsign with a prepared keyring.
//! 2. The whole per-request decision, `gate::handle`, for an authenticated GET: header hygiene,
//!    cookie, signature, KV record and activity (an in-memory map), expiry, user-agent binding, the
//!    assertion, the forwarded request; the store and origin answer at once.
//!
//! Prints the median of 15 runs in nanoseconds per operation.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

use sessiongate::config;
use sessiongate::cookie::find_cookie;
use sessiongate::gate::{handle, GateRequest, Origin, OriginError, OriginRequest, OriginResponse};
use sessiongate::session::{user_agent_fingerprint, SessionId, SessionRecord, Timeouts};
use sessiongate::signing::Keyring;
use sessiongate::store::layout::record_key;
use sessiongate::store::testing::{run_now as ready, MemoryKv};
use sessiongate::store::KvSessions;

const SECRET: &str = "bench-session-secret-0123456789abcdef";
const ASSERTION_SECRET: &str = "bench-assertion-secret-0123456789abc";
const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const NOW: u64 = 1_700_000_000_000;

/// Runs `f` in batches and prints the median ns per call.
fn bench(name: &str, iterations: u32, mut f: impl FnMut()) {
    for _ in 0..iterations / 10 {
        f();
    }
    let mut samples: Vec<f64> = (0..15)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iterations {
                f();
            }
            start.elapsed().as_nanos() as f64 / f64::from(iterations)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    println!("{name:<58} {:>9.0} ns/op", samples[samples.len() / 2]);
}

struct InstantOrigin;

impl Origin for InstantOrigin {
    type RequestBody = ();
    type ResponseBody = ();
    async fn send(&self, request: OriginRequest<()>) -> Result<OriginResponse<()>, OriginError> {
        black_box(&request);
        Ok(OriginResponse {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: (),
        })
    }
}

fn main() {
    let keyring = Keyring::new(&[SECRET]).expect("one secret");
    let id = SessionId::parse("wYw8-Kb-TwTMYhkXnQr6qGMr2DDaiMHRKb-TwTMYhkXnQr6").expect("id");
    let session_cookie = format!(
        "sid={}",
        sessiongate::cookie::encode_uri_component(&format!("s:{}", keyring.sign(id.as_str())))
    );
    let header = format!(
        "_ga=GA1.2.1234567890.1700000000; _gid=GA1.2.987654321.1700000000; \
         consent=%7B%22analytics%22%3Atrue%2C%22ads%22%3Afalse%7D; theme=dark; \
         csrf_token=3f1d2c9a8b7e6d5c4b3a29180f7e6d5c; _fbp=fb.1.1700000000000.1234567890; \
         ajs_anonymous_id=%2201234567-89ab-cdef-0123-456789abcdef%22; lang=en-GB; {session_cookie}; \
         _hjSessionUser_1234567=eyJpZCI6IjAxMjM0NTY3LTg5YWItY2RlZiIsImNyZWF0ZWQiOjE3MDAwMDAwMDB9"
    );
    println!("Cookie header: {} bytes\n", header.len());

    bench("parse Cookie header + find session cookie", 200_000, || {
        black_box(find_cookie(black_box(&header), "sid"));
    });
    bench(
        "parse Cookie header + unsign session cookie",
        200_000,
        || {
            let value = find_cookie(black_box(&header), "sid").expect("cookie");
            let signed = value.strip_prefix("s:").expect("prefix");
            black_box(keyring.unsign(signed).is_ok());
        },
    );
    let signed = keyring.sign(id.as_str());
    bench(
        "unsign only (prepared HMAC key, valid signature)",
        200_000,
        || {
            assert!(keyring.unsign(black_box(&signed)).is_ok());
        },
    );
    bench("HMAC-SHA256 of the id only (prepared key)", 200_000, || {
        black_box(keyring.signature(black_box(id.as_str())));
    });

    let timeouts = Timeouts {
        idle_ms: 1_800_000,
        absolute_ms: 86_400_000,
        refresh_interval_ms: 60_000,
    };
    let record = SessionRecord::new(
        "alice".into(),
        sessiongate::json::JsonObject::parse(r#"{"role":"admin"}"#),
        Some(user_agent_fingerprint(Some(UA))),
        NOW,
        &timeouts,
    );
    let kv = MemoryKv::new();
    kv.insert(&record_key(&id), &record.encode(), 86_400);
    let vars: HashMap<&str, &str> = HashMap::from([
        ("SESSION_SECRET", SECRET),
        ("ASSERTION_SECRET", ASSERTION_SECRET),
        ("ORIGIN_URL", "http://127.0.0.1:9000"),
        ("COOKIE_NAME", "sid"),
    ]);
    let loaded = config::load(&|name| vars.get(name).map(|v| (*v).to_owned()), NOW);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let request = || GateRequest {
        method: "GET".into(),
        origin: "https://gate.example".into(),
        path: "/api/orders".into(),
        query: Some("page=2".into()),
        headers: vec![
            ("host".into(), "gate.example".into()),
            ("user-agent".into(), UA.into()),
            ("accept".into(), "application/json".into()),
            ("accept-language".into(), "en-GB,en;q=0.9".into()),
            ("cookie".into(), header.clone()),
            ("x-sessiongate-user".into(), "mallory".into()),
        ],
        body: (),
    };
    bench(
        "whole decision: gate::handle, authenticated GET",
        50_000,
        || {
            let outcome = ready(handle(
                &loaded,
                &KvSessions::new(&kv),
                &InstantOrigin,
                request(),
                NOW + 1_000,
            ));
            assert_eq!(outcome.response.status, 200);
            black_box(outcome);
        },
    );
    bench(
        "  of which building the request (clone of headers)",
        50_000,
        || {
            black_box(request());
        },
    );
}
