//! TLS on the listeners: the certificate and, for mTLS, the client CA of
//! each TLS listener, read from PEM files and swappable at reload.
//!
//! Pingora's rustls acceptor is built once, at start. So it gets a
//! certificate resolver and a client verifier of ours that read from a
//! slot ([`ListenerTlsSlot`]); a reload re-reads the files and swaps the
//! slot's contents, and every handshake after that uses the new ones. A
//! file that cannot be read or parsed refuses the reload and the old
//! certificate keeps serving.
//!
//! rustls uses ring, the provider Pingora's rustls feature installs: a
//! second provider in the build would make rustls panic at start.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use protogate_config::ListenerTls;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, Error, RootCertStore, SignatureScheme};

/// What one TLS listener presents and accepts, read from its files.
struct Loaded {
    certified: Arc<CertifiedKey>,
    client_verifier: Option<Arc<dyn ClientCertVerifier>>,
}

impl Loaded {
    fn read(tls: &ListenerTls) -> Result<Self, String> {
        install_provider();
        let chain = read_certificates(&tls.cert)?;
        let key = PrivateKeyDer::from_pem_file(&tls.key)
            .map_err(|e| format!("key `{}`: {}", tls.key.display(), pem_error(&e)))?;
        let signing_key = rustls::crypto::ring::sign::any_supported_type(&key)
            .map_err(|e| format!("key `{}`: {e}", tls.key.display()))?;
        let certified = CertifiedKey::new(chain, signing_key);
        certified.keys_match().map_err(|_| {
            format!(
                "key `{}` does not belong to the certificate `{}`",
                tls.key.display(),
                tls.cert.display()
            )
        })?;
        let client_verifier = match &tls.client_ca {
            None => None,
            Some(path) => Some(client_verifier(path)?),
        };
        Ok(Self {
            certified: Arc::new(certified),
            client_verifier,
        })
    }
}

/// Checks a listener's files, as `protogate check` and the load do.
pub fn check(tls: &ListenerTls) -> Result<(), String> {
    Loaded::read(tls).map(|_| ())
}

/// A TLS listener's certificate and client CA, swapped at reload.
pub struct ListenerTlsSlot {
    files: ListenerTls,
    current: ArcSwap<Loaded>,
    /// Whether the listener was started with a client CA: mTLS cannot be
    /// switched on or off without a restart (the acceptor is fixed).
    mutual: bool,
}

impl fmt::Debug for ListenerTlsSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenerTlsSlot")
            .field("cert", &self.files.cert)
            .field("client_ca", &self.files.client_ca)
            .finish()
    }
}

impl ListenerTlsSlot {
    /// Reads the files of `tls`.
    pub fn load(tls: &ListenerTls) -> Result<Arc<Self>, String> {
        let loaded = Loaded::read(tls)?;
        Ok(Arc::new(Self {
            mutual: loaded.client_verifier.is_some(),
            files: tls.clone(),
            current: ArcSwap::from_pointee(loaded),
        }))
    }

    /// Reads the files of every slot again and swaps them in, all or none:
    /// on an error every listener keeps what it had.
    pub fn reload_all(slots: &[Arc<Self>]) -> Result<(), String> {
        let mut fresh = Vec::with_capacity(slots.len());
        for slot in slots {
            let loaded = Loaded::read(&slot.files)?;
            if loaded.client_verifier.is_some() != slot.mutual {
                return Err(format!(
                    "`client_ca` of the listener with `{}` was added or removed: that needs a restart",
                    slot.files.cert.display()
                ));
            }
            fresh.push(loaded);
        }
        for (slot, loaded) in slots.iter().zip(fresh) {
            slot.current.store(Arc::new(loaded));
        }
        Ok(())
    }

    /// Pingora's TLS settings for this listener: ALPN h2 and http/1.1,
    /// the certificate from the slot (the paths given to Pingora are not
    /// read: a resolver overrides them), and client certificates required
    /// when it has a client CA.
    pub fn settings(self: &Arc<Self>) -> Result<pingora_core::listeners::tls::TlsSettings, String> {
        let mut settings = pingora_core::listeners::tls::TlsSettings::intermediate(
            &self.files.cert.display().to_string(),
            &self.files.key.display().to_string(),
        )
        .map_err(|e| e.to_string())?;
        settings.set_cert_resolver(Arc::new(Resolver(Arc::clone(self))));
        if self.mutual {
            settings.set_client_cert_verifier(Arc::new(Verifier(Arc::clone(self))));
        }
        settings.enable_h2();
        Ok(settings)
    }
}

/// Hands rustls the slot's current certificate.
#[derive(Debug)]
struct Resolver(Arc<ListenerTlsSlot>);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0.current.load().certified))
    }
}

/// Verifies client certificates against the slot's current client CA.
#[derive(Debug)]
struct Verifier(Arc<ListenerTlsSlot>);

impl Verifier {
    fn with<T>(&self, use_it: impl FnOnce(&dyn ClientCertVerifier) -> T, none: T) -> T {
        match &self.0.current.load().client_verifier {
            Some(verifier) => use_it(verifier.as_ref()),
            None => none,
        }
    }
}

impl ClientCertVerifier for Verifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // The hints are advisory and borrowed from the verifier; an empty
        // list lets the client send whichever certificate it has.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        self.with(
            |v| v.verify_client_cert(end_entity, intermediates, now),
            Err(Error::General("no client CA".into())),
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.with(
            |v| v.verify_tls12_signature(message, cert, dss),
            Err(Error::General("no client CA".into())),
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.with(
            |v| v.verify_tls13_signature(message, cert, dss),
            Err(Error::General("no client CA".into())),
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.with(|v| v.supported_verify_schemes(), Vec::new())
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }
}

/// Installs ring as the process's rustls provider, as Pingora does when
/// it builds its acceptor (a no-op when one is installed already).
fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Every certificate in a PEM file, in order.
pub(crate) fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|all| all.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("certificate `{}`: {}", path.display(), pem_error(&e)))?;
    if certificates.is_empty() {
        return Err(format!(
            "certificate `{}`: no PEM certificate in the file",
            path.display()
        ));
    }
    Ok(certificates)
}

/// The CA certificates of `path` as a root store.
pub(crate) fn read_roots(path: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for certificate in read_certificates(path)? {
        roots
            .add(certificate)
            .map_err(|e| format!("CA `{}`: {e}", path.display()))?;
    }
    Ok(roots)
}

fn client_verifier(path: &Path) -> Result<Arc<dyn ClientCertVerifier>, String> {
    let roots = read_roots(path)?;
    WebPkiClientVerifier::builder(Arc::new(roots))
        .build()
        .map_err(|e| format!("client CA `{}`: {e}", path.display()))
}

fn pem_error(error: &rustls::pki_types::pem::Error) -> String {
    match error {
        rustls::pki_types::pem::Error::Io(io) => io.to_string(),
        rustls::pki_types::pem::Error::NoItemsFound => {
            "no PEM item of that kind in the file".into()
        }
        other => format!("{other:?}"),
    }
}
