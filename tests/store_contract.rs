//! One contract for every session store: the Workers KV layout over an in-memory key-value store,
//! the same behind the isolate's cache, and a store kept in maps with no prefix listing at all.
//! Then what only a key-value backend can do wrong: fail, time out, serve stale or cached reads,
//! hold values the gateway did not write, and run out of operations.

use sessiongate::session::{Activity, SessionId, SessionRecord, Timeouts};
use sessiongate::store::layout::{activity_key, index_key, record_key};
use sessiongate::store::testing::{run_now as run, Fault, MapSessions, MemoryKv};
use sessiongate::store::{
    CachedSessions, IsolateMemory, KvSessions, Loaded, Refresh, SessionStore, StoreError,
};

const T0: u64 = 1_700_000_000_000;
const TIMEOUTS: Timeouts = Timeouts {
    idle_ms: 600_000,
    absolute_ms: 3_600_000,
    refresh_interval_ms: 60_000,
};

fn new_session(store: &impl SessionStore, user: &str, now: u64) -> (SessionId, SessionRecord) {
    let id = SessionId::generate().unwrap();
    let record = SessionRecord::new(user.into(), None, None, now, &TIMEOUTS);
    run(store.create(&id, &record, now)).unwrap();
    (id, record)
}

fn found(store: &impl SessionStore, id: &SessionId) -> Option<SessionRecord> {
    match run(store.load(id)).unwrap() {
        Loaded::Found(record) => Some(record),
        Loaded::Missing => None,
        Loaded::Unusable(e) => panic!("unusable: {e}"),
    }
}

fn sorted(mut ids: Vec<SessionId>) -> Vec<String> {
    let mut out: Vec<String> = ids.drain(..).map(|id| id.as_str().to_owned()).collect();
    out.sort();
    out
}

// ---- The contract ----

fn creates_and_loads(store: &impl SessionStore) {
    let (id, record) = new_session(store, "alice", T0);
    assert_eq!(found(store, &id), Some(record));
    let unknown = SessionId::generate().unwrap();
    assert_eq!(run(store.load(&unknown)).unwrap(), Loaded::Missing);
}

fn refreshes_slide_the_idle_expiry_only(store: &impl SessionStore) {
    let (id, record) = new_session(store, "alice", T0);
    let now = T0 + 120_000;
    let activity = record.refreshed(now, &TIMEOUTS).unwrap();
    run(store.refresh(&Refresh {
        id: id.clone(),
        activity,
    }))
    .unwrap();
    let loaded = found(store, &id).unwrap();
    assert_eq!(loaded.last_seen, now);
    assert_eq!(loaded.idle_expires, now + TIMEOUTS.idle_ms);
    assert_eq!(loaded.absolute_expires, record.absolute_expires);
    assert_eq!(loaded.created, record.created);
}

fn a_refresh_never_brings_an_ended_session_back(store: &impl SessionStore) {
    let (id, record) = new_session(store, "alice", T0);
    run(store.end(&id, Some("alice"))).unwrap();
    let activity = record.refreshed(T0 + 120_000, &TIMEOUTS).unwrap();
    run(store.refresh(&Refresh {
        id: id.clone(),
        activity,
    }))
    .unwrap();
    assert_eq!(found(store, &id), None);
}

fn ending_is_final_and_idempotent(store: &impl SessionStore) {
    let (id, _) = new_session(store, "alice", T0);
    let (other, _) = new_session(store, "alice", T0);
    run(store.end(&id, Some("alice"))).unwrap();
    assert_eq!(found(store, &id), None);
    run(store.end(&id, Some("alice"))).unwrap();
    assert!(found(store, &other).is_some(), "only that session ends");
    assert_eq!(
        sorted(run(store.ids_of("alice")).unwrap()),
        sorted(vec![other])
    );
}

fn ending_all_of_a_user_keeps_the_one_asked_and_other_users(store: &impl SessionStore) {
    let alice: Vec<SessionId> = (0..5)
        .map(|i| new_session(store, "alice", T0 + i).0)
        .collect();
    let (bob, _) = new_session(store, "bob", T0);
    let ending = run(store.end_all("alice", Some(&alice[2]))).unwrap();
    assert_eq!((ending.ended, ending.remaining), (4, 0));
    for (i, id) in alice.iter().enumerate() {
        assert_eq!(found(store, id).is_some(), i == 2, "session {i}");
    }
    assert!(found(store, &bob).is_some());
    let ending = run(store.end_all("alice", None)).unwrap();
    assert_eq!((ending.ended, ending.remaining), (1, 0));
    assert_eq!(found(store, &alice[2]), None);
}

