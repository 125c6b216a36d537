//! The optional bearer token: `Authorization: Bearer <token>`, compared in
//! constant time.

use http::HeaderMap;
use http::header::AUTHORIZATION;

/// The token every protected route requires, if any.
#[derive(Clone)]
pub(crate) struct Auth {
    token: Option<Box<[u8]>>,
}

impl Auth {
    pub(crate) fn new(token: Option<&str>) -> Self {
        Self { token: token.map(|t| t.as_bytes().into()) }
    }

    /// True when a token is required.
    pub(crate) fn is_on(&self) -> bool {
        self.token.is_some()
    }

    /// True when the request may pass: no token is required, or it carries
    /// the right one.
    pub(crate) fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.token else { return true };
        let Some(value) = headers.get(AUTHORIZATION) else { return false };
        let value = value.as_bytes();
        // The scheme is case-insensitive (RFC 9110 §11.1).
        let Some(given) = value
            .get(..7)
            .filter(|scheme| scheme.eq_ignore_ascii_case(b"bearer "))
            .map(|_| value[7..].trim_ascii())
        else {
            return false;
        };
        constant_time_eq(given, expected)
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").field("on", &self.is_on()).finish()
    }
}

/// Compares without stopping at the first difference, so the time taken
/// does not tell how much of a guess was right.
fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = given.len() ^ expected.len();
    for i in 0..given.len().max(expected.len()) {
        let a = given.get(i).copied().unwrap_or(0);
        let b = expected.get(i).copied().unwrap_or(0);
        diff |= usize::from(a ^ b);
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn bearer_tokens() {
        let auth = Auth::new(Some("s3cret"));
        assert!(auth.admits(&headers("Bearer s3cret")));
        assert!(auth.admits(&headers("bearer s3cret")));
        assert!(!auth.admits(&headers("Bearer s3cre")));
        assert!(!auth.admits(&headers("Bearer s3cret2")));
        assert!(!auth.admits(&headers("Basic s3cret")));
        assert!(!auth.admits(&headers("s3cret")));
        assert!(!auth.admits(&HeaderMap::new()));
        assert!(Auth::new(None).admits(&HeaderMap::new()));
    }

    #[test]
    fn equality_is_exact() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }
}
