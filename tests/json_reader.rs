//! The JSON reader (`sessiongate::json`) against serde_json's derived decoding of the same
//! structures, which it replaces: on generated and mutated texts, each structure reads exactly
//! when serde_json's would, to the same values. The serde definitions below are the reference,
//! kept only here.

use proptest::prelude::*;
use serde::Deserialize;
use serde_json::value::RawValue;

use sessiongate::assertion::{Audience, Claims};
use sessiongate::config::parse_admin_tokens;
use sessiongate::json::{string_array, JsonObject};
use sessiongate::session::{is_valid_user, Activity, SessionRecord, RECORD_VERSION};
use sessiongate::store::import::OldSession;

/// A JSON object as raw text, refused unless it is an object.
#[derive(Debug)]
struct RawObject(Box<RawValue>);

impl<'de> Deserialize<'de> for RawObject {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        if raw.get().starts_with('{') {
            Ok(RawObject(raw))
        } else {
            Err(serde::de::Error::custom("expected a JSON object"))
        }
    }
}

fn raw_text(raw: &Option<RawObject>) -> Option<&str> {
    raw.as_ref().map(|r| r.0.get())
}

fn data_text(data: &Option<JsonObject>) -> Option<&str> {
    data.as_ref().map(JsonObject::as_str)
}

