//! `OLLAMA_HOST` parsing, the way Ollama itself reads the variable.
//!
//! Accepted forms: `host`, `host:port`, `:port`, `[::1]:port`, each with or
//! without `http://` / `https://`, optionally followed by a path. Without a
//! scheme the port defaults to 11434; with `http://` to 80 and with
//! `https://` to 443, as in Ollama's `envconfig.Host`. An invalid port falls
//! back to the default rather than failing, again as Ollama does.

use std::fmt;

/// Ollama's default port.
pub const DEFAULT_PORT: u16 = 11434;

/// The base address of one Ollama endpoint: scheme, host, port and an
/// optional path prefix. Displays as `http://127.0.0.1:11434` (plus the path).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EndpointUrl {
    scheme: Scheme,
    host: String,
    port: u16,
    path: String,
}

/// The URL scheme of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

/// Why an endpoint address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid endpoint address {input:?}: {reason}")]
pub struct ParseHostError {
    /// The text that was refused.
    pub input: String,
    /// What was wrong.
    pub reason: &'static str,
}

impl EndpointUrl {
    /// The address Ollama uses when `OLLAMA_HOST` is unset.
    pub fn default_local() -> Self {
        Self {
            scheme: Scheme::Http,
            host: "127.0.0.1".to_owned(),
            port: DEFAULT_PORT,
            path: String::new(),
        }
    }

    /// Parses an `OLLAMA_HOST`-style value (see the module docs).
    pub fn parse(input: &str) -> Result<Self, ParseHostError> {
        let err = |reason| ParseHostError { input: input.to_owned(), reason };
        let text = input.trim().trim_matches(|c| c == '"' || c == '\'');
        let (scheme, rest, default_port) = match text.split_once("://") {
            None if text == "ollama.com" => (Scheme::Https, "ollama.com:443", 443),
            None => (Scheme::Http, text, DEFAULT_PORT),
            Some((s, rest)) if s.eq_ignore_ascii_case("http") => (Scheme::Http, rest, 80),
            Some((s, rest)) if s.eq_ignore_ascii_case("https") => (Scheme::Https, rest, 443),
            Some(_) => return Err(err("scheme must be http or https")),
        };
        let (hostport, path) = match rest.split_once('/') {
            Some((hp, path)) => (hp, path.trim_end_matches('/')),
            None => (rest, ""),
        };
        let (host, port) = split_host_port(hostport, default_port);
        let host = if host.is_empty() { "127.0.0.1".to_owned() } else { host };
        if host.chars().any(|c| c.is_whitespace() || matches!(c, '@' | '?' | '#')) {
            return Err(err("host contains characters that cannot appear in a host"));
        }
        let path = if path.is_empty() { String::new() } else { format!("/{path}") };
        Ok(Self { scheme, host, port, path })
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host, without brackets for IPv6.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The path prefix (`""` or `/prefix`, never a trailing slash).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `host:port` with brackets around IPv6 hosts, as a `Host` header wants it.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// True for `localhost`, `127.0.0.0/8`, `::1` and `0.0.0.0`: an upstream
    /// that applies Ollama's Host check.
    pub fn is_loopback(&self) -> bool {
        let h = self.host.to_ascii_lowercase();
        h == "localhost"
            || h.ends_with(".localhost")
            || h.starts_with("127.")
            || h == "::1"
            || h == "0.0.0.0"
            || h == "::"
    }

    /// The full URL of `path` (which starts with `/`) on this endpoint.
    pub fn join(&self, path: &str) -> String {
        format!("{self}{path}")
    }
}

impl Default for EndpointUrl {
    fn default() -> Self {
        Self::default_local()
    }
}

impl fmt::Display for EndpointUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        write!(f, "{scheme}://{}{}", self.authority(), self.path)
    }
}

impl std::str::FromStr for EndpointUrl {
    type Err = ParseHostError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for EndpointUrl {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for EndpointUrl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Go's `net.SplitHostPort` followed by Ollama's fallbacks: when the text has
/// no valid `host:port` shape, all of it is the host and the port is the
/// default; a port that is not a number in range becomes the default.
fn split_host_port(hostport: &str, default_port: u16) -> (String, u16) {
    let parse_port = |p: &str| p.parse::<u16>().unwrap_or(default_port);
    if let Some(inner) = hostport.strip_prefix('[') {
        // Bracketed IPv6, with or without a port.
        if let Some((host, after)) = inner.split_once(']') {
            let port = after.strip_prefix(':').map_or(default_port, parse_port);
            return (host.to_owned(), port);
        }
        return (inner.to_owned(), default_port);
    }
    match hostport.matches(':').count() {
        1 => {
            let (host, port) = hostport.split_once(':').unwrap_or((hostport, ""));
            (host.to_owned(), parse_port(port))
        }
        // A bare IPv6 address has several colons and no port.
        _ => (hostport.to_owned(), default_port),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn table() {
        let cases = [
            ("", "http://127.0.0.1:11434"),
            ("localhost", "http://localhost:11434"),
            ("example.com:8080", "http://example.com:8080"),
            (":9999", "http://127.0.0.1:9999"),
            ("http://example.com", "http://example.com:80"),
            ("https://example.com", "https://example.com:443"),
            ("http://10.0.0.2:11434/", "http://10.0.0.2:11434"),
            ("http://h:1/prefix/", "http://h:1/prefix"),
            ("[::1]:7000", "http://[::1]:7000"),
            ("::1", "http://[::1]:11434"),
            ("0.0.0.0", "http://0.0.0.0:11434"),
            ("host:notaport", "http://host:11434"),
            ("host:99999", "http://host:11434"),
            ("  \"127.0.0.1:5\" ", "http://127.0.0.1:5"),
            ("ollama.com", "https://ollama.com:443"),
        ];
        for (input, want) in cases {
            assert_eq!(EndpointUrl::parse(input).unwrap().to_string(), want, "{input:?}");
        }
    }

    #[test]
    fn refuses_other_schemes() {
        let err = EndpointUrl::parse("ftp://x").unwrap_err();
        assert_eq!(err.input, "ftp://x");
    }

    #[test]
    fn loopback_detection() {
        for h in ["localhost", "127.0.0.1", "127.1.2.3:80", "[::1]:1", "0.0.0.0"] {
            assert!(EndpointUrl::parse(h).unwrap().is_loopback(), "{h}");
        }
        for h in ["10.0.0.1", "example.com"] {
            assert!(!EndpointUrl::parse(h).unwrap().is_loopback(), "{h}");
        }
    }

    proptest! {
        #[test]
        fn display_round_trips(
            https in any::<bool>(),
            host in "[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,4})?",
            port in 1u16..,
            path in prop::option::of("[a-z]{1,6}"),
        ) {
            let scheme = if https { "https" } else { "http" };
            let text = match &path {
                Some(p) => format!("{scheme}://{host}:{port}/{p}"),
                None => format!("{scheme}://{host}:{port}"),
            };
            let url = EndpointUrl::parse(&text).unwrap();
            prop_assert_eq!(url.port(), port);
            prop_assert_eq!(url.host(), host.as_str());
            prop_assert_eq!(url.to_string(), text.clone());
            prop_assert_eq!(EndpointUrl::parse(&url.to_string()).unwrap(), url);
        }

        #[test]
        fn never_panics(text in "\\PC{0,40}") {
            let _ = EndpointUrl::parse(&text);
        }
    }
}
