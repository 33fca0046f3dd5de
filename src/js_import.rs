//! JavaScript binding of the session import (feature `js-import`), for the npm package's
//! `sessiongate import` command: the tool reads and maps the app's old sessions, and this module
//! turns each into the gateway's KV entries with the store layer's own code
//! ([`crate::store::import`]). A module of its own, so no other entry carries it.

use wasm_bindgen::prelude::*;

use crate::json::ObjectWriter;
use crate::session::Timeouts;
use crate::store::import::{import_entries, OldSession};
use crate::store::layout::Entry;

/// Builds the gateway's KV entries for old sessions under one deployment's timeouts.
#[wasm_bindgen]
pub struct ImportBuilder {
    timeouts: Timeouts,
}

/// One line of a `wrangler kv bulk put` file: key, value, `expiration_ttl` and, for an index
/// entry, its KV metadata (a JSON object written by the store layout).
fn bulk_entry(entry: Entry) -> String {
    let line = ObjectWriter::new()
        .string("key", &entry.key)
        .string("value", &entry.value)
        .u64("expiration_ttl", entry.ttl_seconds);
    match &entry.metadata {
        Some(metadata) => line.json("metadata", metadata),
        None => line,
    }
    .finish()
}

#[wasm_bindgen]
impl ImportBuilder {
    /// `IDLE_TIMEOUT` and `ABSOLUTE_TIMEOUT` of the deployment, in seconds (whole numbers from 1
    /// to 31,536,000, absolute at least idle, as the gateway's configuration requires).
    #[wasm_bindgen(constructor)]
    pub fn new(idle_timeout_s: f64, absolute_timeout_s: f64) -> Result<ImportBuilder, String> {
        let whole = |value: f64, name: &str| {
            if value.fract() == 0.0 && (1.0..=31_536_000.0).contains(&value) {
                // In range and whole: exact as an integer.
                Ok(value as u64)
            } else {
                Err(format!(
                    "{name} must be a whole number of seconds from 1 to 31536000"
                ))
            }
        };
        let idle = whole(idle_timeout_s, "IDLE_TIMEOUT")?;
        let absolute = whole(absolute_timeout_s, "ABSOLUTE_TIMEOUT")?;
        if absolute < idle {
            return Err("ABSOLUTE_TIMEOUT must be at least IDLE_TIMEOUT".to_owned());
        }
        Ok(ImportBuilder {
            timeouts: Timeouts {
                idle_ms: idle * 1000,
                absolute_ms: absolute * 1000,
                // Not used by an import: only requests refresh sessions.
                refresh_interval_ms: 0,
            },
        })
    }

    /// One old session as JSON (`{"id","user","data"?,"user_agent"?,"expires","created"?}`, times
    /// in Unix milliseconds) imported at `now_ms`: `{"entries":[index, record]}` in the bulk-put
    /// format, or `{"skip":"<reason>"}` (`invalid_id`, `invalid_user`, `data_too_large`,
    /// `expired`). Throws when the JSON is not such an object.
    pub fn build(&self, old_json: &str, now_ms: f64) -> Result<String, String> {
        let old = OldSession::decode(old_json).ok_or_else(|| {
            "an old session must be {\"id\",\"user\",\"data\"?,\"user_agent\"?,\"expires\",\"created\"?}"
                .to_owned()
        })?;
        // Milliseconds since 1970 are whole and far below 2^53; anything else is not a time.
        let now_ms = if now_ms.is_finite() && now_ms > 0.0 {
            now_ms as u64
        } else {
            return Err("now must be a time in milliseconds".to_owned());
        };
        Ok(match import_entries(old, &self.timeouts, now_ms) {
            Ok([index, record]) => ObjectWriter::new()
                .json(
                    "entries",
                    &format!("[{},{}]", bulk_entry(index), bulk_entry(record)),
                )
                .finish(),
            Err(skip) => ObjectWriter::new().string("skip", skip.code()).finish(),
        })
    }
}