/// serde_json over a text only when it starts (after whitespace) with an object.
fn reference<T: serde::de::DeserializeOwned>(text: &str) -> Option<T> {
    let starts_an_object = text
        .bytes()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| b == b'{');
    starts_an_object
        .then(|| serde_json::from_str(text).ok())
        .flatten()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferenceRecord {
    v: u32,
    user: String,
    #[serde(default)]
    data: Option<RawObject>,
    // Required, though it may be null (`deserialize_with` turns off serde's "missing is None").
    #[serde(deserialize_with = "Option::deserialize")]
    ua: Option<String>,
    #[serde(default)]
    device: Option<String>,
    #[serde(default)]
    imported: bool,
    created: u64,
    last_seen: u64,
    idle_expires: u64,
    absolute_expires: u64,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct ReferenceActivity {
    last_seen: u64,
    idle_expires: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferenceOldSession {
    id: String,
    user: String,
    #[serde(default)]
    data: Option<RawObject>,
    #[serde(default)]
    user_agent: Option<String>,
    expires: u64,
    #[serde(default)]
    created: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct ReferenceClaims {
    iss: String,
    sub: String,
    #[serde(default)]
    aud: Option<ReferenceAudience>,
    sid: String,
    iat: u64,
    exp: u64,
    #[serde(default)]
    data: Option<RawObject>,
}

#[derive(Debug)]
enum ReferenceAudience {
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for ReferenceAudience {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        let text = raw.get();
        let audience = match text.as_bytes().first() {
            Some(b'"') => serde_json::from_str(text).map(ReferenceAudience::One).ok(),
            Some(b'[') => serde_json::from_str(text).map(ReferenceAudience::Many).ok(),
            _ => None,
        };
        audience.ok_or_else(|| serde::de::Error::custom("a string or an array of strings"))
    }
}

fn check_record(text: &str) -> Result<(), TestCaseError> {
    let ours = SessionRecord::decode(text).ok();
    let theirs = reference::<ReferenceRecord>(text)
        .filter(|r| r.v == RECORD_VERSION && is_valid_user(&r.user));
    prop_assert_eq!(ours.is_some(), theirs.is_some(), "record {:?}", text);
    if let (Some(ours), Some(theirs)) = (ours, theirs) {
        prop_assert_eq!(&ours.user, &theirs.user);
        prop_assert_eq!(data_text(&ours.data), raw_text(&theirs.data));
        prop_assert_eq!(&ours.ua, &theirs.ua);
        prop_assert_eq!(&ours.device, &theirs.device);
        prop_assert_eq!(ours.imported, theirs.imported);
        prop_assert_eq!(
            [
                ours.created,
                ours.last_seen,
                ours.idle_expires,
                ours.absolute_expires
            ],
            [
                theirs.created,
                theirs.last_seen,
                theirs.idle_expires,
                theirs.absolute_expires
            ]
        );
        // What is read is written back to a text that reads the same.
        prop_assert_eq!(SessionRecord::decode(&ours.encode()).ok(), Some(ours));
    }
    Ok(())
}

fn check_activity(text: &str) -> Result<(), TestCaseError> {
    let ours = Activity::decode(text).map(|a| (a.last_seen, a.idle_expires));
    let theirs = reference::<ReferenceActivity>(text)
        .filter(|_| text.len() <= 256)
        .map(|a| (a.last_seen, a.idle_expires));
    prop_assert_eq!(ours, theirs, "activity {:?}", text);
    Ok(())
}

fn check_old_session(text: &str) -> Result<(), TestCaseError> {
    let ours = OldSession::decode(text);
    let theirs = reference::<ReferenceOldSession>(text);
    prop_assert_eq!(ours.is_some(), theirs.is_some(), "old session {:?}", text);
    if let (Some(ours), Some(theirs)) = (ours, theirs) {
        prop_assert_eq!(
            (
                &ours.id,
                &ours.user,
                &ours.user_agent,
                ours.expires,
                ours.created
            ),
            (
                &theirs.id,
                &theirs.user,
                &theirs.user_agent,
                theirs.expires,
                theirs.created
            )
        );
        prop_assert_eq!(data_text(&ours.data), raw_text(&theirs.data));
    }
    Ok(())
}

fn check_claims(text: &str) -> Result<(), TestCaseError> {
    let ours = Claims::decode(text);
    let theirs = reference::<ReferenceClaims>(text);
    prop_assert_eq!(ours.is_some(), theirs.is_some(), "claims {:?}", text);
    if let (Some(ours), Some(theirs)) = (ours, theirs) {
        prop_assert_eq!(
            (&ours.iss, &ours.sub, &ours.sid, ours.iat, ours.exp),
            (
                &theirs.iss,
                &theirs.sub,
                &theirs.sid,
                theirs.iat,
                theirs.exp
            )
        );
        let aud_matches = match (&ours.aud, &theirs.aud) {
            (None, None) => true,
            (Some(Audience::One(a)), Some(ReferenceAudience::One(b))) => a == b,
            (Some(Audience::Many(a)), Some(ReferenceAudience::Many(b))) => a == b,
            _ => false,
        };
        prop_assert!(aud_matches, "aud of {:?}", text);
        prop_assert_eq!(data_text(&ours.data), raw_text(&theirs.data));
        prop_assert_eq!(Claims::decode(&ours.encode()), Some(ours));
    }
    Ok(())
}

fn check_texts(text: &str) -> Result<(), TestCaseError> {
    let theirs_object = serde_json::from_str::<Box<RawValue>>(text)
        .ok()
        .filter(|raw| raw.get().starts_with('{'));
    let ours_object = JsonObject::parse(text);
    prop_assert_eq!(
        ours_object.as_ref().map(JsonObject::as_str),
        theirs_object.as_ref().map(|raw| raw.get()),
        "object {:?}",
        text
    );
    prop_assert_eq!(
        string_array(text),
        serde_json::from_str::<Vec<String>>(text).ok(),
        "array {:?}",
        text
    );
    Ok(())
}

/// `ADMIN_TOKENS` as serde_json read it: the (name, token) pairs of one object, in order.
fn reference_admin_tokens(text: &str) -> Option<Vec<(String, String)>> {
    struct Pairs;
    impl<'de> serde::de::Visitor<'de> for Pairs {
        type Value = Vec<(String, String)>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object of strings")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut pairs = Vec::new();
            while let Some(pair) = map.next_entry::<String, String>()? {
                pairs.push(pair);
            }
            Ok(pairs)
        }
    }
    let mut reader = serde_json::Deserializer::from_str(text.trim());
    let pairs = serde::Deserializer::deserialize_map(&mut reader, Pairs).ok()?;
    reader.end().ok()?;
    Some(pairs)
}

fn check_admin_tokens(text: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        parse_admin_tokens(text).ok(),
        reference_admin_tokens(text),
        "ADMIN_TOKENS {:?}",
        text
    );
    Ok(())
}

fn check_all(text: &str) -> Result<(), TestCaseError> {
    check_admin_tokens(text)?;
    check_record(text)?;
    check_activity(text)?;
    check_old_session(text)?;
    check_claims(text)?;
    check_texts(text)
}

/// JSON whitespace, and now and then a character that only looks like it.
fn space() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        8 => Just(""),
        2 => Just(" "),
        1 => Just("\n\t "),
        1 => Just("\r"),
        1 => Just("\u{c}"),
        1 => Just("\u{a0}"),
    ]
}

