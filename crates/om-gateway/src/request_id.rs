//! Request ids: the client's `X-Request-Id` when it sent a usable one, else
//! a new one; returned in the response header and carried by every log
//! line of the request.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

use http::HeaderMap;
use http::header::HeaderName;
use om_core::RequestId;

/// The header that carries the id both ways.
pub(crate) const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest client id echoed; longer ones are replaced.
const MAX_LEN: usize = 128;

/// Hands out request ids: a per-process random prefix and a counter, so
/// ids are unique within a run and unlikely to collide across restarts.
#[derive(Debug)]
pub(crate) struct RequestIds {
    prefix: u32,
    next: AtomicU64,
}

impl RequestIds {
    pub(crate) fn new() -> Self {
        // RandomState is seeded from the OS per instance: enough for a
        // prefix, without another dependency.
        let prefix = RandomState::new().hash_one(0_u8) as u32;
        Self { prefix, next: AtomicU64::new(1) }
    }

    /// The id of a request with these headers.
    pub(crate) fn assign(&self, headers: &HeaderMap) -> RequestId {
        if let Some(given) = headers.get(&X_REQUEST_ID).and_then(|v| v.to_str().ok())
            && is_usable(given)
        {
            return RequestId::new(given);
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        RequestId::new(format!("{:08x}-{n:x}", self.prefix))
    }
}

/// Short, printable, no spaces: safe in a header and a log line.
fn is_usable(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_LEN && id.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn echoes_usable_ids_and_makes_the_others() {
        let ids = RequestIds::new();
        let mut headers = HeaderMap::new();
        let a = ids.assign(&headers);
        let b = ids.assign(&headers);
        assert_ne!(a, b);
        headers.insert(X_REQUEST_ID, HeaderValue::from_static("abc-123"));
        assert_eq!(ids.assign(&headers).as_str(), "abc-123");
        headers.insert(X_REQUEST_ID, HeaderValue::from_static("has space"));
        assert_ne!(ids.assign(&headers).as_str(), "has space");
        let long = "x".repeat(MAX_LEN + 1);
        headers.insert(X_REQUEST_ID, HeaderValue::from_str(&long).unwrap());
        assert_ne!(ids.assign(&headers).as_str(), long);
    }
}
