//! TLS to a MySQL or MariaDB server, as `source.url` asks for it: `?ssl-mode=` with the
//! MySQL client's names, `&ssl-ca=FILE` for the certificate authority to trust.
//!
//! | ssl-mode | encrypted | server certificate checked |
//! |---|---|---|
//! | `disabled` | no | — |
//! | `preferred` (default) | when the server offers TLS | no |
//! | `required` | yes, or the connection fails | no |
//! | `verify_ca` | yes | signed by `ssl-ca` (or a public root) |
//! | `verify_identity` | yes | as `verify_ca`, and issued for the host in the URL |

use std::path::PathBuf;

use mysql_async::SslOpts;

/// `ssl-mode` of `source.url`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disabled,
    Preferred,
    Required,
    VerifyCa,
    VerifyIdentity,
}

/// The TLS settings of a source's connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub mode: SslMode,
    /// `ssl-ca`: the certificate authority a verifying mode trusts (else the public roots).
    pub ca: Option<PathBuf>,
}

impl TlsSettings {
    /// Reads `ssl-mode` and `ssl-ca` from the URL's query; a wrong value says which are allowed.
    pub fn from_query(query: impl Iterator<Item = (String, String)>) -> Result<TlsSettings, String> {
        let mut settings = TlsSettings { mode: SslMode::Preferred, ca: None };
        for (name, value) in query {
            match name.to_ascii_lowercase().replace('_', "-").as_str() {
                "ssl-mode" | "sslmode" => {
                    settings.mode = match value.to_ascii_lowercase().replace('-', "_").as_str() {
                        "disabled" | "disable" => SslMode::Disabled,
                        "preferred" | "prefer" => SslMode::Preferred,
                        "required" | "require" => SslMode::Required,
                        "verify_ca" => SslMode::VerifyCa,
                        "verify_identity" | "verify_full" => SslMode::VerifyIdentity,
                        other => {
                            return Err(format!(
                                "ssl-mode={other} is not one of disabled, preferred, required, verify_ca, verify_identity"
                            ));
                        }
                    }
                }
                "ssl-ca" | "sslrootcert" => settings.ca = Some(PathBuf::from(value)),
                other => return Err(format!("unknown parameter {other:?}: known are ssl-mode and ssl-ca")),
            }
        }
        if settings.ca.as_ref().is_some_and(|ca| !ca.is_file()) {
            return Err(format!(
                "ssl-ca {:?} is not a readable file",
                settings.ca.as_ref().map(|ca| ca.display().to_string())
            ));
        }
        Ok(settings)
    }

    /// The driver's TLS options for a first attempt (`None`: plain TCP).
    pub fn ssl_opts(&self) -> Option<SslOpts> {
        let trusting = || {
            let opts = SslOpts::default();
            match &self.ca {
                Some(ca) => opts.with_root_certs(vec![ca.clone().into()]),
                None => opts,
            }
        };
        match self.mode {
            SslMode::Disabled => None,
            // Encryption without a check of who answers, as the MySQL client's modes of these names.
            SslMode::Preferred | SslMode::Required => {
                Some(SslOpts::default().with_danger_accept_invalid_certs(true).with_danger_skip_domain_validation(true))
            }
            SslMode::VerifyCa => Some(trusting().with_danger_skip_domain_validation(true)),
            SslMode::VerifyIdentity => Some(trusting()),
        }
    }
}
