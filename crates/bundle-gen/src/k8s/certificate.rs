//! cert-manager's `Certificate` (`cert-manager.io/v1`), as typed values holding the fields the
//! tree writes and nothing else. Our own types: no crate of cert-manager's types is worth its
//! build for four fields, and the tests check every rendered Certificate against the CRD's
//! schema, so these cannot drift from the API unnoticed.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use crate::config::CertManagerIssuer;

/// A `Certificate`: cert-manager keeps a signed certificate for `dnsNames` in `secretName`,
/// renewing it before it expires.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Certificate {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
    spec: CertificateSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct CertificateSpec {
    secret_name: String,
    dns_names: Vec<String>,
    issuer_ref: IssuerReference,
}

/// `spec.issuerRef`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct IssuerReference {
    name: String,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<String>,
}

impl Certificate {
    /// The Certificate `metadata` for `dns_name`, kept in the Secret `secret_name`, signed by
    /// `issuer`.
    pub(crate) fn new(
        metadata: ObjectMeta,
        dns_name: &str,
        secret_name: &str,
        issuer: &CertManagerIssuer,
    ) -> Self {
        Self {
            api_version: "cert-manager.io/v1",
            kind: "Certificate",
            metadata,
            spec: CertificateSpec {
                secret_name: secret_name.to_owned(),
                dns_names: vec![dns_name.to_owned()],
                issuer_ref: IssuerReference {
                    name: issuer.name.clone(),
                    kind: issuer.kind.as_str(),
                    group: issuer.group.clone(),
                },
            },
        }
    }
}
