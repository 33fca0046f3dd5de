//! Public-path matching on the normalized request path. It fails closed: any path whose meaning
//! could differ between the gateway and the origin is treated as not public.

/// One configured public path: exact (`/health`) or a subtree (`/static/*`).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Pattern {
    Exact(String),
    Subtree(String),
}

/// A `PUBLIC_PATHS` entry that is not a plain absolute path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidPathEntry {
    /// The entry as configured.
    pub entry: String,
}

impl core::fmt::Display for InvalidPathEntry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "PUBLIC_PATHS entry {:?} is not a plain absolute path (optionally ending in /*)",
            self.entry
        )
    }
}

impl std::error::Error for InvalidPathEntry {}

/// The configured public paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublicPaths {
    patterns: Vec<Pattern>,
}

impl PublicPaths {
    /// Parses a comma-separated list. Each entry starts with `/`, has no `%`, `;`, `?`, `#`, `\`,
    /// empty or dot segments, and may end with `/*`.
    pub fn parse(list: &str) -> Result<Self, InvalidPathEntry> {
        let mut patterns = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (base, subtree) = match entry.strip_suffix("/*") {
                Some(base) => (base, true),
                None => (entry, false),
            };
            let valid = entry.starts_with('/')
                && !base.contains(['%', ';', '?', '#', '\\', '*'])
                && !base.chars().any(char::is_control)
                && !has_empty_or_dot_segment(base.strip_suffix('/').unwrap_or(base));
            if !valid {
                return Err(InvalidPathEntry {
                    entry: entry.to_owned(),
                });
            }
            patterns.push(if subtree {
                Pattern::Subtree(format!("{base}/"))
            } else {
                Pattern::Exact(base.to_owned())
            });
        }
        Ok(PublicPaths { patterns })
    }

    /// Whether the request path (as the URL parser gave it, without query or fragment) is public.
    ///
    /// ```
    /// let public = sessiongate::paths::PublicPaths::parse("/health,/static/*").unwrap();
    /// assert!(public.matches("/health"));
    /// assert!(public.matches("/static/app.js"));
    /// assert!(!public.matches("/health/"));
    /// assert!(!public.matches("/static/..%2Fadmin"));
    /// ```
    pub fn matches(&self, raw_path: &str) -> bool {
        match normalize(raw_path) {
            Some(path) => self.patterns.iter().any(|p| match p {
                Pattern::Exact(exact) => path == *exact,
                Pattern::Subtree(prefix) => path.starts_with(prefix.as_str()),
            }),
            None => false,
        }
    }
}

impl Pattern {
    /// The entry as it is configured.
    fn entry(&self) -> String {
        match self {
            Pattern::Exact(exact) => exact.clone(),
            Pattern::Subtree(prefix) => format!("{prefix}*"),
        }
    }

    /// Whether some path matches both patterns: the same entry, or a subtree covering the other.
    fn overlaps(&self, other: &Pattern) -> bool {
        match (self, other) {
            (Pattern::Exact(a), Pattern::Exact(b)) => a == b,
            (Pattern::Exact(exact), Pattern::Subtree(prefix))
            | (Pattern::Subtree(prefix), Pattern::Exact(exact)) => {
                exact.starts_with(prefix.as_str())
            }
            (Pattern::Subtree(a), Pattern::Subtree(b)) => {
                a.starts_with(b.as_str()) || b.starts_with(a.as_str())
            }
        }
    }
}

impl PublicPaths {
    /// The first pair of entries (one of `self`, one of `other`, as configured) that some path
    /// matches both, if any.
    ///
    /// ```
    /// use sessiongate::paths::PublicPaths;
    /// let public = PublicPaths::parse("/login,/static/*").unwrap();
    /// let optional = PublicPaths::parse("/,/static/img/*").unwrap();
    /// assert_eq!(
    ///     optional.overlap(&public),
    ///     Some(("/static/img/*".to_owned(), "/static/*".to_owned()))
    /// );
    /// assert_eq!(PublicPaths::parse("/,/home").unwrap().overlap(&public), None);
    /// ```
    pub fn overlap(&self, other: &PublicPaths) -> Option<(String, String)> {
        self.patterns.iter().find_map(|mine| {
            other
                .patterns
                .iter()
                .find(|theirs| mine.overlaps(theirs))
                .map(|theirs| (mine.entry(), theirs.entry()))
        })
    }
}

