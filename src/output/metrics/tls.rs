//! Private scrapes: `--metrics-tls-cert` and `--metrics-tls-key` serve the
//! metrics over TLS (rustls), and `--metrics-client-ca` also asks every
//! client for a certificate signed by that CA (mutual TLS): a pod without one
//! cannot read what runs on the node. A client without any certificate still
//! completes the handshake, for /healthz alone (the kubelet's probe presents
//! none); /metrics refuses it (`Acceptor::requires_client_certificate`). A
//! certificate the CA did not sign fails the handshake.
//!
//! Files are read at start (a bad one is an error then) and read again when
//! they change, checked at most every `RECHECK`: a certificate rotated in its
//! Secret (cert-manager renews before expiry) is served without a restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use anyhow::{bail, Context, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// How often the files' modification times are looked at, at most.
const RECHECK: std::time::Duration = std::time::Duration::from_secs(10);

/// Where the server's certificate chain, its key and the clients' CA are.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

impl TlsFiles {
    fn paths(&self) -> impl Iterator<Item = &Path> {
        [Some(self.cert.as_path()), Some(self.key.as_path()), self.client_ca.as_deref()].into_iter().flatten()
    }

    /// The files' modification times, to tell a rotation.
    fn stamp(&self) -> Vec<Option<SystemTime>> {
        self.paths().map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok()).collect()
    }

    fn config(&self) -> Result<Arc<ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&self.cert)
            .and_then(|certs| certs.collect::<Result<_, _>>())
            .with_context(|| format!("--metrics-tls-cert {}: not a PEM certificate chain", self.cert.display()))?;
        if chain.is_empty() {
            bail!("--metrics-tls-cert {}: no certificate in it", self.cert.display());
        }
        let key = PrivateKeyDer::from_pem_file(&self.key)
            .with_context(|| format!("--metrics-tls-key {}: not a PEM private key", self.key.display()))?;
        let builder = ServerConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                let certs = CertificateDer::pem_file_iter(ca)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .with_context(|| format!("--metrics-client-ca {}: not PEM certificates", ca.display()))?;
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    bail!("--metrics-client-ca {}: no usable CA certificate in it", ca.display());
                }
                let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .allow_unauthenticated()
                    .build()
                    .with_context(|| format!("--metrics-client-ca {}", ca.display()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .with_context(|| format!("--metrics-tls-key {} does not match --metrics-tls-cert {}", self.key.display(), self.cert.display()))?;
        // Prometheus scrapes over HTTP/1.1; the server speaks nothing else.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// The acceptor for these files, read now.
    pub fn acceptor(self) -> Result<Acceptor> {
        // The times first: a rotation while the files are read is seen as a change at the next check.
        let stamp = self.stamp();
        let current = TlsAcceptor::from(self.config()?);
        Ok(Acceptor { stamp, files: self, current, checked: Instant::now() })
    }
}

/// The TLS acceptor of the files as they are now.
pub struct Acceptor {
    files: TlsFiles,
    current: TlsAcceptor,
    stamp: Vec<Option<SystemTime>>,
    checked: Instant,
}

impl Acceptor {
    /// Whether /metrics is for clients with a certificate only.
    pub fn requires_client_certificate(&self) -> bool {
        self.files.client_ca.is_some()
    }

    /// The acceptor for a new connection: the files read again if they
    /// changed since (a half-written rotation that does not load keeps the
    /// last good one, and is tried again at the next check).
    pub fn current(&mut self) -> TlsAcceptor {
        if self.checked.elapsed() >= RECHECK {
            self.checked = Instant::now();
            let stamp = self.files.stamp();
            if stamp != self.stamp {
                if let Ok(config) = self.files.config() {
                    self.current = TlsAcceptor::from(config);
                    self.stamp = stamp;
                }
            }
        }
        self.current.clone()
    }
}
