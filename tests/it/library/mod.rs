//! The library API called directly: the token client and credentials, identity errors, the
//! validator (and the example API built on it).

mod azure_core;
mod concurrency;
mod identity_errors;
mod managed_identity;
mod token_acquire;
mod token_client;
mod verify;
mod verify_api;
mod verify_example;
mod workload;