fn lists_every_session_of_a_user_and_loads_them_together(store: &impl SessionStore) {
    let alice: Vec<SessionId> = (0..120)
        .map(|i| new_session(store, "alice", T0 + i).0)
        .collect();
    new_session(store, "bob", T0);
    let ids = run(store.ids_of("alice")).unwrap();
    assert_eq!(sorted(ids.clone()), sorted(alice.clone()));
    let mut asked = ids.clone();
    let gone = SessionId::generate().unwrap();
    asked.push(gone);
    let list = run(store.load_sessions(&asked)).unwrap();
    assert_eq!(list.unread, 0);
    assert_eq!(list.sessions.len(), 120, "the unknown id is left out");
    assert!(list.sessions.iter().all(|(_, r)| r.user == "alice"));
    assert_eq!(
        run(store.ids_of("nobody")).unwrap(),
        Vec::<SessionId>::new()
    );
}

macro_rules! contract {
    ($name:ident: { $($setup:tt)* } => $store:expr) => {
        mod $name {
            use super::*;

            #[test]
            fn creates_and_loads() {
                $($setup)*
                super::creates_and_loads(&$store);
            }

            #[test]
            fn refreshes_slide_the_idle_expiry_only() {
                $($setup)*
                super::refreshes_slide_the_idle_expiry_only(&$store);
            }

            #[test]
            fn a_refresh_never_brings_an_ended_session_back() {
                $($setup)*
                super::a_refresh_never_brings_an_ended_session_back(&$store);
            }

            #[test]
            fn ending_is_final_and_idempotent() {
                $($setup)*
                super::ending_is_final_and_idempotent(&$store);
            }

            #[test]
            fn ending_all_of_a_user_keeps_the_one_asked_and_other_users() {
                $($setup)*
                super::ending_all_of_a_user_keeps_the_one_asked_and_other_users(&$store);
            }

            #[test]
            fn lists_every_session_of_a_user_and_loads_them_together() {
                $($setup)*
                super::lists_every_session_of_a_user_and_loads_them_together(&$store);
            }
        }
    };
}

contract!(kv: { let kv = MemoryKv::new(); let sessions = KvSessions::new(&kv); } => sessions);
contract!(kv_behind_the_cache: {
    let kv = MemoryKv::new();
    let sessions = KvSessions::new(&kv);
    let memory = IsolateMemory::new(30_000, TIMEOUTS.refresh_interval_ms);
    let cached = CachedSessions::new(&sessions, &memory, T0);
} => cached);
contract!(maps_without_prefix_listing: { let store = MapSessions::new(); } => store);

// ---- What a key-value backend can do wrong ----

#[test]
fn failures_and_timeouts_reach_the_caller_as_store_errors() {
    for (fault, expected) in [
        (Fault::Error, StoreError::Unavailable("injected".into())),
        (Fault::Timeout, StoreError::Timeout),
    ] {
        let kv = MemoryKv::new();
        let store = KvSessions::new(&kv);
        let (id, record) = new_session(&store, "alice", T0);
        kv.set_fault(Some(fault));
        let refresh = Refresh {
            id: id.clone(),
            activity: record.activity(),
        };
        assert_eq!(run(store.load(&id)), Err(expected.clone()));
        assert_eq!(run(store.create(&id, &record, T0)), Err(expected.clone()));
        assert_eq!(run(store.refresh(&refresh)), Err(expected.clone()));
        assert_eq!(run(store.end(&id, Some("alice"))), Err(expected.clone()));
        assert_eq!(run(store.end_all("alice", None)), Err(expected.clone()));
        assert_eq!(run(store.ids_of("alice")), Err(expected.clone()));
        assert_eq!(
            run(store.load_sessions(std::slice::from_ref(&id))),
            Err(expected.clone())
        );
        kv.set_fault(None);
        assert!(found(&store, &id).is_some(), "nothing was lost");
    }
}

