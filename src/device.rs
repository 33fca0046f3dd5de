//! A readable device label from a `User-Agent` ("Chrome 131 on Windows"), for the "your sessions"
//! page. It is computed once at login and stored in the record; the raw user agent is never
//! stored. The label is built only from fixed names and digits, so it is safe in any context.
//!
//! A handful of substring rules cover the browsers and systems people actually use; anything
//! else is "Unknown browser". (A full user-agent database would cost more Wasm than the whole
//! gateway, for a label.)

/// Browsers, most specific first: Edge, Opera and Samsung Internet also say "Chrome", Chrome
/// also says "Safari".
const BROWSERS: &[(&str, &str)] = &[
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("EdgiOS/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("curl/", "curl"),
    ("Wget/", "Wget"),
];

/// Systems, most specific first: Android and ChromeOS also say "Linux", iOS says "Mac OS X".
const SYSTEMS: &[(&str, &str)] = &[
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Macintosh", "macOS"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
];

/// Longest user agent looked at; real ones are a few hundred bytes.
const MAX_SCANNED: usize = 1024;

/// "Browser major on System", or as much of it as can be told.
///
/// ```
/// use sessiongate::device::describe;
/// let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
/// assert_eq!(describe(Some(chrome)), "Chrome 131 on Linux");
/// assert_eq!(describe(Some("curl/8.5.0")), "curl 8");
/// assert_eq!(describe(None), "Unknown device");
/// ```
pub fn describe(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.map(str::trim).filter(|ua| !ua.is_empty()) else {
        return "Unknown device".to_owned();
    };
    let ua = prefix_within(ua, MAX_SCANNED);
    let browser = browser(ua);
    let system = SYSTEMS
        .iter()
        .find(|(marker, _)| ua.contains(marker))
        .map(|(_, name)| *name);
    match system {
        Some(system) => format!("{browser} on {system}"),
        None => browser,
    }
}

fn browser(ua: &str) -> String {
    for (marker, name) in BROWSERS {
        if let Some(rest) = ua.split_once(marker).map(|(_, rest)| rest) {
            return with_major(name, rest);
        }
    }
    // Safari gives its version in `Version/`, and says "Safari" last.
    if ua.contains("Safari/") {
        if let Some((_, rest)) = ua.split_once("Version/") {
            return with_major("Safari", rest);
        }
        return "Safari".to_owned();
    }
    "Unknown browser".to_owned()
}

/// `name` followed by the leading digits of `version` (at most 4), if any.
fn with_major(name: &str, version: &str) -> String {
    let major: String = version
        .chars()
        .take_while(char::is_ascii_digit)
        .take(4)
        .collect();
    if major.is_empty() {
        name.to_owned()
    } else {
        format!("{name} {major}")
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn prefix_within(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn common_browsers_and_systems() {
        let cases = [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86",
                "Edge 131 on Windows",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
                "Safari 18 on macOS",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                "Safari 18 on iPhone",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
                "Chrome 131 on iPhone",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
                "Chrome 131 on Android",
            ),
            (
                "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Firefox 133 on Linux",
            ),
            (
                "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "Chrome 131 on ChromeOS",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
                "Samsung Internet 26 on Android",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0",
                "Opera 115 on Windows",
            ),
            ("curl/8.5.0", "curl 8"),
            ("Mozilla/5.0 (X11; Linux x86_64) e2e/1.0", "Unknown browser on Linux"),
            ("something", "Unknown browser"),
            ("   ", "Unknown device"),
        ];
        for (ua, label) in cases {
            assert_eq!(describe(Some(ua)), label, "{ua}");
        }
    }

    #[test]
    fn hostile_input_gives_a_plain_label() {
        let huge = format!("Chrome/{}<script>{}", "9".repeat(10_000), "é".repeat(5_000));
        assert_eq!(describe(Some(&huge)), "Chrome 9999");
        let split = format!("{}é Firefox/1", "a".repeat(1023));
        assert_eq!(
            describe(Some(&split)),
            "Unknown browser",
            "scan stops at 1024 bytes, mid-character"
        );
        let label = describe(Some("Firefox/<img src=x>\r\nWindows"));
        assert_eq!(label, "Firefox on Windows");
        assert!(label.chars().all(|c| c.is_ascii_alphanumeric() || c == ' '));
    }
}
