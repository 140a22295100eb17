//! The rustls client configuration a URL's TLS parameters ask for: which certificates
//! the server's must chain to, whether it must name the host, and the client's own.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    SupportedProtocolVersion,
};

use super::tls_parameters::{ClientCertificate, SslMode, TlsParameters, TrustedRoots};

/// Why TLS to PostgreSQL cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum PostgresTlsError {
    /// A certificate or key file could not be read or holds no PEM of the kind.
    #[error("cannot read {what} from {path}")]
    Pem {
        /// What the file was read for.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: rustls::pki_types::pem::Error,
    },
    /// A root certificate rustls refuses.
    #[error("a certificate in {path} is not a usable root")]
    Root {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: rustls::Error,
    },
    /// `sslrootcert=system` (or no `sslrootcert`) on a system whose trust store holds
    /// no certificate that could be loaded.
    #[error(
        "the operating system's trust store holds no usable certificate (name one with sslrootcert=/path/to/root.pem){}",
        first_error(.errors)
    )]
    NoSystemRoots {
        /// What went wrong loading it.
        errors: Vec<String>,
    },
    /// rustls refused the configuration (a client key that does not match its
    /// certificate, say).
    #[error("the TLS configuration is refused")]
    Config(#[source] rustls::Error),
    /// The certificate verifier could not be built from the roots.
    #[error("the server certificate verifier cannot be built")]
    Verifier(#[source] rustls::client::VerifierBuilderError),
}

fn first_error(errors: &[String]) -> String {
    errors
        .first()
        .map(|error| format!(": {error}"))
        .unwrap_or_default()
}

/// The client configuration for `parameters`: the ring provider (as rust-s3 uses),
/// TLS 1.2 and 1.3 (or those the URL allows), ALPN `postgresql` (which a server taking
/// `sslnegotiation=direct` requires, and others ignore).
pub(crate) fn client_config(parameters: &TlsParameters) -> Result<ClientConfig, PostgresTlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: Vec<&'static SupportedProtocolVersion> = [
        (parameters.versions.tls13, &rustls::version::TLS13),
        (parameters.versions.tls12, &rustls::version::TLS12),
    ]
    .into_iter()
    .filter_map(|(allowed, version)| allowed.then_some(version))
    .collect();
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(PostgresTlsError::Config)?;
    let verifier: Arc<dyn ServerCertVerifier> = match parameters.mode {
        SslMode::VerifyFull => webpki_verifier(&parameters.roots, &provider)?,
        SslMode::VerifyCa => Arc::new(ChainOnly(webpki_verifier(&parameters.roots, &provider)?)),
        // (Never `Disable`: TLS parameters are read only for a mode that uses TLS.)
        SslMode::Disable | SslMode::Prefer | SslMode::Require => Arc::new(AnyCertificate(provider)),
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match &parameters.client {
        None => builder.with_no_client_auth(),
        Some(ClientCertificate { chain, key }) => builder
            .with_client_auth_cert(
                certificates(chain, "a client certificate")?,
                private_key(key)?,
            )
            .map_err(PostgresTlsError::Config)?,
    };
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    config.enable_sni = parameters.sni;
    Ok(config)
}

fn webpki_verifier(
    roots: &TrustedRoots,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, PostgresTlsError> {
    let store = match roots {
        TrustedRoots::File(path) => {
            let mut store = RootCertStore::empty();
            for certificate in certificates(path, "root certificates")? {
                store
                    .add(certificate)
                    .map_err(|source| PostgresTlsError::Root {
                        path: path.clone(),
                        source,
                    })?;
            }
            store
        }
        TrustedRoots::System => system_roots()?,
    };
    WebPkiServerVerifier::builder_with_provider(Arc::new(store), Arc::clone(provider))
        .build()
        .map_err(PostgresTlsError::Verifier)
}

fn system_roots() -> Result<RootCertStore, PostgresTlsError> {
    let loaded = rustls_native_certs::load_native_certs();
    let mut store = RootCertStore::empty();
    store.add_parsable_certificates(loaded.certs);
    if store.is_empty() {
        return Err(PostgresTlsError::NoSystemRoots {
            errors: loaded.errors.iter().map(ToString::to_string).collect(),
        });
    }
    Ok(store)
}

/// Every certificate in a PEM file; at least one.
fn certificates(
    path: &Path,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, PostgresTlsError> {
    let pem = |source| PostgresTlsError::Pem {
        what,
        path: path.to_owned(),
        source,
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(pem)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem)?;
    if certificates.is_empty() {
        return Err(pem(rustls::pki_types::pem::Error::NoItemsFound));
    }
    Ok(certificates)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, PostgresTlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|source| PostgresTlsError::Pem {
        what: "a private key",
        path: path.to_owned(),
        source,
    })
}

/// `verify-ca`: the chain is checked as for `verify-full`, the name is not. webpki
/// checks the name only once the chain is verified, so a name error means the chain
/// was good.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            verdict => verdict,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer` and `require` (libpq's meaning): encrypted, the certificate taken as it
/// comes. The handshake's signatures are still checked, so the peer holds the key of
/// the certificate it showed.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
