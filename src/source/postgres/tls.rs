//! TLS for both PostgreSQL connections (replication and SQL), as libpq's
//! `sslmode` describes it:
//!
//! | sslmode      | encrypted         | server certificate checked      |
//! |--------------|-------------------|---------------------------------|
//! | disable      | no                | -                               |
//! | prefer (default) | if the server offers | no                       |
//! | require      | yes               | no                              |
//! | verify-ca    | yes               | chain against `sslrootcert`     |
//! | verify-full  | yes               | chain and host name             |

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::secret::SecretUrl;

/// The URL's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// TLS settings derived from a connection URL.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    pub mode: SslMode,
    /// `None` when `mode` is `Disable`.
    pub client_config: Option<Arc<ClientConfig>>,
}

/// Why TLS cannot be set up as the URL asks.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("sslmode={0:?} is not one of disable, prefer, require, verify-ca, verify-full")]
    UnknownMode(String),
    #[error("sslmode={mode} needs sslrootcert=FILE in the URL (the CA certificate that signed the server's)")]
    MissingRootCertificate { mode: String },
    #[error("cannot read sslrootcert {path}: {reason}")]
    RootCertificate { path: String, reason: String },
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

impl TlsSettings {
    /// Reads `sslmode` and `sslrootcert` from `url`.
    pub fn from_url(url: &SecretUrl) -> Result<TlsSettings, TlsSetupError> {
        let mode_text = url.query_parameter("sslmode").unwrap_or_else(|| "prefer".to_owned());
        let mode = match mode_text.as_str() {
            "disable" => SslMode::Disable,
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return Err(TlsSetupError::UnknownMode(mode_text)),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
        let client_config = match mode {
            SslMode::Disable => None,
            SslMode::Prefer | SslMode::Require => Some(
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(RelaxedVerifier { chain: None, provider }))
                    .with_no_client_auth(),
            ),
            SslMode::VerifyCa | SslMode::VerifyFull => {
                let path = url
                    .query_parameter("sslrootcert")
                    .ok_or_else(|| TlsSetupError::MissingRootCertificate { mode: mode_text.clone() })?;
                let roots = load_roots(&path)?;
                let verified = builder.with_root_certificates(roots.clone()).with_no_client_auth();
                if mode == SslMode::VerifyCa {
                    let inner =
                        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                            .build()
                            .map_err(|error| TlsSetupError::RootCertificate {
                                path: path.clone(),
                                reason: error.to_string(),
                            })?;
                    let builder =
                        ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
                    Some(
                        builder
                            .dangerous()
                            .with_custom_certificate_verifier(Arc::new(RelaxedVerifier {
                                chain: Some(inner),
                                provider: provider.clone(),
                            }))
                            .with_no_client_auth(),
                    )
                } else {
                    Some(verified)
                }
            }
        };
        Ok(TlsSettings { mode, client_config: client_config.map(Arc::new) })
    }
}

fn load_roots(path: &str) -> Result<RootCertStore, TlsSetupError> {
    let error = |reason: String| TlsSetupError::RootCertificate { path: path.to_owned(), reason };
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_file_iter(path).map_err(|e| error(e.to_string()))? {
        roots.add(certificate.map_err(|e| error(e.to_string()))?).map_err(|e| error(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(error("no PEM certificate in the file".into()));
    }
    Ok(roots)
}

/// The two libpq modes rustls has no built-in verifier for:
/// `require`/`prefer` (encrypt, accept any certificate: `chain` is `None`) and
/// `verify-ca` (the chain must lead to the root; the host name is not checked).
#[derive(Debug)]
struct RelaxedVerifier {
    chain: Option<Arc<rustls::client::WebPkiServerVerifier>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for RelaxedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else { return Ok(ServerCertVerified::assertion()) };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName | rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