/// Strings with every kind of escape, valid and not.
fn string_literal() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        6 => "[a-zA-Z0-9 ._:/@-]{0,8}",
        1 => Just(r#"\""#.to_owned()),
        1 => Just(r"\\".to_owned()),
        1 => Just(r"\/\b\f\n\r\t".to_owned()),
        1 => Just(r"\u00e9".to_owned()),
        1 => Just(r"\ud83d\ude00".to_owned()),
        1 => Just(r"\ud83d".to_owned()),
        1 => Just(r"\ude00".to_owned()),
        1 => Just(r"\ud83dx".to_owned()),
        1 => Just(r"\u12g4".to_owned()),
        1 => Just(r"\x".to_owned()),
        1 => Just("\u{1}".to_owned()),
        1 => Just("é😀".to_owned()),
        1 => Just("\u{7f}".to_owned()),
    ];
    prop::collection::vec(piece, 0..4).prop_map(|pieces| format!("\"{}\"", pieces.concat()))
}

fn number_literal() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (0u64..=2_000_000_000_000u64).prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => prop::sample::select(vec![
            "0", "-0", "01", "1.0", "1.", ".5", "1e3", "1E+3", "1e-3", "2e", "-", "4294967295",
            "4294967296", "18446744073709551615", "18446744073709551616", "1.5715450039294425e202",
            "123456789012345678901234567890", "00", "-1.5", "+1", "0x10",
        ])
        .prop_map(str::to_owned),
    ]
}

fn value_literal() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        4 => string_literal(),
        4 => number_literal(),
        1 => prop::sample::select(vec!["true", "false", "null", "tru", "nul", "True"])
            .prop_map(str::to_owned),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec((space(), inner.clone()), 0..4).prop_map(|items| {
                let items: Vec<String> =
                    items.into_iter().map(|(s, v)| format!("{s}{v}")).collect();
                format!("[{}]", items.join(","))
            }),
            prop::collection::vec((string_literal(), inner), 0..4).prop_map(|members| {
                let members: Vec<String> = members
                    .into_iter()
                    .map(|(k, v)| format!("{k}:{v}"))
                    .collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

/// Names of every structure's members, some of them escaped, and a few unknown.
fn member_name() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "v",
        "user",
        "data",
        "ua",
        "device",
        "imported",
        "created",
        "last_seen",
        "idle_expires",
        "absolute_expires",
        "id",
        "user_agent",
        "expires",
        "iss",
        "sub",
        "aud",
        "sid",
        "iat",
        "exp",
        "\\u0075ser",
        "last\\u005fseen",
        "x",
        "USER",
        "user ",
    ])
    .prop_map(|name| format!("\"{name}\""))
}

