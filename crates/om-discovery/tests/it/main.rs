//! Integration tests of om-discovery: the loop and the one-shot probe
//! against simulated endpoints, a counting fake Ollama and broken
//! endpoints, on paused time.

mod cache;
mod events;
mod health;
mod scale;
mod support;
