//! `MAX_SESSIONS_PER_USER`: after a login, the user's oldest sessions beyond the cap end.
//!
//! "Oldest" is by creation time as the index lists it (KV metadata on the index entries, see
//! `docs/kv-layout.md`): no session record is read. An entry without a creation time (written
//! before the index carried one: layout version 1, or by a store that keeps no metadata) counts
//! as the oldest of all: every session created since carries its time, so such an entry is older
//! than all of them. The new session is never ended, and counts even when the listing does not
//! show it yet. Workers KV lists with a delay of up to a minute, so sessions created moments ago
//! elsewhere may be missed and the cap is approximate there (`docs/operations.md`).

use super::respond::Flow;
use crate::session::SessionId;
use crate::store::SessionStore;

/// Most sessions one login ends (three KV operations each); any excess left ends at a later login.
const MAX_ENDS_PER_LOGIN: usize = 100;

/// Ends the oldest sessions of the user who just logged in with `new_id`, beyond `max`. A store
/// failure here does not undo the login: it is logged.
pub(super) async fn enforce<S: SessionStore>(
    flow: &mut Flow<'_>,
    store: &S,
    new_id: &SessionId,
    max: usize,
) {
    let Some(user) = flow.log.user.clone() else {
        return;
    };
    let mut others = match store.indexed_of(&user).await {
        Ok(listed) => listed,
        Err(e) => {
            flow.log.detail = Some(format!("session cap not applied: {e}"));
            return;
        }
    };
    others.retain(|s| s.id != *new_id);
    // The new session counts whether or not the listing shows it yet.
    let excess = others.len().saturating_add(1).saturating_sub(max);
    if excess == 0 {
        return;
    }
    let mut ended = 0;
    // The oldest, one at a time (the excess is usually one; no sort code in the Wasm for it).
    while ended < excess.min(MAX_ENDS_PER_LOGIN) {
        let oldest = others
            .iter()
            .enumerate()
            .min_by_key(|(_, s)| s.created.unwrap_or(0))
            .map(|(i, _)| i);
        let Some(session) = oldest.map(|i| others.swap_remove(i)) else {
            break;
        };
        if let Err(e) = store.end(&session.id, Some(&user)).await {
            flow.log.detail = Some(format!(
                "session cap {max}: {ended} oldest sessions ended, then: {e}"
            ));
            return;
        }
        ended += 1;
    }
    flow.log.detail = Some(format!("session cap {max}: {ended} oldest sessions ended"));
}
