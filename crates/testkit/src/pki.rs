//! Certificates made by the tests, never committed: a CA and the leaf
//! certificates it signs, written as PEM files into a directory.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SanType};

/// A certificate authority.
pub struct Authority {
    issuer: CertifiedIssuer<'static, KeyPair>,
    dir: PathBuf,
    /// Its certificate (PEM): the trust anchor to configure.
    pub cert: PathBuf,
}

/// A certificate and its key, as PEM files.
#[derive(Clone, Debug)]
pub struct Leaf {
    /// The certificate.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
}

impl Authority {
    /// A new CA named `name`, written to `dir/name.crt`.
    pub fn new(dir: &Path, name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("ca key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("ca certificate");
        let cert = dir.join(format!("{name}.crt"));
        std::fs::write(&cert, issuer.pem()).expect("write ca");
        Self {
            issuer,
            dir: dir.to_path_buf(),
            cert,
        }
    }

    /// A certificate for `host` (and 127.0.0.1), signed by this CA and
    /// written to `dir/name.crt` and `dir/name.key`; usable by a server
    /// and by a client.
    pub fn issue(&self, name: &str, host: &str) -> Leaf {
        let mut params = CertificateParams::new(vec![host.to_owned()]).expect("leaf params");
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("leaf key");
        let certificate = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        let leaf = Leaf {
            cert: self.dir.join(format!("{name}.crt")),
            key: self.dir.join(format!("{name}.key")),
        };
        std::fs::write(&leaf.cert, certificate.pem()).expect("write leaf");
        std::fs::write(&leaf.key, key.serialize_pem()).expect("write key");
        leaf
    }
}
