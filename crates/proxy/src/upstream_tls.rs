//! TLS to `grpcs` and `https` upstreams: the CA their certificates must
//! chain to (the system roots without one), the name they must carry, and
//! the gateway's client certificate for upstreams that require mTLS. Read
//! from PEM files at load (so a reload reads them again) and carried by
//! every peer of the upstream; Pingora's rustls connector does the
//! handshake and the checks.

use std::sync::Arc;

use pingora_core::protocols::tls::CaType;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_core::utils::tls::{parse_x509, CertKey, WrappedX509};
use protogate_config::UpstreamTls;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;
use rustls::sign::CertifiedKey;

use crate::tls::{read_certificates, read_roots};

/// The TLS material of one upstream.
#[derive(Clone, Default)]
pub struct UpstreamTlsMaterial {
    ca: Option<Arc<CaType>>,
    client: Option<Arc<CertKey>>,
    server_name: Option<String>,
}

impl std::fmt::Debug for UpstreamTlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamTlsMaterial")
            .field("ca", &self.ca.as_ref().map(|ca| ca.len()))
            .field("client_certificate", &self.client.is_some())
            .field("server_name", &self.server_name)
            .finish()
    }
}

impl UpstreamTlsMaterial {
    /// Reads the files `tls` names. Every certificate is parsed here, so a
    /// bad file is a load error and never a failure inside a handshake.
    pub fn load(tls: Option<&UpstreamTls>) -> Result<Self, String> {
        let Some(tls) = tls else {
            return Ok(Self::default());
        };
        let ca = match &tls.ca {
            None => None,
            Some(path) => {
                // Parsed as trust anchors first: a certificate rustls
                // refuses is reported here.
                read_roots(path)?;
                let anchors: Vec<WrappedX509> = read_certificates(path)?
                    .into_iter()
                    .map(|der| WrappedX509::new(der.to_vec(), parse_x509))
                    .collect();
                Some(Arc::from(anchors.into_boxed_slice()))
            }
        };
        let client = match (&tls.cert, &tls.key) {
            (Some(cert), Some(key_path)) => {
                let chain = read_certificates(cert)?;
                let key = PrivateKeyDer::from_pem_file(key_path)
                    .map_err(|e| format!("key `{}`: {e:?}", key_path.display()))?;
                let signing = rustls::crypto::ring::sign::any_supported_type(&key)
                    .map_err(|e| format!("key `{}`: {e}", key_path.display()))?;
                CertifiedKey::new(chain.clone(), signing)
                    .keys_match()
                    .map_err(|_| {
                        format!(
                            "key `{}` does not belong to the certificate `{}`",
                            key_path.display(),
                            cert.display()
                        )
                    })?;
                let der_chain = chain.into_iter().map(|c| c.to_vec()).collect();
                Some(Arc::new(CertKey::new(der_chain, key.secret_der().to_vec())))
            }
            // The config check requires both or neither.
            _ => None,
        };
        Ok(Self {
            ca,
            client,
            server_name: tls.server_name.clone(),
        })
    }

    /// A TLS peer for a target at `host`: SNI and the name checked are
    /// `server_name` when set, else the target's host.
    pub fn peer(&self, addr: std::net::SocketAddr, host: &str) -> HttpPeer {
        let name = self.server_name.as_deref().unwrap_or(host);
        let mut peer = HttpPeer::new(addr, true, name.to_owned());
        peer.options.ca = self.ca.clone();
        peer.client_cert_key = self.client.clone();
        peer
    }
}
