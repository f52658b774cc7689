//! TLS for clients (the `rustls` feature): the rustls configuration behind
//! `wss://` URLs, shared by the runtime crates, which only add the TLS
//! stream of their runtime.
//!
//! By default `connect` trusts the webpki root certificates (Mozilla's).
//! To trust something else (a private certificate authority, a test
//! certificate), build a configuration with [`client_config`] from a root
//! store, or any [`rustls::ClientConfig`] of your own (client
//! certificates, ALPN, another crypto provider), and pass it to the runtime
//! crate's `connect_with_tls`.
//!
//! ```
//! use wscore_driver::tls::{self, rustls};
//!
//! # fn run(ca_der: rustls::pki_types::CertificateDer<'static>) -> Result<(), rustls::Error> {
//! let mut roots = rustls::RootCertStore::empty();
//! roots.add(ca_der)?;
//! let config = tls::client_config(roots)?;
//! // wscore_tokio::connect_with_tls(request, Config::default(), config).await?;
//! # let _ = config;
//! # Ok(())
//! # }
//! ```

use std::io;
use std::sync::{Arc, OnceLock};

/// The rustls release these functions build for: a [`ClientConfig`] passed
/// to `connect_with_tls` must come from it.
pub use rustls;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};

/// A client configuration that trusts `roots`: ring for the cryptography,
/// TLS 1.2 and 1.3, no client certificate.
pub fn client_config(roots: RootCertStore) -> Result<Arc<ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

/// The configuration `connect` uses for `wss://` URLs: [`client_config`]
/// with the webpki root certificates. Built once and shared.
pub fn default_client_config() -> Result<Arc<ClientConfig>, rustls::Error> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, rustls::Error>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            client_config(roots)
        })
        .clone()
}

/// The name the server's certificate must carry for `host` (a DNS name or
/// an IP address); an invalid host is an [`io::ErrorKind::InvalidInput`]
/// error.
pub fn server_name(host: &str) -> io::Result<ServerName<'static>> {
    ServerName::try_from(host.to_owned())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
}
