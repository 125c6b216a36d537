//! A small HTTP/1.1 implementation for the gateway's two sides: a server
//! connection ([`serve_connection`]) and a pooled client ([`Client`]).
//!
//! Why not hyper: hyper gives every HTTP/1 connection an 8 KiB write buffer
//! and a read buffer of at least 8 KiB, with no setting to make them
//! smaller, and its client adds a dispatch channel of about 9 KiB. A
//! streamed answer through the gateway holds two connections, so hyper set
//! a floor of about 40 KiB per open stream. Here a connection's buffers are
//! sized to what is in them and given back while an answer streams.
//!
//! Heads are parsed by `httparse` (the parser hyper uses); bodies are
//! framed by length, by chunks or by the connection closing (RFC 9112).
//! What is not here because nothing of ours speaks it: HTTP/2, upgrades,
//! pipelined answers (a pipelined request waits for the answer before it).

mod client;
mod error;
mod framing;
mod head;
mod server;

pub use client::{Client, ClientConfig, Connection, ResponseBody};
pub use error::{Error, ErrorKind};
pub use server::{Io, RequestBody, ServeConfig, serve_connection};
