//! TLS on `secureClientPort` with PEM material: the server's private key and certificate chain,
//! from `ssl.keyStore.location` when it is a PEM file (`ssl.keyStore.type=PEM` or a `.pem` name,
//! key and certificates in one file, as 3.8's PEMFileLoader reads it) or from `ssl.keyPem` and
//! `ssl.certPem`. Java KeyStores (JKS, PKCS#12) are not read: convert them to PEM.
//!
//! Client certificates are not requested, so the `x509` auth scheme is not available; a client
//! that presents one connects as any other TLS client.

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::ServerConfig;

/// The acceptor of the secure client port, or why it cannot be built.
pub(crate) fn acceptor(config: &ServerConfig) -> Result<TlsAcceptor, String> {
    let store_is_pem = config.ssl_key_store.as_ref().filter(|p| {
        config
            .ssl_key_store_type
            .as_deref()
            .map(|t| t.eq_ignore_ascii_case("PEM"))
            .unwrap_or_else(|| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("pem")))
    });
    let key_pem = config.ssl_key_pem.as_ref().or(store_is_pem);
    let cert_pem = config.ssl_cert_pem.as_ref().or(store_is_pem);
    let (key_path, cert_path) = match (key_pem, cert_pem) {
        (Some(k), Some(c)) => (k.clone(), c.clone()),
        (Some(k), None) => (k.clone(), k.clone()),
        (None, Some(c)) => (c.clone(), c.clone()),
        (None, None) => {
            return Err(
                "secureClientPort needs a PEM key and certificate: set ssl.keyStore.location to a .pem file (ssl.keyStore.type=PEM)"
                    .into(),
            );
        }
    };
    let key = load_key(&key_path)?;
    let certs = load_certs(&cert_path)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("unusable private key in {}: {e}", key_path.display()))?;
    // Not `with_single_cert`: it parses the certificate with webpki, which refuses X.509 v1
    // certificates (kazoo's harness makes one); clients judge the certificate, as with Java.
    let certified = rustls::sign::CertifiedKey::new(certs, signing_key);
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS protocol versions: {e}"))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified)));
    Ok(TlsAcceptor::from(Arc::new(tls)))
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| {
        format!(
            "no PEM private key (PKCS#8, PKCS#1 or SEC1) in {}: {e}",
            path.display()
        )
    })
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read PEM certificates from {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("no PEM certificate in {}", path.display()));
    }
    Ok(certs)
}