/// The decoded path, or `None` when it is ambiguous: encoded `/`, `\` or `.`, a `;`, `?` or `#`,
/// a backslash, an empty or dot segment, a control character, an invalid or double escape.
pub fn normalize(raw_path: &str) -> Option<String> {
    if !raw_path.starts_with('/') || raw_path.contains(['\\', ';', '?', '#']) {
        return None;
    }
    let decoded = crate::cookie::decode_uri_component(raw_path)?;
    // Escapes of separators, and double escapes (a `%` left after decoding), could be decoded
    // once more by the origin into something else.
    if decoded.contains(['%', '\\', ';', '?', '#']) || decoded.chars().any(char::is_control) {
        return None;
    }
    let lower = raw_path.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%2e") || lower.contains("%5c") {
        return None;
    }
    if has_empty_or_dot_segment(decoded.strip_suffix('/').unwrap_or(&decoded)) {
        return None;
    }
    Some(decoded.into_owned())
}

fn has_empty_or_dot_segment(path: &str) -> bool {
    if path.is_empty() || path == "/" {
        return false;
    }
    path.split('/')
        .skip(1)
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public() -> PublicPaths {
        PublicPaths::parse("/health, /login,/static/*,/").unwrap()
    }

    #[test]
    fn exact_and_subtree() {
        let p = public();
        assert!(p.matches("/health"));
        assert!(p.matches("/login"));
        assert!(p.matches("/"));
        assert!(p.matches("/static/"));
        assert!(p.matches("/static/css/app.css"));
        assert!(!p.matches("/static"));
        assert!(!p.matches("/healthz"));
        assert!(!p.matches("/health/x"));
        assert!(!p.matches("/echo"));
    }

    #[test]
    fn ambiguous_paths_are_never_public() {
        let p = public();
        for path in [
            "//health",
            "/health/",
            "/HEALTH",
            "/health;x",
            "/health;",
            "/static/..%2Fadmin",
            "/static/%2e%2e/admin",
            "/static/a%2Fb",
            "/static/a%5Cb",
            "/static/a\\b",
            "/static//x",
            "/static/./x",
            "/static/../admin",
            "/health%00",
            "/static/%252e",
            "/static/%zz",
            "/static/%C0%AF",
            "health",
            "",
            "/health?x",
            "/health#x",
        ] {
            assert!(!p.matches(path), "{path:?} must not be public");
        }
    }

    #[test]
    fn harmless_escapes_are_decoded() {
        let p = public();
        assert!(p.matches("/%68ealth"));
        assert!(p.matches("/static/hello%20world.txt"));
    }

    #[test]
    fn overlaps_are_found() {
        let public = public();
        for (optional, expected) in [
            ("/health", Some(("/health", "/health"))),
            ("/static/a", Some(("/static/a", "/static/*"))),
            ("/static/a/*", Some(("/static/a/*", "/static/*"))),
            ("/*", Some(("/*", "/health"))),
            ("/static/", Some(("/static/", "/static/*"))),
            ("/static", None),
            ("/healthz,/home/*,/statics/*", None),
        ] {
            let found = PublicPaths::parse(optional).unwrap().overlap(&public);
            assert_eq!(
                found,
                expected.map(|(a, b)| (a.to_owned(), b.to_owned())),
                "{optional}"
            );
        }
    }

    #[test]
    fn bad_patterns_are_config_errors() {
        for bad in [
            "health", "/a%2F", "/a;b", "/a/../b", "/a//b", "/a*", "/a/*/b", "/a?x",
        ] {
            assert!(PublicPaths::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(PublicPaths::parse("").unwrap(), PublicPaths::default());
        assert!(!PublicPaths::default().matches("/"));
    }
}
