//! certgen — certificates, client assertions and tokens for the Microsoft Entra ID
//! client-credentials (machine-to-machine) flow, and an offline token service that behaves
//! like Entra for tests.
//!
//! The library holds the domain; the `certgen` binary is a thin layer of argument parsing and
//! printing over it. Cargo features: `serve` (the token service and `verify::bearer`'s axum glue:
//! axum, hyper-util, tower-http) and `cli` (the binary: clap, the terminal prompt; implies
//! `serve`), both on by default; `default-features = false` builds the library without them.
//! One module per concept:
//!
//! | module | concept |
//! |---|---|
//! | [`certificate`] | a parsed X.509 certificate and its facts |
//! | [`thumbprint`] | the four thumbprint forms Entra uses |
//! | [`key`] | private keys (PKCS#8, encrypted PKCS#8, PKCS#1) |
//! | [`pkcs12`] | PKCS#12 read (modern and legacy) and write |
//! | [`input`] | any certificate/key/PKCS#12 file, recognised by content |
//! | [`secret`] | passwords and client secrets, and where they come from |
//! | [`generate`] | new self-signed certificates and keys |
//! | [`credential`] | a signing credential: certificate chain + RSA key, checked for Entra |
//! | [`authority`] | authority hosts (named clouds), tenants, the token endpoint |
//! | [`assertion`] | the client-assertion JWT (PS256/RS256, `x5t#S256`/`x5t`, `x5c`) |
//! | [`jose`] | JWS/JWT: base64url, the compact form (strict or lenient), NumericDate rules, `Bearer`, RS256/PS256 sign and verify |
//! | [`rotate`] | renewing a certificate in place: the files of a rotation and the stage they show |
//! | [`files`] | safe, atomic output files |
//! | [`paths`] | where the cache and service state live |
//! | [`token`] | getting an access token ([`token::acquire`](fn@token::acquire): cache first, network on a miss), the request, its cache, and explanations of error answers |
//! | [`graph`] | Microsoft Graph from a daemon: cloud hosts, the scope of a URL, OData errors and paging, app permissions |
//! | [`verify`] | access-token validation as a protected API does it (JWKS, discovery, bearer) |
//! | `serve` | the local token service that behaves like Entra (`certgen serve`); feature `serve` |
//! | [`error`] | the one error type, with hints and exit-code kinds |

pub mod assertion;
pub mod authority;
pub mod certificate;
pub mod credential;
pub mod error;
pub mod files;
pub mod generate;
pub mod graph;
pub mod input;
pub mod jose;
pub mod key;
pub mod paths;
pub mod pkcs12;
pub mod rotate;
pub mod secret;
#[cfg(feature = "serve")]
pub mod serve;
pub mod thumbprint;
pub mod token;
pub mod verify;

pub use error::{Error, ErrorKind, Result};
