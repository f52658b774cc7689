//! Test harness shared by the integration tests: an in-memory client/server
//! pair over a simulated network.
