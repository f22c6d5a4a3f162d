//! The registrations the token service knows: tenants, applications (with their certificates,
//! secrets and granted app roles) and resource APIs — from command-line flags and a TOML file.
//!
//! Secrets are never written in the file or on the command line: the file and the flags name
//! environment variables, read once at start.
//!
//! | module | concept |
//! |---|---|
//! | `model` | what the service uses: [`Registry`], tenants, apps, resources, users |
//! | `federated` | one federated identity credential (`[[app.federated]]`) and Graph's rules for it |
//! | `microsoft` | Microsoft's own resources, in every tenant (Graph, Azure Service Management, …) |
//! | `flags` | the registrations given on the command line |
//! | `schema` | the TOML file's serde structs |
//! | `loader` | reading the file, the flags and the environment, checking, building the model |
//! | `managed_identities` | `[[managed_identity]]`: system- and user-assigned identities |
//! | `checks` | what `[[app]]` and `[[managed_identity]]` both check: a GUID, a grant of roles or scopes |
//! | `workloads` | `[[workload]]` as written, checked into the model's [`Workload`] |
//! | `users_file` | the users as JSON Lines of Graph user objects |
//! | `sources` | what a load read, as digests: whether a later start's inputs are unchanged |

mod checks;
pub mod federated;
mod flags;
mod loader;
mod managed_identities;
pub mod microsoft;
mod model;
mod schema;
mod sources;
mod users_file;
mod workloads;

pub use flags::Flags;
pub use model::*;
pub use sources::unchanged;