#[test]
fn a_stale_read_shows_an_ended_session_but_nothing_writes_its_record_back() {
    let kv = MemoryKv::new();
    let store = KvSessions::new(&kv);
    let (id, record) = new_session(&store, "alice", T0);
    let stale = kv.value(&record_key(&id)).unwrap();
    run(store.end(&id, Some("alice"))).unwrap();
    kv.serve_stale(&record_key(&id), &stale);
    assert!(
        found(&store, &id).is_some(),
        "another location may still read it"
    );
    let activity = record.refreshed(T0 + 120_000, &TIMEOUTS).unwrap();
    run(store.refresh(&Refresh {
        id: id.clone(),
        activity,
    }))
    .unwrap();
    assert_eq!(kv.value(&record_key(&id)), None, "the record stays deleted");
    kv.clear_stale();
    assert_eq!(found(&store, &id), None);
}

#[test]
fn a_cached_miss_is_not_remembered_by_the_isolate() {
    let kv = MemoryKv::new();
    let sessions = KvSessions::new(&kv);
    let memory = IsolateMemory::new(30_000, TIMEOUTS.refresh_interval_ms);
    let cached = CachedSessions::new(&sessions, &memory, T0);
    let (id, _) = new_session(&cached, "alice", T0);
    kv.serve_cached_miss(&record_key(&id));
    assert_eq!(found(&cached, &id), None);
    kv.clear_cached_misses();
    assert!(found(&cached, &id).is_some(), "the miss was not cached");
}

#[test]
fn values_the_gateway_did_not_write_are_unusable_and_odd_activity_is_ignored() {
    let kv = MemoryKv::new();
    let store = KvSessions::new(&kv);
    let (id, record) = new_session(&store, "alice", T0);
    kv.insert(&activity_key(&id), "{\"last_seen\":\"soon\"}", 600);
    assert_eq!(
        found(&store, &id),
        Some(record),
        "the record's own times apply"
    );
    kv.insert(&record_key(&id), "{\"v\":1,\"user\":\"alice\"}", 600);
    assert!(matches!(run(store.load(&id)).unwrap(), Loaded::Unusable(_)));
    kv.insert(&record_key(&id), &"x".repeat(9000), 600);
    assert!(matches!(run(store.load(&id)).unwrap(), Loaded::Unusable(_)));
}

#[test]
fn a_session_and_its_index_entry_live_its_absolute_lifetime() {
    let kv = MemoryKv::new();
    let store = KvSessions::new(&kv);
    let (id, _) = new_session(&store, "alice", T0);
    assert_eq!(kv.ttl(&record_key(&id)), Some(3600));
    assert_eq!(kv.ttl(&index_key("alice", &id)), Some(3600));
    assert_eq!(kv.counts().writes, 2);
}

#[test]
fn the_idle_refresh_lives_as_long_as_the_idle_timeout() {
    let kv = MemoryKv::new();
    let store = KvSessions::new(&kv);
    let (id, record) = new_session(&store, "alice", T0);
    let activity = Activity {
        last_seen: T0 + 1_000,
        idle_expires: T0 + 1_000 + TIMEOUTS.idle_ms,
    };
    run(store.refresh(&Refresh {
        id: id.clone(),
        activity,
    }))
    .unwrap();
    assert_eq!(kv.ttl(&activity_key(&id)), Some(600));
    assert_eq!(record.user, "alice");
}

#[test]
fn ending_more_sessions_than_one_request_may_goes_on_over_several_requests() {
    let kv = MemoryKv::new();
    let setup = KvSessions::with_limit(&kv, u32::MAX);
    let ids: Vec<SessionId> = (0..2_500)
        .map(|i| new_session(&setup, "alice", T0 + i).0)
        .collect();
    let mut ended = 0;
    let mut requests = 0;
    loop {
        let store = KvSessions::new(&kv);
        let before = kv.counts().operations();
        let ending = run(store.end_all("alice", None)).unwrap();
        let operations = kv.counts().operations() - before;
        assert!(operations <= 1000, "{operations} operations in one request");
        assert_eq!(
            operations,
            store.operations() as usize,
            "the store counts what it does"
        );
        ended += ending.ended;
        requests += 1;
        if ending.remaining == 0 {
            break;
        }
        assert!(ending.ended > 0, "every request makes progress");
    }
    assert_eq!(ended, 2_500);
    assert!(requests >= 3, "{requests}");
    assert!(ids.iter().all(|id| found(&setup, id).is_none()));
}
