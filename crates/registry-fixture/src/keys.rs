//! The token-signing key: an ECDSA P-256 key, its self-signed certificate (the registry's
//! `rootcertbundle`), and ES256 JWTs whose `kid` names the key the way distribution does.
//!
//! ES256 rather than the RS256 of ghcr.io and Docker Hub: clients treat tokens as opaque,
//! distribution verifies both, and ring (the workspace's crypto backend, see rustls) can
//! generate ECDSA keys but not RSA ones, so every harness still gets a fresh key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256, PublicKeyData as _};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use sha2::Digest as _;

use crate::Error;

/// The ECDSA key the token server signs with, and the certificate the registry trusts.
pub(crate) struct TokenSigner {
    /// The same key as ring's signer in JWS form: a JWS signature is `r || s` (RFC 7518
    /// section 3.4), not the ASN.1 encoding rcgen's key signs certificates with.
    jwt_key: EcdsaKeyPair,
    random: SystemRandom,
    certificate_pem: String,
    key_id: String,
}

impl TokenSigner {
    /// A fresh P-256 key and a self-signed certificate for it.
    pub(crate) fn generate() -> Result<Self, Error> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|source| Error::Key {
            step: "generate the token-signing key",
            source,
        })?;
        let certificate = CertificateParams::new(vec!["registry-fixture-token-signer".to_owned()])
            .and_then(|params| params.self_signed(&key))
            .map_err(|source| Error::Key {
                step: "self-sign the token-signing certificate",
                source,
            })?;
        let random = SystemRandom::new();
        // rcgen reports ring's failures with these variants too.
        let jwt_key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.serialize_der(),
            &random,
        )
        .map_err(|rejected| Error::Key {
            step: "load the token-signing key for JWS",
            source: rcgen::Error::RingKeyRejected(rejected.to_string()),
        })?;
        Ok(Self {
            certificate_pem: certificate.pem(),
            key_id: libtrust_key_id(&key.subject_public_key_info()),
            jwt_key,
            random,
        })
    }

    /// The PEM certificate to write as the registry's `rootcertbundle`.
    pub(crate) fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// A compact JWS (ES256) over `claims`.
    pub(crate) fn sign_jwt(&self, claims: &serde_json::Value) -> Result<String, Error> {
        let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": self.key_id});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .jwt_key
            .sign(&self.random, signing_input.as_bytes())
            .map_err(|_| Error::Key {
                step: "sign a registry token",
                source: rcgen::Error::RingUnspecified,
            })?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

/// The key ID distribution 2.8 computes for a trusted key (docker/libtrust `keyIDFromCryptoKey`):
/// SHA-256 of the DER `SubjectPublicKeyInfo`, first 240 bits, base32 without padding, in
/// twelve groups of four characters joined by `:`. A token whose `kid` differs is refused.
pub(crate) fn libtrust_key_id(subject_public_key_info_der: &[u8]) -> String {
    let hash = sha2::Sha256::digest(subject_public_key_info_der);
    let encoded = base32_no_padding(&hash[..30]);
    encoded
        .as_bytes()
        .chunks(4)
        .map(|group| String::from_utf8_lossy(group).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

/// RFC 4648 base32 (standard alphabet) without padding.
fn base32_no_padding(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_the_rfc_4648_test_vectors() {
        assert_eq!(base32_no_padding(b"f"), "MY");
        assert_eq!(base32_no_padding(b"fo"), "MZXQ");
        assert_eq!(base32_no_padding(b"foo"), "MZXW6");
        assert_eq!(base32_no_padding(b"foob"), "MZXW6YQ");
        assert_eq!(base32_no_padding(b"fooba"), "MZXW6YTB");
        assert_eq!(base32_no_padding(b"foobar"), "MZXW6YTBOI");
    }

    #[test]
    fn key_id_is_twelve_groups_of_four() {
        let id = libtrust_key_id(b"any key bytes");
        let groups: Vec<&str> = id.split(':').collect();
        assert_eq!(groups.len(), 12);
        assert!(groups.iter().all(|group| group.len() == 4));
    }
}
