//! Integration tests of om-gateway: real clients (ollama-rs, a plain HTTP
//! client) through the gateway in front of simulated endpoints.

mod admission;
mod auth;
mod backends;
mod faces;
mod faults;
mod observe;
mod ollama_rs;
mod openai;
mod routes;
mod shutdown;
mod streaming;
mod support;
mod tls;
