//! The peer link's transport: plain TCP, or mutually authenticated TLS (rustls) when the
//! `failover peer` block names `tls-certificate`, `tls-key` and `tls-ca` (an xdhcpd
//! extension). The side that connected is the TLS client, the side that accepted the
//! server; each presents its certificate and checks the other's against the CA. The client
//! also checks that the server's certificate names the configured `peer address` (an IP
//! address SAN, or the DNS name when the address is a host name).
//!
//! Message authentication (`auth-key`) is independent of this and lives in the sans-IO
//! `dhcp_failover::link`; both can be on at once.

use anyhow::{Context, Result};
use dhcp_config::{Config, FailoverPeer, PeerAddress, PeerTls};
use dhcp_failover::LinkKey;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// A byte stream to the partner: TCP or TLS over TCP.
pub trait PeerStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> PeerStream for T {}
/// The stream type the failover task holds.
pub type BoxStream = Box<dyn PeerStream>;

/// How long a TLS handshake may take before the connection is given up.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// The TLS side of one relationship, loaded once at startup.
pub struct Tls {
    acceptor: TlsAcceptor,
    connector: TlsConnector,
    server_name: ServerName<'static>,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Loads the certificate, key and CA of `tls`; `peer_address` is the name the partner's
/// certificate must carry. Errors name the file and what is wrong with it.
pub fn load_tls(tls: &PeerTls, peer_address: &PeerAddress) -> Result<Tls> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.certificate)
        .with_context(|| format!("tls-certificate {}", tls.certificate))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("tls-certificate {}", tls.certificate))?;
    anyhow::ensure!(!certs.is_empty(), "tls-certificate {}: no certificate in the file", tls.certificate);
    let key = PrivateKeyDer::from_pem_file(&tls.key).with_context(|| format!("tls-key {}", tls.key))?;
    let mut roots = RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(&tls.ca).with_context(|| format!("tls-ca {}", tls.ca))? {
        roots.add(ca.with_context(|| format!("tls-ca {}", tls.ca))?).with_context(|| format!("tls-ca {}", tls.ca))?;
    }
    anyhow::ensure!(!roots.is_empty(), "tls-ca {}: no certificate in the file", tls.ca);
    let roots = Arc::new(roots);
    let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider())
        .build()
        .context("client certificate verifier")?;
    let server = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs.clone(), key.clone_key())
        .with_context(|| format!("tls-certificate {} / tls-key {}", tls.certificate, tls.key))?;
    let client = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .with_context(|| format!("tls-certificate {} / tls-key {}", tls.certificate, tls.key))?;
    let server_name = match peer_address {
        PeerAddress::Ip(ip) => ServerName::IpAddress(std::net::IpAddr::V4(*ip).into()),
        PeerAddress::Name(n) => {
            ServerName::try_from(n.clone()).with_context(|| format!("peer address {n} is not a valid TLS name"))?
        }
    };
    Ok(Tls {
        acceptor: TlsAcceptor::from(Arc::new(server)),
        connector: TlsConnector::from(Arc::new(client)),
        server_name,
    })
}

/// The relationship's `auth-key`, resolved to its secret (validation already checked that
/// it names an hmac-sha256 key).
pub fn link_key(config: &Config, peer: &FailoverPeer) -> Option<LinkKey> {
    let name = peer.auth_key.as_ref()?;
    config.key(name).map(|k| LinkKey::new(name.clone(), k.secret.clone()))
}

/// Wraps a new connection: TLS handshake when configured (`outgoing`: we connected, so we
/// are the TLS client), plain TCP otherwise.
pub async fn secure(tls: Option<&Tls>, stream: TcpStream, outgoing: bool) -> std::io::Result<BoxStream> {
    let _ = stream.set_nodelay(true);
    let Some(tls) = tls else {
        return Ok(Box::new(stream));
    };
    let handshake = async {
        if outgoing {
            tls.connector.connect(tls.server_name.clone(), stream).await.map(|s| Box::new(s) as BoxStream)
        } else {
            tls.acceptor.accept(stream).await.map(|s| Box::new(s) as BoxStream)
        }
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake timed out"))?
}

/// A fresh random connection nonce for the link layer.
pub fn nonce() -> [u8; dhcp_failover::link::NONCE_LEN] {
    let mut n = [0u8; dhcp_failover::link::NONCE_LEN];
    if let Err(e) = getrandom::fill(&mut n) {
        // Without the OS generator, fall back to the clock: unique per connection, which is
        // what the replay rule needs (it is not a secret).
        tracing::warn!("getrandom failed ({e}); using a clock-derived nonce");
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        n = (t.as_nanos() as u64).to_be_bytes();
    }
    n
}
