//! Builders of the typed Kubernetes objects every component shares: pod settings under the
//! restricted profile, Services, probes, volumes and NetworkPolicies.

pub(crate) mod pod;
pub(crate) mod policy;
