//! Builders of the typed Kubernetes objects every component shares: pod settings under the
//! restricted profile, Services, probes, volumes and NetworkPolicies; and cert-manager's
//! Certificate.

pub(crate) mod certificate;
pub(crate) mod pod;
pub(crate) mod policy;