/// A value that fits the member's type most of the time, so whole structures do read.
fn member_value(name: &str) -> BoxedStrategy<String> {
    let plain = |s: &str| format!("\"{s}\"");
    match name.trim_matches('"') {
        "v" => prop_oneof![4 => Just("1".to_owned()), 1 => value_literal()].boxed(),
        "user" | "iss" | "sub" | "sid" => {
            prop_oneof![4 => Just(plain("alice")), 1 => string_literal(), 1 => value_literal()]
                .boxed()
        }
        "id" => prop_oneof![
            4 => Just(plain("Qxv1yjq3V2wFQ8XoVQ1ulC6qC0Cj0uAH")),
            1 => value_literal()
        ]
        .boxed(),
        "data" => prop_oneof![
            3 => Just(r#"{"role":"admin","n":[1.5e3,{"x":null}]}"#.to_owned()),
            1 => Just("null".to_owned()),
            2 => value_literal(),
        ]
        .boxed(),
        "aud" => prop_oneof![
            2 => Just(plain("api")),
            2 => Just(r#"["api","admin"]"#.to_owned()),
            1 => Just("[]".to_owned()),
            2 => value_literal(),
        ]
        .boxed(),
        "imported" => prop_oneof![3 => Just("true".to_owned()), 1 => value_literal()].boxed(),
        "created" | "last_seen" | "idle_expires" | "absolute_expires" | "expires" | "iat"
        | "exp" => prop_oneof![3 => number_literal(), 1 => value_literal()].boxed(),
        _ => prop_oneof![
            2 => string_literal(),
            1 => Just("null".to_owned()),
            1 => value_literal()
        ]
        .boxed(),
    }
}

fn member() -> impl Strategy<Value = String> {
    (member_name(), space(), space()).prop_flat_map(|(name, before, after)| {
        member_value(&name).prop_map(move |value| format!("{before}{name}{after}:{before}{value}"))
    })
}

/// Objects whose members are mostly those of one structure, one of them at times left for the
/// generated members to supply (or to miss, or to give twice).
fn object_text() -> impl Strategy<Value = String> {
    let complete = prop::sample::select(vec![
        vec![
            r#""v":1"#,
            r#""user":"alice""#,
            r#""ua":null"#,
            r#""created":1"#,
            r#""last_seen":2"#,
            r#""idle_expires":3"#,
            r#""absolute_expires":4"#,
        ],
        vec![
            r#""last_seen":1700000000000"#,
            r#""idle_expires":1700000600000"#,
        ],
        vec![
            r#""id":"Qxv1yjq3V2wFQ8XoVQ1ulC6qC0Cj0uAH""#,
            r#""user":"alice""#,
            r#""expires":1800000000000"#,
        ],
        vec![
            r#""iss":"sessiongate""#,
            r#""sub":"alice""#,
            r#""sid":"h""#,
            r#""iat":1"#,
            r#""exp":2"#,
        ],
    ]);
    (
        complete,
        any::<prop::sample::Index>(),
        any::<bool>(),
        prop::collection::vec(member(), 0..4),
        (space(), space()),
        any::<bool>(),
    )
        .prop_map(|(base, drop_at, drop, extra, (lead, trail), extra_first)| {
            let mut members: Vec<String> = base.iter().map(|m| (*m).to_owned()).collect();
            if drop {
                members.remove(drop_at.index(members.len()));
            }
            if extra_first {
                members.splice(0..0, extra);
            } else {
                members.extend(extra);
            }
            format!("{lead}{{{}}}{trail}", members.join(","))
        })
}

/// One edit at a random place: a character of the JSON grammar inserted, or one deleted or
/// replaced.
fn mutated(text: String) -> impl Strategy<Value = String> {
    let alphabet: Vec<char> = "{}[]\":,\\ \tu0123456789.eE+-ntrufalse\u{1}é"
        .chars()
        .collect();
    let len = text.chars().count();
    (0..=len, prop::sample::select(alphabet), 0u8..3).prop_map(move |(at, c, edit)| {
        let mut chars: Vec<char> = text.chars().collect();
        match edit {
            0 => chars.insert(at, c),
            1 if at < chars.len() => {
                chars.remove(at);
            }
            _ if at < chars.len() => chars[at] = c,
            _ => chars.push(c),
        }
        chars.into_iter().collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn structures_read_as_serde_json_read_them(text in object_text()) {
        check_all(&text)?;
    }

    #[test]
    fn mutated_structures_read_as_serde_json_read_them(text in object_text().prop_flat_map(mutated)) {
        check_all(&text)?;
    }

    #[test]
    fn any_value_reads_as_serde_json_reads_it(text in value_literal()) {
        check_all(&text)?;
    }

    #[test]
    fn mutated_values_read_as_serde_json_read_them(text in value_literal().prop_flat_map(mutated)) {
        check_all(&text)?;
    }

    #[test]
    fn arbitrary_text_never_panics_and_agrees(text in "\\PC{0,40}") {
        check_all(&text)?;
    }
}

/// The generators do reach both sides of every verdict (a differential test that only ever saw
/// refusals would pass with a reader that refused everything).
#[test]
fn the_generated_structures_are_read_as_well_as_refused() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut read, mut refused) = (0, 0);
    for _ in 0..2000 {
        let text = object_text().new_tree(&mut runner).unwrap().current();
        let any_read = SessionRecord::decode(&text).is_ok()
            || Activity::decode(&text).is_some()
            || OldSession::decode(&text).is_some()
            || Claims::decode(&text).is_some();
        if any_read {
            read += 1;
        } else {
            refused += 1;
        }
    }
    assert!(
        read > 200 && refused > 200,
        "read {read}, refused {refused}"
    );
}
