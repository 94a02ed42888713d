//! The guards: configs that parse but would deploy something broken or unsafe. Each violation
//! names the key to change, the reason and the fix. The Helm chart's guards (G1-G9) are kept;
//! the others close gaps the chart left open.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use serde_norway::Value;

use crate::component::livekit::{
    RTC_TCP_SERVICE, RTC_UDP_SERVICE, RtcPort, RtcPortOrigin, TURN_PUBLIC_PORT, media_service,
    rtc_ports,
};
use crate::config::{
    Config, ExternalTrafficPolicy, IpFamily, IpFamilyPolicy, Livekit, Network, OverlayName,
    PinLoadBalancerIp, Redis, RtcServiceType, Selector, Variant,
};
use crate::images::ImageName;
use crate::quantity::memory_bytes;

/// Characters LiveKit requires of an API secret (it only warns below that; we refuse).
const MIN_API_SECRET_LEN: usize = 32;
/// The most `parentRefs` an HTTPRoute may hold (`maxItems` of the API).
const MAX_PARENT_REFS: usize = 32;

/// One violated guard. Every message names the key, the reason and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// `namespace` is empty.
    #[error(
        "`{key}` is empty: every object is deployed to this namespace. Fix: set it to the \
         namespace to deploy to, e.g. `matrix`."
    )]
    NamespaceMissing {
        /// `namespace`.
        key: String,
    },
    /// `namespace` is not a name Kubernetes accepts for a namespace.
    #[error(
        "`{key}` is `{value}`, which Kubernetes refuses as a namespace name: {reason}. Fix: \
         write a DNS-1123 label, at most 63 lowercase letters, digits and `-` that starts and \
         ends with a letter or digit, e.g. `matrix`."
    )]
    NamespaceNotALabel {
        /// `namespace`.
        key: String,
        /// The rejected name.
        value: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// `homeserver.serverName` is empty.
    #[error(
        "`{key}` is not set: it is baked into every user and room ID and is the ingress host. \
         Fix: set it to the server's DNS name, e.g. `matrix.example.org` (it cannot change once \
         data exists)."
    )]
    ServerNameMissing {
        /// `homeserver.serverName`.
        key: String,
    },
    /// A host name that is not a valid DNS name.
    #[error(
        "`{key}` is `{value}`, which is not a DNS name: {reason}. Fix: write a lowercase, fully \
         qualified name such as `matrix.example.org` (no scheme, port or path)."
    )]
    InvalidDnsName {
        /// The key holding the name.
        key: String,
        /// The rejected name.
        value: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// Registration is open but no token protects it.
    #[error(
        "`{key}` is true but no registration token is configured: anyone could create accounts \
         on an open, abusable homeserver. Fix: name the Secret holding the token in \
         `homeserver.registrationTokenExistingSecret.name`, or set `{key}: false`."
    )]
    RegistrationWithoutToken {
        /// `homeserver.allowRegistration`.
        key: String,
    },
    /// A secret value written into `bundle.yaml` without `allowInlineSecrets: true`.
    #[error(
        "`{key}` holds a secret value, which would be written into the generated tree and \
         committed. Fix: put it in a Secret and name that Secret instead (for example \
         `livekit.keys.existingSecret.name` or `homeserver.registrationTokenExistingSecret.name`); \
         only for a throwaway cluster, set `allowInlineSecrets: true`."
    )]
    InlineSecretRefused {
        /// The key holding the secret.
        key: String,
    },
    /// lk-jwt is on but the homeserver does not advertise it.
    #[error(
        "`{key}` is not set, but lk-jwt-service is enabled: Element Call finds lk-jwt through \
         this URL in the homeserver's well-known, and calls fail without a hint when it is \
         missing. Fix: set it to `https://<homeserver.serverName>` (no `/sfu`), or set \
         `lkJwt.enabled: false`."
    )]
    ServiceUrlMissing {
        /// `homeserver.livekitServiceUrl`.
        key: String,
    },
    /// `livekitServiceUrl` ends in `/sfu`.
    #[error(
        "`{key}` is `{value}`, which ends in `/sfu`: clients append `/sfu/get` themselves, so \
         they would call `/sfu/sfu/get` and get 404. Fix: remove the trailing `/sfu`."
    )]
    ServiceUrlEndsWithSfu {
        /// `homeserver.livekitServiceUrl`.
        key: String,
        /// The rejected URL.
        value: String,
    },
    /// A public URL whose host the generated ingress does not serve.
    #[error(
        "`{key}` is `{value}`, but the generated ingress serves only `{server_name}`, so \
         clients would reach nothing there. Fix: set it to `{expected}`."
    )]
    UrlNotOnIngressHost {
        /// The key holding the URL.
        key: String,
        /// The rejected URL.
        value: String,
        /// `homeserver.serverName`.
        server_name: String,
        /// The URL that the ingress serves.
        expected: String,
    },
    // ---- lk-jwt's host aliases and the one LiveKit key file ----
    /// A host alias whose `ip` is not an IP address.
    #[error(
        "`{key}` is `{value}`, which is not an IP address: Kubernetes writes it into the pod's \
         `/etc/hosts` and refuses anything else. Fix: write the ClusterIP of the ingress \
         controller's or gateway's Service (`kubectl get svc -n <controller namespace>`), e.g. \
         `10.96.0.80`."
    )]
    HostAliasIpInvalid {
        /// `lkJwt.hostAliases[<n>].ip`.
        key: String,
        /// The rejected text.
        value: String,
    },
    /// A host alias without a name to resolve.
    #[error(
        "`{key}` is empty: a host alias with no names resolves nothing, and Kubernetes refuses \
         it. Fix: list the names lk-jwt must reach through `ip`, e.g. `[<homeserver.serverName>]`, \
         or remove the entry."
    )]
    HostAliasWithoutHostnames {
        /// `lkJwt.hostAliases[<n>].hostnames`.
        key: String,
    },
    /// A key that no longer exists, with what replaces it.
    #[error("`{key}` no longer exists: {reason}. Fix: {fix}.")]
    KeyRemoved {
        /// Where the removed key is written.
        key: String,
        /// Why it went.
        reason: &'static str,
        /// What to do instead, naming the key that replaces it.
        fix: &'static str,
    },
    /// An inline API key or secret that cannot be written as the one key-file line.
    #[error(
        "`{key}` contains a `:` or whitespace, but the generator writes the inline key and \
         secret as the one line `<apiKey>: <apiSecret>` that both servers read: lk-jwt splits \
         it at `:` and refuses to start unless that gives exactly two parts, and whitespace is \
         trimmed by lk-jwt and read differently by LiveKit's YAML parser. Fix: use only \
         letters, digits and punctuation other than `:`, e.g. a secret from \
         `openssl rand -hex 32`."
    )]
    InlineKeyBreaksKeyFile {
        /// `livekit.keys.apiKey` or `livekit.keys.apiSecret` (or its overlay path).
        key: String,
    },
    /// Bundled LiveKit has neither a keys Secret nor inline keys.
    #[error(
        "`{key}` is not set and no inline API key and secret are given: the bundled LiveKit \
         would have no signing key and lk-jwt would reference a missing Secret. Fix: create a \
         Secret whose `LIVEKIT_KEYS` entry (the key `livekit.keys.existingSecret.livekitKeysKey` \
         names) holds the one line `<key>: <secret>`, and set `{key}` to its name."
    )]
    LivekitCredentialsMissing {
        /// `livekit.keys.existingSecret.name` (or its overlay path).
        key: String,
    },
    /// An inline API secret that is too short.
    #[error(
        "`{key}` is {length} characters long; LiveKit needs at least {MIN_API_SECRET_LEN} and \
         would run with a weak key. Fix: generate one with `openssl rand -hex 32`, or use \
         `livekit.keys.existingSecret.name`."
    )]
    ApiSecretTooShort {
        /// `livekit.keys.apiSecret` (or its overlay path).
        key: String,
        /// Its length (the value itself is never printed).
        length: usize,
    },
    /// An API key name that cannot name a key in LiveKit's key file.
    #[error(
        "`{key}` is `{value}`, which cannot be an API key name: LiveKit reads its keys as \
         `<name>: <secret>` and lk-jwt splits them at `:`, so the name must be non-empty \
         without spaces or `:`. Fix: write the key name exactly as it is in the keys Secret, \
         e.g. `lk-jwt`, or remove the key."
    )]
    ApiKeyNameInvalid {
        /// `livekit.keys.apiKeyName` (or its overlay path).
        key: String,
        /// The rejected name.
        value: String,
    },
    /// The webhook key name and the inline API key disagree.
    #[error(
        "`{key}` differs from the inline `livekit.keys.apiKey`: LiveKit signs its webhooks with \
         the key of that name and refuses to start when it has no such key. Fix: remove \
         `{key}` (with inline keys the webhook uses `apiKey`), or make the two equal."
    )]
    ApiKeyNameNotTheInlineKey {
        /// `livekit.keys.apiKeyName` (or its overlay path).
        key: String,
    },
    /// TURN is on without the domain clients dial.
    #[error(
        "`{key}` is not set, but overlay `bundled-turn` enables TURN: it is the name clients \
         dial and the certificate name they check, so the relay would be unreachable. Fix: set \
         it to a DNS name that resolves to the `{service}` LoadBalancer IP (not serverName)."
    )]
    TurnDomainMissing {
        /// `livekit.turn.domain`.
        key: String,
        /// The media Service TURN over TLS is published on.
        service: &'static str,
    },
    /// TURN is on without its certificate.
    #[error(
        "`{key}` is not set, but overlay `bundled-turn` enables TURN: LiveKit terminates TURN's \
         TLS itself, and without a certificate clients behind strict NATs fail silently. Fix: \
         set it to the name of a `kubernetes.io/tls` Secret for `livekit.turn.domain`."
    )]
    TurnTlsSecretMissing {
        /// `livekit.turn.tls.existingSecret`.
        key: String,
    },
    /// `turn.domain` is serverName, whose port 443 belongs to the HTTP ingress.
    #[error(
        "`{key}` is `{value}`, the same as `homeserver.serverName`: clients dial \
         `turns:{value}:443`, which would land on the HTTP ingress instead of LiveKit. Fix: use \
         a separate name, e.g. `turn.{value}`, resolving to the `{service}` LoadBalancer IP."
    )]
    TurnDomainIsServerName {
        /// `livekit.turn.domain`.
        key: String,
        /// The shared name.
        value: String,
        /// The media Service TURN over TLS is published on.
        service: &'static str,
    },
    /// TURN's container port needs root.
    #[error(
        "`{key}` is {value}: ports up to 1024 need root or NET_BIND_SERVICE, and the pod runs \
         unprivileged. The LoadBalancer already maps 443 to this port. Fix: use a port above \
         1024, e.g. 5349."
    )]
    TurnTlsPortPrivileged {
        /// `livekit.turn.tlsPort`.
        key: String,
        /// The rejected port.
        value: u16,
    },
    /// A bundled LiveKit port the unprivileged pod cannot bind.
    #[error(
        "`{key}` is {value}: ports up to 1024 need root or NET_BIND_SERVICE, and the LiveKit pod \
         runs unprivileged with every capability dropped (and {exposed_by} \
         exposes the same port number). Fix: use a port above 1024; LiveKit's defaults are \
         7880 (signalling), 7881 (TCP) and 7882 (UDP)."
    )]
    PortPrivileged {
        /// `livekit.rtc.<port>`.
        key: String,
        /// The rejected port.
        value: u16,
        /// What publishes the port besides the pod, e.g. "the `livekit-rtc` LoadBalancer".
        exposed_by: String,
    },
    /// A port set to 0, which no container or Service can use.
    #[error(
        "`{key}` is 0, which is not a port: Kubernetes refuses port 0 for a container or a \
         Service. Fix: write a number from 1 to 65535 (above 1024, since the pods run \
         unprivileged), or remove `{key}` to use the default."
    )]
    PortZero {
        /// The key holding the port.
        key: String,
    },
    /// Two ports of one Service with the same number and protocol.
    #[error(
        "`{key}` is {value}, but the `{service}` Service already exposes {protocol} port \
         {value} for {other}: a Service cannot expose one port twice, so Kubernetes would \
         refuse it. Fix: give `{key}` another port."
    )]
    ServicePortsCollide {
        /// The key whose port is taken.
        key: String,
        /// The shared port.
        value: u16,
        /// `TCP` or `UDP`.
        protocol: &'static str,
        /// The Service.
        service: &'static str,
        /// What already uses the port, naming its key.
        other: String,
    },
    /// Two TCP listeners of the bundled LiveKit on one port.
    #[error(
        "`{key}` is {value}, the same TCP port as `{other}`: LiveKit cannot listen on one port \
         twice and would not start. Fix: give each of `livekit.rtc.signalingPort`, \
         `livekit.rtc.tcpPort` and `livekit.turn.tlsPort` its own port."
    )]
    PortsCollide {
        /// The key whose port is taken.
        key: String,
        /// The shared port.
        value: u16,
        /// The key that has it already.
        other: String,
    },
    /// lk-jwt is on but has no SFU URL to hand out.
    #[error(
        "`{key}` is not set, but lk-jwt-service is enabled: it is the `wss://` SFU URL lk-jwt \
         returns to clients, and calls fail silently without it. Fix: set it, e.g. \
         `wss://<homeserver.serverName>` for the bundled LiveKit."
    )]
    PublicUrlMissing {
        /// `livekit.publicUrl` (or its overlay path).
        key: String,
    },
    /// A LiveKit URL that is not `wss://host...`.
    #[error(
        "`{key}` is `{value}`, which is not a `wss://` URL: browsers on an https page refuse \
         plain `ws://`, and lk-jwt needs the public address. Fix: write `wss://<host>`."
    )]
    PublicUrlNotWss {
        /// `livekit.publicUrl` (or its overlay path).
        key: String,
        /// The rejected URL.
        value: String,
    },
    /// External LiveKit without the Secret holding its keys.
    #[error(
        "`{key}` is not set, but overlay `external` uses an operator-managed LiveKit: lk-jwt \
         needs that SFU's API key and secret, and would reference a missing Secret. Fix: create \
         a Secret whose `LIVEKIT_KEYS` entry holds the external SFU's key as the one line \
         `<key>: <secret>`, and set `{key}` to its name."
    )]
    ExternalKeysSecretMissing {
        /// `overlays.external.livekit.keys.existingSecret.name`.
        key: String,
    },
    /// Bundled LiveKit with no address to advertise.
    #[error(
        "`{key}` is not set: LiveKit would advertise its pod IP, which clients cannot reach, so \
         calls connect but carry no media. Fix: set it to the public IP of {address}, or set \
         `livekit.rtc.useExternalIp: true` to discover it with STUN."
    )]
    NodeIpMissing {
        /// `livekit.rtc.nodeIp`.
        key: String,
        /// What receives the media, e.g. "the `livekit-rtc` LoadBalancer".
        address: String,
    },
    /// An image with nothing pinned.
    #[error(
        "`{key}` has neither `tag` nor `digest`: the image would float to whatever the registry \
         serves. Fix: pin it as `tag` plus `digest` (run `bundle pins refresh`)."
    )]
    ImageUnpinned {
        /// `images.<name>`.
        key: String,
    },
    /// An image pinned to the rolling `latest` tag.
    #[error(
        "`{key}` is `latest`, a tag that moves: two pulls can run different code and an update \
         never shows up in git. Fix: pin a release tag and its digest (run `bundle pins \
         refresh`)."
    )]
    ImageTagLatest {
        /// `images.<name>.tag`.
        key: String,
    },
    /// `livekit.enabled` written with a value the overlay's name contradicts.
    #[error(
        "`{key}` is {value}, but overlay `{overlay}` {meaning}: the overlay's name decides \
         whether LiveKit is bundled. Fix: remove `{key}`{remedy}."
    )]
    LivekitEnabledContradictsOverlay {
        /// Where the contradicting value is written.
        key: String,
        /// The value written.
        value: bool,
        /// The overlay it contradicts.
        overlay: &'static str,
        /// What the overlay does.
        meaning: &'static str,
        /// Which overlay to list instead.
        remedy: &'static str,
    },
    /// `livekit.turn.enabled` written with a value the overlay's name contradicts.
    #[error(
        "`{key}` is {value}, but overlay `{overlay}` {meaning}: the overlay's name decides \
         whether TURN is on. Fix: remove `{key}`{remedy}."
    )]
    TurnEnabledContradictsOverlay {
        /// Where the contradicting value is written.
        key: String,
        /// The value written.
        value: bool,
        /// The overlay it contradicts.
        overlay: &'static str,
        /// What the overlay does.
        meaning: &'static str,
        /// Which overlay to list instead.
        remedy: &'static str,
    },
    /// The two bundled overlays disagree on a LiveKit setting they share.
    #[error(
        "`{key}` is {bundled} for overlay `bundled` but {bundled_turn} for `bundled-turn`; both \
         use the one `overlays/components/livekit`, so only `livekit.turn` may differ. Fix: set \
         it once under the top-level `livekit:` (or identically in both overlays)."
    )]
    BundledOverlaysDiffer {
        /// The setting, as a path under `livekit`.
        key: String,
        /// Its value in `bundled` (YAML, `unset` when absent).
        bundled: String,
        /// Its value in `bundled-turn` (YAML, `unset` when absent).
        bundled_turn: String,
    },
    /// `overlays: {}`.
    #[error(
        "`{key}` is empty, so there is nothing to generate. Fix: list at least one of \
         `bundled`, `bundled-turn` and `external`, or remove `{key}` to generate all three."
    )]
    NoOverlays {
        /// `overlays`.
        key: String,
    },
    /// An allow-list for an ingress class the generator cannot write one for.
    #[error(
        "`{key}` is set, but the generator only knows how to write an allow-list for the \
         `nginx` and `haproxy` ingress classes, and `ingress.className` is `{class}`: the \
         list would be silently dropped and the stack open to everyone. Fix: remove `{key}` and \
         put your controller's allow-list annotation under `ingress.annotations`."
    )]
    AllowListUnsupported {
        /// `ingress.whitelistSourceRange`.
        key: String,
        /// The configured ingress class.
        class: String,
    },
    // ---- the advertised address and the TURN relay ports ----
    /// `nodeIp` that no LoadBalancer can take and no client can send media to.
    #[error(
        "`{key}` is `{value}`, {kind}: LiveKit advertises it as its ICE candidate, and media can \
         only be sent to one host's (unicast) address. Fix: write the LoadBalancer's public \
         IPv4 or IPv6 address, e.g. `203.0.113.10`."
    )]
    NodeIpNotUnicast {
        /// `livekit.rtc.nodeIp`.
        key: String,
        /// The rejected address.
        value: String,
        /// Which kind of address it is.
        kind: &'static str,
    },
    /// A private `nodeIp` with TURN, not allowed as a TURN peer.
    #[error(
        "`{key}` is `{value}`, {kind}, but overlay `bundled-turn` enables TURN: the relay sends \
         media to that address, LiveKit's TURN refuses private, loopback and link-local peers \
         unless its `turn.allow_restricted_peer_cidrs` lists them, and clients on the internet \
         cannot reach such an address anyway. Fix: set `{key}` to the LoadBalancer's public IP; \
         for a site reachable only on its own network, list a CIDR holding it in \
         `{allow_key}`, e.g. `[{example}]`."
    )]
    NodeIpRestrictedForTurn {
        /// `livekit.rtc.nodeIp`.
        key: String,
        /// The address.
        value: String,
        /// Which kind of address it is.
        kind: &'static str,
        /// `livekit.turn.allowRestrictedPeerCidrs`.
        allow_key: String,
        /// The CIDR of the address alone.
        example: String,
    },
    /// An entry of the TURN peer allow-list that is not a CIDR.
    #[error(
        "`{key}` holds `{value}`, which is not a CIDR: LiveKit parses every entry at startup \
         and refuses to start on one it cannot read. Fix: write an address with its prefix \
         length, e.g. `192.168.10.0/24` or `fd00::/8`."
    )]
    PeerCidrInvalid {
        /// `livekit.turn.allowRestrictedPeerCidrs`.
        key: String,
        /// The rejected entry.
        value: String,
    },
    /// A LoadBalancer pin without the address to pin.
    #[error(
        "`{key}` is `{pin}`, but `{node_ip_key}` is not set: the pin asks the LoadBalancer for \
         exactly that address, and STUN discovery finds an address only after the \
         LoadBalancer has one. Fix: set `{node_ip_key}` to the address reserved for \
         {address}, or set `{key}: none`."
    )]
    PinWithoutNodeIp {
        /// `livekit.rtc.pinLoadBalancerIp`.
        key: String,
        /// The pin, as written.
        pin: String,
        /// `livekit.rtc.nodeIp`.
        node_ip_key: String,
        /// What receives the media, e.g. "the `livekit-rtc` LoadBalancer".
        address: String,
    },
    /// A Service annotation that asks the LoadBalancer for another address than the pin.
    #[error(
        "`{key}` sets `{annotation}` to `{value}`, but `{pin_key}` writes that annotation with \
         `{node_ip}`, the address LiveKit advertises: the LoadBalancer would get one of the two \
         and calls would carry no media if it got the other. Fix: remove `{annotation}` from \
         `{key}`."
    )]
    PinContradictsServiceAnnotation {
        /// `livekit.rtc.serviceAnnotations`.
        key: String,
        /// The annotation both set.
        annotation: &'static str,
        /// Its value in `serviceAnnotations`.
        value: String,
        /// `livekit.rtc.pinLoadBalancerIp`.
        pin_key: String,
        /// `livekit.rtc.nodeIp`'s value.
        node_ip: String,
    },
    /// A relay port the unprivileged pod cannot bind.
    #[error(
        "`{key}` is {value}: ports below {MIN_RELAY_PORT} need root or NET_BIND_SERVICE, and the \
         LiveKit pod runs unprivileged (the `{service}` LoadBalancer exposes the same \
         number). Fix: use ports from {MIN_RELAY_PORT} to 65535, e.g. the default 33000-33019."
    )]
    RelayPortPrivileged {
        /// `livekit.turn.relayPortRange.start` or `.end`.
        key: String,
        /// The rejected port.
        value: u16,
        /// The media Service the relay ports are published on.
        service: &'static str,
    },
    /// A relay port range that ends before it starts.
    #[error(
        "`{key}` runs from {start} to {end}, which holds no port, so LiveKit's TURN could \
         relay no media. Fix: make `start` at most `end`, e.g. `{{start: {end}, end: {start}}}`."
    )]
    RelayPortRangeReversed {
        /// `livekit.turn.relayPortRange`.
        key: String,
        /// The first port.
        start: u16,
        /// The last port.
        end: u16,
    },
    /// A relay port range with more ports than a LoadBalancer should carry.
    #[error(
        "`{key}` runs from {start} to {end}, {count} ports: each becomes a port of the \
         `{service}` Service and of the pod, and load balancers limit how many ports one \
         Service may have. Fix: use at most {MAX_RELAY_PORTS} ports (one relayed participant \
         holds one or two), e.g. `{{start: {start}, end: {suggested_end}}}`."
    )]
    RelayPortRangeTooLarge {
        /// `livekit.turn.relayPortRange`.
        key: String,
        /// The media Service the relay ports are published on.
        service: &'static str,
        /// The first port.
        start: u16,
        /// The last port.
        end: u16,
        /// How many ports it holds.
        count: usize,
        /// The end that would make it as large as allowed.
        suggested_end: u16,
    },
    /// A relay port range over another port of its media Service.
    #[error(
        "`{key}` runs from {start} to {end}, which holds {protocol} port {value}, but the \
         `{service}` Service already exposes it for {other}: a Service cannot expose one port \
         twice, so Kubernetes would refuse it. Fix: move `{key}` clear of the other LiveKit \
         ports."
    )]
    RelayPortRangeCollides {
        /// `livekit.turn.relayPortRange`.
        key: String,
        /// The first port.
        start: u16,
        /// The last port.
        end: u16,
        /// The shared port.
        value: u16,
        /// `UDP`.
        protocol: &'static str,
        /// The Service.
        service: &'static str,
        /// What already uses the port, naming its key.
        other: String,
    },
    // ---- how the media ports leave the cluster ----
    /// Split Services that would each get an address of their own.
    #[error(
        "`{key}` is true, but `{pin_key}` is `none`: each of the LoadBalancer Services \
         `livekit-rtc-udp` and `livekit-rtc-tcp` would get an address of its own, while \
         LiveKit advertises the one `livekit.rtc.nodeIp` for both, so the media of one \
         protocol would go nowhere. Fix: set `{pin_key}` to the way your load balancer takes a \
         requested address (`spec`, `metallb`, `cilium` or `kube-vip`), so both Services ask \
         for `nodeIp`, or set `{key}: false` where one Service may carry UDP and TCP."
    )]
    SplitServicesWithoutPin {
        /// `livekit.rtc.splitServices`.
        key: String,
        /// `livekit.rtc.pinLoadBalancerIp`.
        pin_key: String,
    },
    /// A media port a NodePort Service cannot publish as itself.
    #[error(
        "`{key}` is {value}, but `{type_key}` is `NodePort`: LiveKit advertises the port it \
         listens on, so the node port clients dial must be that same number, and Kubernetes \
         takes node ports only from its NodePort range, {NODE_PORT_MIN}-{NODE_PORT_MAX} unless \
         the cluster's kube-apiserver sets another with `--service-node-port-range`. Fix: use \
         a free port of that range, e.g. {suggested}."
    )]
    NodePortOutOfRange {
        /// `livekit.rtc.udpPort` or `livekit.rtc.tcpPort`.
        key: String,
        /// The rejected port.
        value: u16,
        /// `livekit.rtc.serviceType`.
        type_key: String,
        /// A port of the range.
        suggested: u16,
    },
    /// TURN over TLS behind a NodePort Service.
    #[error(
        "`{key}` is `NodePort`, but overlay `bundled-turn` enables TURN: clients always dial \
         `turns:<livekit.turn.domain>:443`, and a NodePort Service cannot publish port 443 \
         (node ports are {NODE_PORT_MIN}-{NODE_PORT_MAX} by default). Fix: set `{key}: \
         LoadBalancer`, or remove `bundled-turn` from `overlays`."
    )]
    NodePortWithTurn {
        /// `livekit.rtc.serviceType`.
        key: String,
    },
    /// A LoadBalancer pin on a NodePort Service.
    #[error(
        "`{key}` is `{pin}`, but `{type_key}` is `NodePort`: the pin asks a load balancer for \
         `livekit.rtc.nodeIp`, and a NodePort Service has none (`nodeIp` is then a node's \
         public address). Fix: set `{key}: none`, or `{type_key}: LoadBalancer`."
    )]
    NodePortWithPin {
        /// `livekit.rtc.pinLoadBalancerIp`.
        key: String,
        /// The pin, as written.
        pin: String,
        /// `livekit.rtc.serviceType`.
        type_key: String,
    },
    /// TURN over TLS on the host network.
    #[error(
        "`{key}` is true, but overlay `bundled-turn` enables TURN: clients always dial \
         `turns:<livekit.turn.domain>:443`, so on the host network the pod would have to bind \
         port 443 of its node, which the unprivileged pod cannot. Fix: set `{key}: false` (TURN \
         then goes through a LoadBalancer, which maps 443 to `livekit.turn.tlsPort`), or remove \
         `bundled-turn` from `overlays`."
    )]
    HostNetworkWithTurn {
        /// `livekit.hostNetwork`.
        key: String,
    },
    /// A setting of the media Service, which the host network does without.
    #[error(
        "`{key}` is {value}, but `{host_network_key}` is true: on the host network the media \
         ports are the node's own and no media Service is rendered, so the setting would be \
         silently dropped. Fix: remove `{key}`, or set `{host_network_key}: false`."
    )]
    MediaServiceSettingWithHostNetwork {
        /// The `livekit.rtc` setting.
        key: String,
        /// Its value, as written.
        value: String,
        /// `livekit.hostNetwork`.
        host_network_key: String,
    },
    /// A Secret name Kubernetes refuses.
    #[error(
        "`{key}` is `{value}`, which Kubernetes refuses as a Secret name: {reason}. Fix: write \
         the name of the existing Secret, a DNS-1123 subdomain: at most 253 lowercase letters, \
         digits, `-` and `.`, starting and ending with a letter or digit, e.g. \
         `matrix-appservices`."
    )]
    SecretNameInvalid {
        /// The key holding the name.
        key: String,
        /// The rejected name.
        value: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A key of a Secret's data that Kubernetes refuses: the `secretKeyRef` or volume item
    /// naming it would be refused when the tree is applied.
    #[error(
        "`{key}` is `{value}`, which Kubernetes refuses as a key of a Secret's data: {reason}. \
         Fix: write the key the existing Secret holds the value under: at most 253 letters, \
         digits, `-`, `_` and `.`, e.g. `password`."
    )]
    SecretDataKeyInvalid {
        /// The config key holding the Secret's data key.
        key: String,
        /// The rejected data key.
        value: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    // ---- IP families, listen addresses and NetworkPolicy peers ----
    /// Listen addresses without the wildcard of either family.
    #[error(
        "`{key}` is `{value}`, which holds neither `0.0.0.0` nor `::`: a pod gets its address \
         when it starts, so Tuwunel would not listen on the address its Service and probes \
         use, and it refuses to start on an address the pod does not have. Fix: write \
         `[\"0.0.0.0\"]` for IPv4, or `[\"::\"]` for IPv6 and dual-stack pods."
    )]
    ListenAddressesWithoutWildcard {
        /// `homeserver.listenAddresses`.
        key: String,
        /// The list as written.
        value: String,
    },
    /// Services that may get IPv6 in front of a homeserver listening on IPv4 only.
    #[error(
        "`{key}` is `{value}`, which listens on IPv4 only, but {reason}: connections to the \
         homeserver over IPv6 would be refused. Fix: write `[\"::\"]`, which on Linux \
         listens on IPv4 as well."
    )]
    ListenAddressesWithoutIpv6 {
        /// `homeserver.listenAddresses`.
        key: String,
        /// The list as written.
        value: String,
        /// Which setting gives the Services IPv6, naming its key.
        reason: String,
    },
    /// A family listed twice.
    #[error(
        "`{key}` lists `{family}` twice: a Service has at most one address per family, and \
         Kubernetes refuses the list. Fix: list each family once, the primary one first, e.g. \
         `[IPv4, IPv6]`."
    )]
    IpFamilyTwice {
        /// `network.ipFamilies`.
        key: String,
        /// The repeated family.
        family: &'static str,
    },
    /// Both families under a single-stack policy.
    #[error(
        "`{key}` lists both families, but `{policy_key}` is {policy}: a single-stack Service \
         has one family, and Kubernetes refuses one that lists two. Fix: set `{policy_key}: \
         PreferDualStack` (or `RequireDualStack`), or list one family."
    )]
    IpFamiliesNeedDualStack {
        /// `network.ipFamilies`.
        key: String,
        /// `network.ipFamilyPolicy`.
        policy_key: String,
        /// The policy, or how an unset one is read.
        policy: String,
    },
    /// An advertised address of a family the `livekit-rtc` LoadBalancer cannot get.
    #[error(
        "`{key}` holds `{value}`, an {family} address, but `{families_key}` lists only \
         {other} and `{policy_key}` is {policy}: the `livekit-rtc` LoadBalancer gets no {family} \
         address, so LiveKit would advertise one that nothing answers. Fix: set `{key}` to the \
         LoadBalancer's {other} address, or add `{family}` to `{families_key}`."
    )]
    NodeIpFamilyNotOnService {
        /// `livekit.rtc.nodeIp`.
        key: String,
        /// The address.
        value: String,
        /// Its family.
        family: &'static str,
        /// `network.ipFamilies`.
        families_key: String,
        /// The family the Services get.
        other: &'static str,
        /// `network.ipFamilyPolicy`.
        policy_key: String,
        /// The policy, or how an unset one is read.
        policy: String,
    },
    /// Two advertised addresses on a single-stack LoadBalancer.
    #[error(
        "`{key}` is `{value}`, one address of each family, but `{policy_key}` is {policy}: the \
         `livekit-rtc` LoadBalancer gets one family only, so LiveKit would advertise an address \
         that nothing answers. Fix: set `{policy_key}: RequireDualStack` (or \
         `PreferDualStack`) on a dual-stack cluster, or keep one address in `{key}`."
    )]
    DualStackNodeIpOnSingleStack {
        /// `livekit.rtc.nodeIp`.
        key: String,
        /// The two addresses.
        value: String,
        /// `network.ipFamilyPolicy`.
        policy_key: String,
        /// The policy, or how an unset one is read.
        policy: String,
    },
    /// `spec.loadBalancerIP` asked to take two addresses.
    #[error(
        "`{key}` is `spec`, but `{node_ip_key}` is `{value}`, two addresses: the Service's \
         loadBalancerIP field takes one (dual-stack is why Kubernetes deprecated it). \
         Fix: pin with your LoadBalancer's annotation, `{key}: metallb`, `cilium` or \
         `kube-vip`, each of which takes both, or keep one address in `{node_ip_key}`."
    )]
    PinSpecTakesOneAddress {
        /// `livekit.rtc.pinLoadBalancerIp`.
        key: String,
        /// `livekit.rtc.nodeIp`.
        node_ip_key: String,
        /// The two addresses.
        value: String,
    },
    /// TURN with no IPv4 address to relay from.
    #[error(
        "`{key}` is `{value}`, with no IPv4 address, but overlay `bundled-turn` enables TURN: \
         LiveKit's TURN listens on IPv4 and relays from `node_ip`'s IPv4 address, and refuses \
         to start without one (\"no matching node IP for relay\"). Fix: add the \
         LoadBalancer's IPv4 address as `<IPv4>,<IPv6>`, or list overlay `bundled` instead."
    )]
    TurnWithoutIpv4NodeIp {
        /// `livekit.rtc.nodeIp`.
        key: String,
        /// The address.
        value: String,
    },
    /// A peer that names nothing.
    #[error(
        "`{key}` is empty: Kubernetes refuses a NetworkPolicy peer with no selector and no \
         `ipBlock`. Fix: give it a `namespaceSelector`, a `podSelector` or an `ipBlock` (an \
         empty selector, `namespaceSelector: {{}}`, selects every namespace), or remove it."
    )]
    PeerEmpty {
        /// `networkPolicy.ingressFrom[<n>]`.
        key: String,
    },
    /// A peer with an `ipBlock` and a selector.
    #[error(
        "`{key}` has an `ipBlock` and a selector: Kubernetes refuses a NetworkPolicy peer \
         with both, since an address block has no namespace or pod labels. Fix: write them as \
         two entries of `networkPolicy.ingressFrom`."
    )]
    PeerIpBlockWithSelector {
        /// `networkPolicy.ingressFrom[<n>]`.
        key: String,
    },
    /// An `except` entry outside its `cidr`.
    #[error(
        "`{key}` holds `{value}`, which is not a strict part of `{cidr}`: Kubernetes refuses \
         an `except` entry that is not strictly inside the block's `cidr`. Fix: remove it, or \
         write a smaller network inside `{cidr}`."
    )]
    PeerExceptOutsideCidr {
        /// `networkPolicy.ingressFrom[<n>].ipBlock.except`.
        key: String,
        /// The entry.
        value: String,
        /// The block's `cidr`.
        cidr: String,
    },
    /// A controller namespace that `ingressFrom` replaces, so it would be ignored.
    #[error(
        "`{key}` is `{value}`, but `{from_key}` is set and replaces that namespace's peer, so \
         `{key}` would be ignored. Fix: remove `{key}`; to keep letting that namespace in, add \
         `{{namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: {value}}}}}}}` \
         to `{from_key}`."
    )]
    ControllerNamespaceIgnored {
        /// `networkPolicy.ingressControllerNamespace`.
        key: String,
        /// The namespace written.
        value: String,
        /// `networkPolicy.ingressFrom`.
        from_key: String,
    },
    /// A label key or value in a selector that Kubernetes refuses.
    #[error(
        "`{key}` holds `{value}`, which Kubernetes refuses as a label {part}: {reason}, so it \
         would refuse the NetworkPolicy. Fix: write the label as the controller's pods or \
         namespace carry it (`kubectl get pods -n <namespace> --show-labels`), e.g. \
         `app.kubernetes.io/name` = `traefik`."
    )]
    SelectorLabelInvalid {
        /// The selector field holding it.
        key: String,
        /// The rejected text.
        value: String,
        /// `key` or `value`.
        part: &'static str,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A selector expression whose values do not fit its operator.
    #[error(
        "`{key}` {problem}: Kubernetes refuses the NetworkPolicy. Fix: give `In` and `NotIn` \
         at least one value, and `Exists` and `DoesNotExist` none."
    )]
    SelectorValuesMismatch {
        /// `networkPolicy.ingressFrom[<n>].<selector>.matchExpressions[<m>].values`.
        key: String,
        /// What is wrong.
        problem: String,
    },
    // ---- Gateway API ----
    /// An Ingress setting written while Gateway API replaces the Ingress.
    #[error(
        "`{key}` is set, but `gateway.enabled` is true, so no Ingress is rendered and the setting \
         would be silently dropped: {reason}. Fix: remove `{key}` and {fix}, or set \
         `gateway.enabled: false`."
    )]
    IngressSettingWithGateway {
        /// The `ingress.*` key as written.
        key: String,
        /// Where the setting belongs with Gateway API.
        reason: &'static str,
        /// What to do there.
        fix: &'static str,
    },
    /// Gateway API on, but no Gateway to attach the routes to.
    #[error(
        "`{key}` is empty, but `gateway.enabled` is true: an HTTPRoute attached to no Gateway \
         serves nothing, and nothing else would route serverName. Fix: list the Gateway that \
         serves `homeserver.serverName`, e.g. `[{{name: public, namespace: gateway-system, \
         sectionName: https}}]`, or set `gateway.enabled: false`."
    )]
    GatewayParentRefsMissing {
        /// `gateway.parentRefs`.
        key: String,
    },
    /// A Gateway name the API refuses.
    #[error(
        "`{key}` is {value:?}, which the Gateway API refuses as the name of a parent: {reason}. \
         Fix: write the name of the Gateway object, e.g. `public`."
    )]
    GatewayNameInvalid {
        /// `gateway.parentRefs[<n>].name`.
        key: String,
        /// The rejected name.
        value: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A listener name the API refuses.
    #[error(
        "`{key}` is `{value}`, which the Gateway API refuses as a listener name: {reason}. Fix: \
         write the `name` of the Gateway's listener, a DNS-1123 subdomain such as `https`, or \
         remove the key to attach to every listener that admits the routes."
    )]
    SectionNameInvalid {
        /// `gateway.parentRefs[<n>].sectionName`.
        key: String,
        /// The rejected name.
        value: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// Two parent references the API cannot tell apart.
    #[error(
        "`{key}` selects the same Gateway as `{other}` ({gateway}), and the Gateway API refuses \
         parent references it cannot tell apart: two references to one Gateway must both name a \
         listener, and different ones. Fix: give each a different `sectionName`, or remove one."
    )]
    GatewayParentRefsNotDistinct {
        /// `gateway.parentRefs[<n>]`, the later one.
        key: String,
        /// `gateway.parentRefs[<m>]`, the earlier one.
        other: String,
        /// `<namespace>/<name>` of the Gateway.
        gateway: String,
    },
    /// More parent references than an HTTPRoute may hold.
    #[error(
        "`{key}` lists {count} Gateways, and the Gateway API refuses an HTTPRoute with more than \
         {MAX_PARENT_REFS} parent references. Fix: attach to at most {MAX_PARENT_REFS}; a \
         Gateway with several listeners needs one entry without `sectionName` rather than one \
         per listener."
    )]
    GatewayParentRefsTooMany {
        /// `gateway.parentRefs`.
        key: String,
        /// How many are listed.
        count: usize,
    },
    /// A memory limit the database caches are sized from is not a memory quantity.
    #[error(
        "`{key}` is `{value}`, which is not a memory quantity: Tuwunel's database caches are \
         sized from it. Fix: write a whole or decimal number with an optional suffix \
         (`Ki`, `Mi`, `Gi`, `Ti`, `k`, `M`, `G`, `T`), e.g. `2Gi`."
    )]
    MemoryLimitNotAQuantity {
        /// `homeserver.resources.limits.memory`.
        key: String,
        /// The rejected quantity.
        value: String,
    },
    /// cert-manager writes the certificate and key under fixed keys, which LiveKit's mount
    /// must read.
    #[error(
        "`{key}` is `{value}`, but with `{cert_manager_key}` cert-manager fills the Secret, \
         and it writes the certificate as tls.crt and the private key as tls.key: the pod's \
         mount of the key `{value}` would fail and LiveKit would not start. Fix: remove \
         `{key}` (its default is {default}), or drop `{cert_manager_key}` and fill the Secret \
         yourself."
    )]
    CertManagerSecretKeyFixed {
        /// `livekit.turn.tls.certKey` or `.keyKey`.
        key: String,
        /// The key written.
        value: String,
        /// The key cert-manager writes.
        default: &'static str,
        /// `livekit.turn.tls.certManager`.
        cert_manager_key: String,
    },
    /// The Secret cert-manager fills for TURN is the Ingress's certificate too.
    #[error(
        "`{key}` is `{value}`, the Secret of `ingress.tls.secretName` too, and \
         `{cert_manager_key}` has cert-manager keep a certificate for `{domain}` in it: the \
         ingress would serve that certificate for `homeserver.serverName`, or the two \
         certificates would overwrite each other. Fix: give TURN a Secret of its own, e.g. \
         `turn-tls`."
    )]
    CertManagerSecretIsIngressSecret {
        /// `livekit.turn.tls.existingSecret`.
        key: String,
        /// The shared Secret name.
        value: String,
        /// `livekit.turn.domain`.
        domain: String,
        /// `livekit.turn.tls.certManager`.
        cert_manager_key: String,
    },
    /// lk-jwt's own key entry is named, but there is no Secret to hold it.
    #[error(
        "`{key}` is set, but `{name_key}` is not: the keys are inline, and the Secret the tree \
         renders from them holds only `livekitKeysKey`, so lk-jwt would mount an entry that \
         does not exist. Fix: remove `{key}`, or move the keys into a Secret named in \
         `{name_key}`."
    )]
    LkJwtKeyKeyWithoutSecret {
        /// `livekit.keys.existingSecret.lkJwtKeyKey`.
        key: String,
        /// `livekit.keys.existingSecret.name`.
        name_key: String,
    },
    /// The issuer reference names no issuer.
    #[error(
        "`{key}` is empty: cert-manager cannot tell which issuer signs TURN's certificate, and \
         the Certificate stays unissued. Fix: set it to the name of your `Issuer` or \
         `ClusterIssuer` (one with a DNS-01 solver for `livekit.turn.domain`)."
    )]
    CertManagerIssuerNameMissing {
        /// `livekit.turn.tls.certManager.name`.
        key: String,
    },
    /// `homeserver.cacheCapacityModifier` is zero, negative or not a number.
    #[error(
        "`{key}` is `{value}`: Tuwunel multiplies its cache sizes by it, so it must be a number \
         above 0. Fix: write e.g. `0.5` to halve the caches, or remove it for Tuwunel's 1.0."
    )]
    CacheModifierNotPositive {
        /// `homeserver.cacheCapacityModifier`.
        key: String,
        /// The rejected value.
        value: String,
    },
    // ---- LiveKit scale-out: replicas, Redis and each node's own address ----
    /// No LiveKit pod at all.
    #[error(
        "`{key}` is 0: the bundled LiveKit would run no pod, so every call would fail to \
         connect. Fix: write 1 for one node (or more, with `livekit.redis`); for an SFU run \
         elsewhere, list overlay `external` instead."
    )]
    ReplicasZero {
        /// `livekit.replicas`.
        key: String,
    },
    /// Several LiveKit nodes without the Redis they coordinate through.
    #[error(
        "`{key}` is not set, but `{replicas_key}` is {replicas}: LiveKit nodes learn which node \
         holds a room only through Redis, so without it each pod would be a separate SFU and \
         the participants of one call, landing on different pods, would not see each other. \
         Fix: set `{key}.address` to your Redis or Valkey server (`host:port`), or set \
         `{replicas_key}: 1`."
    )]
    ReplicasWithoutRedis {
        /// `livekit.redis`.
        key: String,
        /// `livekit.replicas`.
        replicas_key: String,
        /// The replicas written.
        replicas: u16,
    },
    /// Several LiveKit nodes advertising one address.
    #[error(
        "`{key}` is `{value}`, but `{replicas_key}` is {replicas}: every node would advertise \
         that one address, while a participant's media must reach the node that holds its \
         room, so most calls would carry no media. Fix: remove `{key}` and let each node \
         advertise its own address: `livekit.rtc.nodeIpFrom: hostIP` where a node's interface \
         holds its public address, or `livekit.rtc.useExternalIp: true` (STUN) behind 1:1 NAT."
    )]
    ReplicasWithNodeIp {
        /// `livekit.rtc.nodeIp`.
        key: String,
        /// Its value.
        value: String,
        /// `livekit.replicas`.
        replicas_key: String,
        /// The replicas written.
        replicas: u16,
    },
    /// Several LiveKit nodes behind the one media LoadBalancer.
    #[error(
        "`{replicas_key}` is {replicas}, but `{key}` is false: the media would enter through the \
         one `livekit-rtc` LoadBalancer, which hands each client's packets to any of the pods, \
         while they must reach the node that holds the client's room. Fix: set `{key}: true` \
         (each pod then runs on a node of its own) with `livekit.rtc.nodeIpFrom: hostIP` or \
         `livekit.rtc.useExternalIp: true`, or set `{replicas_key}: 1`."
    )]
    ReplicasBehindOneLoadBalancer {
        /// `livekit.hostNetwork`.
        key: String,
        /// `livekit.replicas`.
        replicas_key: String,
        /// The replicas written.
        replicas: u16,
    },
    /// Several LiveKit nodes behind a NodePort Service.
    #[error(
        "`{key}` is `NodePort`, but `{replicas_key}` is {replicas}: every node forwards the \
         node ports to any of the pods, while a client's media must reach the node that holds \
         its room. Fix: remove `{key}` and set `livekit.hostNetwork: true` with \
         `livekit.rtc.nodeIpFrom: hostIP` or `livekit.rtc.useExternalIp: true` (each pod then \
         receives media on its own node), or set `{replicas_key}: 1`."
    )]
    ReplicasWithNodePort {
        /// `livekit.rtc.serviceType`.
        key: String,
        /// `livekit.replicas`.
        replicas_key: String,
        /// The replicas written.
        replicas: u16,
    },
    /// Several LiveKit nodes with the bundled TURN.
    #[error(
        "`{key}` is {replicas}, but overlay `bundled-turn` enables TURN: clients dial \
         `turns:<livekit.turn.domain>:443` and reach one address, so each node would need a \
         TURN name and a certificate of its own, and the bundle renders one for all. Fix: \
         remove `bundled-turn` from `overlays` and give clients on networks that block UDP an \
         external TURN server, or set `{key}: 1`."
    )]
    ReplicasWithTurn {
        /// `livekit.replicas`.
        key: String,
        /// The replicas written.
        replicas: u16,
    },
    /// Several LiveKit nodes with no way to learn their own addresses.
    #[error(
        "`{key}` is not set and `livekit.rtc.useExternalIp` is false, but `{replicas_key}` is \
         {replicas}: each node must advertise its own public address, and LiveKit would \
         advertise an address of its node that clients may not reach. Fix: set `{key}: hostIP` \
         where a node's interface holds its public address, or `livekit.rtc.useExternalIp: \
         true` to find it with STUN behind 1:1 NAT."
    )]
    ReplicasWithoutNodeAddress {
        /// `livekit.rtc.nodeIpFrom`.
        key: String,
        /// `livekit.replicas`.
        replicas_key: String,
        /// The replicas written.
        replicas: u16,
    },
    /// The node's address advertised by a pod that is not on the node's network.
    #[error(
        "`{key}` is `hostIP`, but `{host_network_key}` is false: the pod's media then arrives \
         through a media Service, not at its node's address, so clients would send media where \
         nothing listens. Fix: set `{host_network_key}: true`, or remove `{key}` and set \
         `livekit.rtc.nodeIp` to the media Service's public address."
    )]
    NodeIpFromWithoutHostNetwork {
        /// `livekit.rtc.nodeIpFrom`.
        key: String,
        /// `livekit.hostNetwork`.
        host_network_key: String,
    },
    /// Two sources of the advertised address.
    #[error(
        "`{key}` is `hostIP`, but `{other}` is set too: LiveKit takes its advertised address \
         from one source, so one of the two settings would be silently ignored. Fix: keep \
         one: remove `{other}`, or remove `{key}`."
    )]
    NodeIpFromWithAnotherSource {
        /// `livekit.rtc.nodeIpFrom`.
        key: String,
        /// `livekit.rtc.nodeIp` or `livekit.rtc.useExternalIp`.
        other: String,
    },
    /// Redis settings without a server.
    #[error(
        "`{key}` is not set and neither is `{sentinel_key}`: LiveKit would have no Redis to \
         connect to and would not start. Fix: set `{key}` to the server's `host:port`, e.g. \
         `redis.example.org:6379`, or with Sentinel set `{sentinel_key}` and \
         `livekit.redis.sentinelMasterName`."
    )]
    RedisServerMissing {
        /// `livekit.redis.address`.
        key: String,
        /// `livekit.redis.sentinelAddresses`.
        sentinel_key: String,
    },
    /// A Redis address that is not `host:port`.
    #[error(
        "`{key}` holds `{value}`, which is not `host:port`: {reason}, and LiveKit dials the \
         address as written. Fix: write a host name or IP address with the port, e.g. \
         `redis.example.org:6379` or `[2001:db8::20]:6379`."
    )]
    RedisAddressInvalid {
        /// `livekit.redis.address` or `livekit.redis.sentinelAddresses`.
        key: String,
        /// The rejected address.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A Redis address that Sentinel replaces.
    #[error(
        "`{key}` is set, but so is `{sentinel_key}`: LiveKit then asks the Sentinels for the \
         master and ignores `{key}`. Fix: remove `{key}`, or remove `{sentinel_key}` and \
         `livekit.redis.sentinelMasterName` to connect to `{key}` directly."
    )]
    RedisAddressWithSentinel {
        /// `livekit.redis.address`.
        key: String,
        /// `livekit.redis.sentinelAddresses`.
        sentinel_key: String,
    },
    /// Half of the Sentinel settings.
    #[error(
        "`{key}` is set, but `{missing}` is not: LiveKit uses Sentinel only with both, the \
         Sentinels to ask and the name of the master they monitor. Fix: set `{missing}`, or \
         remove `{key}`."
    )]
    SentinelIncomplete {
        /// `livekit.redis.sentinelAddresses` or `livekit.redis.sentinelMasterName`.
        key: String,
        /// The other one.
        missing: String,
    },

    // ---- the bundled Valkey ----
    /// A setting of an operator's Redis together with the bundled Valkey.
    #[error(
        "`{key}` is set, but `{bundled_key}` is true: the bundled Valkey is then the server, \
         reached at `valkey:6379` without TLS, its password in the Secret `valkey` that \
         `bundle secrets` generates, and `{key}` would not apply. Fix: remove `{key}`, or \
         remove `{bundled_key}` to connect to your own Redis."
    )]
    BundledRedisWithServerSetting {
        /// `livekit.redis.address`, `existingSecret`, `tls`, `sentinelMasterName` or
        /// `sentinelAddresses`.
        key: String,
        /// `livekit.redis.bundled`.
        bundled_key: String,
    },
    /// The bundled Valkey without its image pin.
    #[error(
        "`{key}` is not set, but `{bundled_key}` is true: the bundled Valkey would have no \
         image to run. Fix: pin it under `{key}`, e.g. `{{repository: valkey/valkey, tag: \
         8.1.4, digest: sha256:..., policy: {{kind: semver, tagPrefix: \"\"}}}}` with the \
         digest `skopeo inspect docker://docker.io/valkey/valkey:8.1.4` prints, or remove \
         `{bundled_key}`."
    )]
    BundledRedisImageMissing {
        /// `images.valkey`.
        key: String,
        /// `livekit.redis.bundled`.
        bundled_key: String,
    },
    /// The bundled Valkey's NetworkPolicy could not admit a LiveKit on the host network.
    #[error(
        "`{key}` is true and so is `{bundled_key}`, with `networkPolicy.enabled`: a pod on the \
         host network reaches Valkey from its node's address, which the Valkey policy (it \
         admits the LiveKit and lk-jwt pods by their labels) cannot tell from any other host, \
         so LiveKit would be cut off from its Redis. Fix: remove `{bundled_key}` and point \
         `livekit.redis.address` at a Redis that admits your nodes, or set \
         `networkPolicy.enabled: false`."
    )]
    BundledRedisWithHostNetwork {
        /// `livekit.hostNetwork`.
        key: String,
        /// `livekit.redis.bundled`.
        bundled_key: String,
    },
}

impl Violation {
    /// The key to change, as a dotted path in `bundle.yaml` (`livekit.rtc.udpPort`,
    /// `overlays.external.livekit.publicUrl`).
    pub fn key(&self) -> &str {
        match self {
            Violation::NamespaceMissing { key, .. }
            | Violation::NamespaceNotALabel { key, .. }
            | Violation::ServerNameMissing { key, .. }
            | Violation::InvalidDnsName { key, .. }
            | Violation::RegistrationWithoutToken { key, .. }
            | Violation::InlineSecretRefused { key, .. }
            | Violation::ServiceUrlMissing { key, .. }
            | Violation::ServiceUrlEndsWithSfu { key, .. }
            | Violation::UrlNotOnIngressHost { key, .. }
            | Violation::HostAliasIpInvalid { key, .. }
            | Violation::HostAliasWithoutHostnames { key, .. }
            | Violation::KeyRemoved { key, .. }
            | Violation::InlineKeyBreaksKeyFile { key, .. }
            | Violation::LivekitCredentialsMissing { key, .. }
            | Violation::ApiSecretTooShort { key, .. }
            | Violation::ApiKeyNameInvalid { key, .. }
            | Violation::ApiKeyNameNotTheInlineKey { key, .. }
            | Violation::TurnDomainMissing { key, .. }
            | Violation::CertManagerSecretKeyFixed { key, .. }
            | Violation::CertManagerSecretIsIngressSecret { key, .. }
            | Violation::CertManagerIssuerNameMissing { key, .. }
            | Violation::LkJwtKeyKeyWithoutSecret { key, .. }
            | Violation::TurnTlsSecretMissing { key, .. }
            | Violation::TurnDomainIsServerName { key, .. }
            | Violation::TurnTlsPortPrivileged { key, .. }
            | Violation::PortPrivileged { key, .. }
            | Violation::PortZero { key, .. }
            | Violation::ServicePortsCollide { key, .. }
            | Violation::PortsCollide { key, .. }
            | Violation::PublicUrlMissing { key, .. }
            | Violation::PublicUrlNotWss { key, .. }
            | Violation::ExternalKeysSecretMissing { key, .. }
            | Violation::NodeIpMissing { key, .. }
            | Violation::ImageUnpinned { key, .. }
            | Violation::ImageTagLatest { key, .. }
            | Violation::LivekitEnabledContradictsOverlay { key, .. }
            | Violation::TurnEnabledContradictsOverlay { key, .. }
            | Violation::BundledOverlaysDiffer { key, .. }
            | Violation::NoOverlays { key, .. }
            | Violation::AllowListUnsupported { key, .. }
            | Violation::NodeIpNotUnicast { key, .. }
            | Violation::NodeIpRestrictedForTurn { key, .. }
            | Violation::PeerCidrInvalid { key, .. }
            | Violation::PinWithoutNodeIp { key, .. }
            | Violation::PinContradictsServiceAnnotation { key, .. }
            | Violation::RelayPortPrivileged { key, .. }
            | Violation::RelayPortRangeReversed { key, .. }
            | Violation::RelayPortRangeTooLarge { key, .. }
            | Violation::RelayPortRangeCollides { key, .. }
            | Violation::SecretNameInvalid { key, .. }
            | Violation::SecretDataKeyInvalid { key, .. }
            | Violation::ListenAddressesWithoutWildcard { key, .. }
            | Violation::ListenAddressesWithoutIpv6 { key, .. }
            | Violation::IpFamilyTwice { key, .. }
            | Violation::IpFamiliesNeedDualStack { key, .. }
            | Violation::NodeIpFamilyNotOnService { key, .. }
            | Violation::DualStackNodeIpOnSingleStack { key, .. }
            | Violation::PinSpecTakesOneAddress { key, .. }
            | Violation::TurnWithoutIpv4NodeIp { key, .. }
            | Violation::PeerEmpty { key, .. }
            | Violation::PeerIpBlockWithSelector { key, .. }
            | Violation::PeerExceptOutsideCidr { key, .. }
            | Violation::ControllerNamespaceIgnored { key, .. }
            | Violation::SelectorLabelInvalid { key, .. }
            | Violation::SelectorValuesMismatch { key, .. }
            | Violation::SplitServicesWithoutPin { key, .. }
            | Violation::NodePortOutOfRange { key, .. }
            | Violation::NodePortWithTurn { key, .. }
            | Violation::NodePortWithPin { key, .. }
            | Violation::HostNetworkWithTurn { key, .. }
            | Violation::MediaServiceSettingWithHostNetwork { key, .. }
            | Violation::IngressSettingWithGateway { key, .. }
            | Violation::GatewayParentRefsMissing { key, .. }
            | Violation::GatewayNameInvalid { key, .. }
            | Violation::SectionNameInvalid { key, .. }
            | Violation::GatewayParentRefsNotDistinct { key, .. }
            | Violation::GatewayParentRefsTooMany { key, .. }
            | Violation::MemoryLimitNotAQuantity { key, .. }
            | Violation::CacheModifierNotPositive { key, .. }
            | Violation::ReplicasZero { key, .. }
            | Violation::ReplicasWithoutRedis { key, .. }
            | Violation::ReplicasWithNodeIp { key, .. }
            | Violation::ReplicasBehindOneLoadBalancer { key, .. }
            | Violation::ReplicasWithNodePort { key, .. }
            | Violation::ReplicasWithTurn { key, .. }
            | Violation::ReplicasWithoutNodeAddress { key, .. }
            | Violation::NodeIpFromWithoutHostNetwork { key, .. }
            | Violation::NodeIpFromWithAnotherSource { key, .. }
            | Violation::RedisServerMissing { key, .. }
            | Violation::RedisAddressInvalid { key, .. }
            | Violation::RedisAddressWithSentinel { key, .. }
            | Violation::SentinelIncomplete { key, .. }
            | Violation::BundledRedisWithServerSetting { key, .. }
            | Violation::BundledRedisImageMissing { key, .. }
            | Violation::BundledRedisWithHostNetwork { key, .. } => key,
        }
    }
}

/// Which keys `bundle.yaml` writes, for the guards that refuse a setting only when the operator
/// wrote it (a default is never a mistake).
pub(crate) trait WrittenKeys {
    /// Whether the dotted `key` (`ingress.tls`) is written, with any value.
    fn is_written(&self, key: &str) -> bool;
}

/// Every violated guard of `config`, in a stable order and without duplicates (a setting
/// shared by several overlays is reported once). `written` tells which keys the text sets.
pub(crate) fn violations(config: &Config, written: &dyn WrittenKeys) -> Vec<Violation> {
    let mut found = Vec::new();
    check_namespace(config, &mut found);
    check_homeserver(config, &mut found);
    check_ingress(config, &mut found);
    check_gateway(config, written, &mut found);
    check_images(config, &mut found);
    check_lk_jwt_host_aliases(config, &mut found);
    check_appservices(config, &mut found);
    check_network(config, &mut found);
    check_ingress_from(config, written, &mut found);
    check_homeserver_caches(config, &mut found);
    if config.raw.overlays.is_empty() {
        found.push(Violation::NoOverlays {
            key: "overlays".to_owned(),
        });
    }
    for variant in config.variants.values() {
        check_variant(config, variant, &mut found);
    }
    check_bundled_overlays_agree(config, &mut found);

    let mut unique: Vec<Violation> = Vec::with_capacity(found.len());
    for violation in found {
        if !unique.contains(&violation) {
            unique.push(violation);
        }
    }
    unique
}

fn check_namespace(config: &Config, found: &mut Vec<Violation>) {
    let key = "namespace".to_owned();
    let namespace = config.raw.namespace.as_str();
    if namespace.is_empty() {
        found.push(Violation::NamespaceMissing { key });
    } else if let Err(problem) = check_dns_label(namespace) {
        found.push(Violation::NamespaceNotALabel {
            key,
            value: namespace.to_owned(),
            reason: label_problem_reason(problem),
        });
    }
}

/// What a namespace name that breaks the DNS label rule does wrong.
fn label_problem_reason(problem: LabelProblem) -> &'static str {
    match problem {
        LabelProblem::Empty => "it is empty",
        LabelProblem::TooLong => "it is longer than 63 characters",
        LabelProblem::BadCharacter => "it may only hold lowercase letters, digits and `-`",
        LabelProblem::EdgeHyphen => "it cannot start or end with `-`",
    }
}

fn check_ingress(config: &Config, found: &mut Vec<Violation>) {
    // With Gateway API there is no Ingress to check; `check_gateway` refuses its settings.
    if config.raw.gateway.enabled {
        return;
    }
    let ingress = &config.raw.ingress;
    let knows_allow_lists = matches!(ingress.class_name.as_str(), "nginx" | "haproxy");
    if !ingress.whitelist_source_range.is_empty() && !knows_allow_lists {
        found.push(Violation::AllowListUnsupported {
            key: "ingress.whitelistSourceRange".to_owned(),
            class: ingress.class_name.clone(),
        });
    }
}

/// The Ingress settings, each with where it belongs once Gateway API replaces the Ingress.
const INGRESS_ONLY_SETTINGS: [(&str, &str, &str); 4] = [
    (
        "ingress.className",
        "the Gateway's controller is chosen by the Gateway's `gatewayClassName`",
        "attach the routes to a Gateway of the class you want in `gateway.parentRefs`",
    ),
    (
        "ingress.annotations",
        "an HTTPRoute has no counterpart of an Ingress controller's annotations",
        "configure the Gateway or your implementation's policy objects instead",
    ),
    (
        "ingress.whitelistSourceRange",
        "source addresses are filtered by the Gateway or by your implementation's policy \
         objects, not by a route",
        "restrict the sources on the Gateway's side",
    ),
    (
        "ingress.tls",
        "TLS belongs to the Gateway's listener, which holds the certificate for serverName",
        "give the Gateway an HTTPS listener on 443 whose `certificateRefs` name the \
         certificate for `homeserver.serverName`",
    ),
];

/// With Gateway API: a Gateway to attach to, names the API accepts, no Ingress settings.
fn check_gateway(config: &Config, written: &dyn WrittenKeys, found: &mut Vec<Violation>) {
    let gateway = &config.raw.gateway;
    if !gateway.enabled {
        return;
    }
    for (key, reason, fix) in INGRESS_ONLY_SETTINGS {
        if written.is_written(key) {
            found.push(Violation::IngressSettingWithGateway {
                key: key.to_owned(),
                reason,
                fix,
            });
        }
    }
    if gateway.parent_refs.is_empty() {
        found.push(Violation::GatewayParentRefsMissing {
            key: "gateway.parentRefs".to_owned(),
        });
    }
    if gateway.parent_refs.len() > MAX_PARENT_REFS {
        found.push(Violation::GatewayParentRefsTooMany {
            key: "gateway.parentRefs".to_owned(),
            count: gateway.parent_refs.len(),
        });
    }
    for (index, parent) in gateway.parent_refs.iter().enumerate() {
        let key = |field: &str| format!("gateway.parentRefs[{index}].{field}");
        // The API's `ObjectName`: 1 to 253 characters, with no pattern of its own.
        let name_problem = match parent.name.len() {
            0 => Some("it is empty"),
            len if len > 253 => Some("it is longer than 253 characters"),
            _ => None,
        };
        if let Some(reason) = name_problem {
            found.push(Violation::GatewayNameInvalid {
                key: key("name"),
                value: parent.name.clone(),
                reason,
            });
        }
        if let Some(namespace) = &parent.namespace
            && let Err(problem) = check_dns_label(namespace)
        {
            found.push(Violation::NamespaceNotALabel {
                key: key("namespace"),
                value: namespace.clone(),
                reason: label_problem_reason(problem),
            });
        }
        if let Some(section) = &parent.section_name
            && let Err(reason) = check_dns_subdomain(section)
        {
            found.push(Violation::SectionNameInvalid {
                key: key("sectionName"),
                value: section.clone(),
                reason,
            });
        }
    }
    check_parent_refs_distinct(config, found);
}

/// The API's rule for `parentRefs`: entries that select the same Gateway must each name a
/// listener, and different ones (else the route would attach to one listener twice).
fn check_parent_refs_distinct(config: &Config, found: &mut Vec<Violation>) {
    let raw = &config.raw;
    let gateway_of = |parent: &crate::config::GatewayParentRef| {
        let namespace = parent.namespace.as_deref().unwrap_or(&raw.namespace);
        format!("{namespace}/{}", parent.name)
    };
    let parents = &raw.gateway.parent_refs;
    for (later, parent) in parents.iter().enumerate() {
        let clash = parents[..later].iter().position(|earlier| {
            gateway_of(earlier) == gateway_of(parent)
                && (earlier.section_name.is_none()
                    || parent.section_name.is_none()
                    || earlier.section_name == parent.section_name)
        });
        if let Some(earlier) = clash {
            found.push(Violation::GatewayParentRefsNotDistinct {
                key: format!("gateway.parentRefs[{later}]"),
                other: format!("gateway.parentRefs[{earlier}]"),
                gateway: gateway_of(parent),
            });
        }
    }
}

fn check_homeserver(config: &Config, found: &mut Vec<Violation>) {
    let raw = &config.raw;
    let homeserver = &raw.homeserver;
    let server_name = homeserver.server_name.as_str();
    if server_name.is_empty() {
        found.push(Violation::ServerNameMissing {
            key: "homeserver.serverName".to_owned(),
        });
    } else if let Err(reason) = check_dns_name(server_name) {
        found.push(Violation::InvalidDnsName {
            key: "homeserver.serverName".to_owned(),
            value: server_name.to_owned(),
            reason,
        });
    }

    if homeserver.client_port == 0 {
        found.push(Violation::PortZero {
            key: "homeserver.clientPort".to_owned(),
        });
    }

    let has_inline_token = !homeserver.registration_token.is_empty();
    let token_secret = &homeserver.registration_token_existing_secret;
    if !token_secret.name.is_empty()
        && let Err(reason) = check_secret_data_key(&token_secret.key)
    {
        found.push(Violation::SecretDataKeyInvalid {
            key: "homeserver.registrationTokenExistingSecret.key".to_owned(),
            value: token_secret.key.clone(),
            reason,
        });
    }
    if has_inline_token && !raw.allow_inline_secrets {
        found.push(Violation::InlineSecretRefused {
            key: "homeserver.registrationToken".to_owned(),
        });
    } else if homeserver.allow_registration
        && !has_inline_token
        && homeserver
            .registration_token_existing_secret
            .name
            .is_empty()
    {
        found.push(Violation::RegistrationWithoutToken {
            key: "homeserver.allowRegistration".to_owned(),
        });
    }

    if raw.lk_jwt.enabled {
        let key = "homeserver.livekitServiceUrl".to_owned();
        let url = homeserver.livekit_service_url.as_str();
        let expected = format!("https://{server_name}");
        if url.is_empty() {
            found.push(Violation::ServiceUrlMissing { key });
        } else if url.trim_end_matches('/').ends_with("/sfu") {
            found.push(Violation::ServiceUrlEndsWithSfu {
                key,
                value: url.to_owned(),
            });
        } else if check_dns_name(server_name).is_ok() && url.trim_end_matches('/') != expected {
            // The generated ingress routes lk-jwt's paths on serverName only.
            found.push(Violation::UrlNotOnIngressHost {
                key,
                value: url.to_owned(),
                server_name: server_name.to_owned(),
                expected,
            });
        }
    }
}

fn check_images(config: &Config, found: &mut Vec<Violation>) {
    for (name, pin) in config.raw.images.iter() {
        let key = format!("images.{}", name.key());
        if pin.tag.is_none() && pin.digest.is_none() {
            found.push(Violation::ImageUnpinned { key });
        } else if pin.tag.as_ref().is_some_and(|tag| tag.as_str() == "latest") {
            found.push(Violation::ImageTagLatest {
                key: format!("{key}.tag"),
            });
        }
    }
}

// ---- lk-jwt's host aliases and the one LiveKit key file ----

fn check_lk_jwt_host_aliases(config: &Config, found: &mut Vec<Violation>) {
    for (index, alias) in config.raw.lk_jwt.host_aliases.iter().enumerate() {
        let key = |field: &str| format!("lkJwt.hostAliases[{index}].{field}");
        if alias.ip.parse::<IpAddr>().is_err() {
            found.push(Violation::HostAliasIpInvalid {
                key: key("ip"),
                value: alias.ip.clone(),
            });
        }
        if alias.hostnames.is_empty() {
            found.push(Violation::HostAliasWithoutHostnames {
                key: key("hostnames"),
            });
        }
        for (position, hostname) in alias.hostnames.iter().enumerate() {
            if let Err(reason) = check_dns_name(hostname) {
                found.push(Violation::InvalidDnsName {
                    key: format!("{}[{position}]", key("hostnames")),
                    value: hostname.clone(),
                    reason,
                });
            }
        }
    }
}

/// Keys of the keys Secret that lk-jwt read before it shared LiveKit's key file.
fn check_removed_livekit_keys(config: &Config, variant: &Variant, found: &mut Vec<Violation>) {
    let existing = &variant.livekit.keys.existing_secret;
    for (path, written) in [
        (
            "keys.existingSecret.apiKeyKey",
            existing.api_key_key.is_some(),
        ),
        (
            "keys.existingSecret.apiSecretKey",
            existing.api_secret_key.is_some(),
        ),
    ] {
        if written {
            found.push(Violation::KeyRemoved {
                key: livekit_key(config, variant.name, path),
                reason: "lk-jwt and LiveKit both read the one `<key>: <secret>` line of the keys \
                         Secret's `livekit.keys.existingSecret.livekitKeysKey` entry (default \
                         `LIVEKIT_KEYS`), so a separate API key or secret entry is never read",
                fix: "remove it, and make sure the `livekitKeysKey` entry of the Secret holds \
                      `<key>: <secret>` (its separate key and secret entries can go)",
            });
        }
    }
}

/// The inline keys become the one key-file line both servers read.
fn check_inline_keys_fit_the_key_file(
    config: &Config,
    variant: &Variant,
    found: &mut Vec<Violation>,
) {
    let keys = &variant.livekit.keys;
    // Without `allowInlineSecrets` the inline keys are refused as such; an external SFU's keys
    // always come from a Secret.
    let inline = keys.existing_secret.name.is_empty() && config.raw.allow_inline_secrets;
    if !inline || !variant.livekit_bundled() {
        return;
    }
    for (path, value) in [
        ("keys.apiKey", &keys.api_key),
        ("keys.apiSecret", &keys.api_secret),
    ] {
        if value.contains(|c: char| c == ':' || c.is_whitespace()) {
            found.push(Violation::InlineKeyBreaksKeyFile {
                key: livekit_key(config, variant.name, path),
            });
        }
    }
}

/// lk-jwt's own entry of the keys Secret exists only in a Secret the operator makes.
fn check_lk_jwt_key_key(config: &Config, variant: &Variant, found: &mut Vec<Violation>) {
    let secret = &variant.livekit.keys.existing_secret;
    if secret.lk_jwt_key_key.is_some() && secret.name.is_empty() {
        found.push(Violation::LkJwtKeyKeyWithoutSecret {
            key: livekit_key(config, variant.name, "keys.existingSecret.lkJwtKeyKey"),
            name_key: livekit_key(config, variant.name, "keys.existingSecret.name"),
        });
    }
}

fn check_variant(config: &Config, variant: &Variant, found: &mut Vec<Violation>) {
    let raw = &config.raw;
    let livekit = &variant.livekit;
    let key = |path: &str| livekit_key(config, variant.name, path);
    check_overlay_name_is_respected(config, variant, found);
    check_removed_livekit_keys(config, variant, found);
    check_inline_keys_fit_the_key_file(config, variant, found);
    check_lk_jwt_key_key(config, variant, found);
    check_secret_data_keys(config, variant, found);

    // Only the ports this overlay deploys: an external overlay runs no LiveKit, and only
    // `bundled-turn` listens on TURN's port.
    let bundled = variant.livekit_bundled();
    for (path, port, deployed) in [
        ("rtc.signalingPort", livekit.rtc.signaling_port, bundled),
        ("rtc.udpPort", livekit.rtc.udp_port, bundled),
        ("rtc.tcpPort", livekit.rtc.tcp_port, bundled),
        (
            "turn.tlsPort",
            livekit.turn.tls_port,
            variant.turn_enabled(),
        ),
    ] {
        if deployed && port == 0 {
            found.push(Violation::PortZero { key: key(path) });
        }
    }

    for (path, value) in [
        ("keys.apiKey", &livekit.keys.api_key),
        ("keys.apiSecret", &livekit.keys.api_secret),
    ] {
        if !value.is_empty() && !raw.allow_inline_secrets {
            found.push(Violation::InlineSecretRefused { key: key(path) });
        }
    }

    if livekit.public_url.is_empty() {
        if raw.lk_jwt.enabled {
            found.push(Violation::PublicUrlMissing {
                key: key("publicUrl"),
            });
        }
    } else if wss_authority(&livekit.public_url).is_none() {
        found.push(Violation::PublicUrlNotWss {
            key: key("publicUrl"),
            value: livekit.public_url.clone(),
        });
    }

    if variant.livekit_bundled() {
        check_bundled_livekit(config, variant, found);
    } else if raw.lk_jwt.enabled && livekit.keys.existing_secret.name.is_empty() {
        // Only lk-jwt talks to an external SFU (the chart's G9 has the same condition).
        found.push(Violation::ExternalKeysSecretMissing {
            key: format!(
                "overlays.{}.livekit.keys.existingSecret.name",
                variant.name.dir_name()
            ),
        });
    }
    if variant.turn_enabled() {
        check_turn(config, variant, found);
    }
    check_redis(config, variant, found);
}

fn check_bundled_livekit(config: &Config, variant: &Variant, found: &mut Vec<Violation>) {
    let livekit = &variant.livekit;
    let key = |path: &str| livekit_key(config, variant.name, path);
    let server_name = &config.raw.homeserver.server_name;

    let keys = &livekit.keys;
    if keys.existing_secret.name.is_empty() {
        if keys.api_key.is_empty() || keys.api_secret.is_empty() {
            found.push(Violation::LivekitCredentialsMissing {
                key: key("keys.existingSecret.name"),
            });
        } else if config.raw.allow_inline_secrets
            && keys.api_secret.chars().count() < MIN_API_SECRET_LEN
        {
            found.push(Violation::ApiSecretTooShort {
                key: key("keys.apiSecret"),
                length: keys.api_secret.chars().count(),
            });
        }
    }

    if let Some(name) = &keys.api_key_name {
        if name.is_empty() || name.contains(|c: char| c == ':' || c.is_whitespace()) {
            found.push(Violation::ApiKeyNameInvalid {
                key: key("keys.apiKeyName"),
                value: name.clone(),
            });
        } else if keys.existing_secret.name.is_empty()
            && !keys.api_key.is_empty()
            && *name != keys.api_key
        {
            found.push(Violation::ApiKeyNameNotTheInlineKey {
                key: key("keys.apiKeyName"),
            });
        }
    }

    // The bundled SFU is reached through the ingress on serverName (`/rtc`).
    if let Some(authority) = wss_authority(&livekit.public_url)
        && check_dns_name(server_name).is_ok()
        && authority != server_name
    {
        found.push(Violation::UrlNotOnIngressHost {
            key: key("publicUrl"),
            value: livekit.public_url.clone(),
            server_name: server_name.clone(),
            expected: format!("wss://{server_name}"),
        });
    }

    for (path, port, exposed_by) in [
        (
            "rtc.signalingPort",
            livekit.rtc.signaling_port,
            "the `livekit-signaling` Service".to_owned(),
        ),
        (
            "rtc.tcpPort",
            livekit.rtc.tcp_port,
            media_exposure(livekit, "TCP"),
        ),
        (
            "rtc.udpPort",
            livekit.rtc.udp_port,
            media_exposure(livekit, "UDP"),
        ),
    ] {
        // Port 0 has its own guard.
        if (1..=1024).contains(&port) {
            found.push(Violation::PortPrivileged {
                key: key(path),
                value: port,
                exposed_by,
            });
        }
    }
    check_pod_ports(config, variant, found);
    check_rtc_service_ports(config, variant, found);
    check_advertised_address(config, variant, found);
    check_node_ip_families(config, variant, found);
    check_media_exposure(config, variant, found);
    check_scale_out(config, variant, found);

    if livekit.rtc.node_ip().is_none()
        && !livekit.rtc.use_external_ip
        && livekit.rtc.node_ip_from.is_none()
        && livekit.replicas <= 1
    {
        found.push(Violation::NodeIpMissing {
            key: key("rtc.nodeIp"),
            address: media_address(livekit),
        });
    }
}

/// The TCP listeners of the LiveKit container (its UDP port is the only UDP one).
fn check_pod_ports(config: &Config, variant: &Variant, found: &mut Vec<Violation>) {
    let livekit = &variant.livekit;
    let key = |path: &str| livekit_key(config, variant.name, path);
    let mut tcp_ports = vec![
        ("rtc.signalingPort", livekit.rtc.signaling_port),
        ("rtc.tcpPort", livekit.rtc.tcp_port),
    ];
    if variant.turn_enabled() {
        tcp_ports.push(("turn.tlsPort", livekit.turn.tls_port));
    }
    for (index, &(path, port)) in tcp_ports.iter().enumerate() {
        // Port 0 has its own guard.
        if port == 0 {
            continue;
        }
        if let Some(&(other, _)) = tcp_ports[..index].iter().find(|(_, seen)| *seen == port) {
            found.push(Violation::PortsCollide {
                key: key(path),
                value: port,
                other: key(other),
            });
        }
    }
}

/// The ports of the media Services (`livekit-rtc`, or `livekit-rtc-udp` and `-tcp`) as the
/// LiveKit component renders them: the UDP and TCP media ports as themselves and, with TURN,
/// 443 mapped to `turn.tlsPort` and every relay port.
fn check_rtc_service_ports(config: &Config, variant: &Variant, found: &mut Vec<Violation>) {
    let livekit = &variant.livekit;
    let key = |path: &str| livekit_key(config, variant.name, path);
    let mut ports = rtc_ports(livekit, variant.turn_enabled().then_some(&livekit.turn));
    // Fixed ports first, so that a collision is reported at the key that can move.
    ports.sort_by_key(|port| port.origin != RtcPortOrigin::TurnTls);
    let used_for = |port: &RtcPort| match port.origin {
        RtcPortOrigin::Setting(path) => format!("`{}`", key(path)),
        RtcPortOrigin::TurnTls => format!(
            "TURN over TLS (LiveKit advertises `turns:<domain>:{TURN_PUBLIC_PORT}`; the Service \
             maps it to `{}`)",
            key("turn.tlsPort")
        ),
        RtcPortOrigin::TurnRelay => format!("`{}`", key("turn.relayPortRange")),
    };
    let range = livekit.turn.relay_port_range;
    let mut relay_reported = false;
    // The first port of each number and protocol (a range may hold many ports).
    let mut seen: BTreeMap<(u16, &str), &RtcPort> = BTreeMap::new();
    for port in &ports {
        // Port 0 has its own guard.
        if port.port == 0 {
            continue;
        }
        let Some(taken) = seen.get(&(port.port, port.protocol)) else {
            seen.insert((port.port, port.protocol), port);
            continue;
        };
        match port.origin {
            RtcPortOrigin::Setting(path) => found.push(Violation::ServicePortsCollide {
                key: key(path),
                value: port.port,
                protocol: port.protocol,
                service: taken.service,
                other: used_for(taken),
            }),
            RtcPortOrigin::TurnRelay if !relay_reported => {
                relay_reported = true;
                found.push(Violation::RelayPortRangeCollides {
                    key: key("turn.relayPortRange"),
                    start: range.start,
                    end: range.end,
                    value: port.port,
                    protocol: port.protocol,
                    service: taken.service,
                    other: used_for(taken),
                });
            }
            _ => {}
        }
    }
}

fn check_turn(config: &Config, variant: &Variant, found: &mut Vec<Violation>) {
    let turn = &variant.livekit.turn;
    let key = |path: &str| livekit_key(config, variant.name, path);
    let service = media_service(&variant.livekit.rtc, "TCP");
    if turn.domain.is_empty() {
        found.push(Violation::TurnDomainMissing {
            key: key("turn.domain"),
            service,
        });
    } else if let Err(reason) = check_dns_name(&turn.domain) {
        found.push(Violation::InvalidDnsName {
            key: key("turn.domain"),
            value: turn.domain.clone(),
            reason,
        });
    } else if turn.domain == config.raw.homeserver.server_name {
        found.push(Violation::TurnDomainIsServerName {
            key: key("turn.domain"),
            value: turn.domain.clone(),
            service,
        });
    }
    if turn.tls.existing_secret.is_empty() {
        found.push(Violation::TurnTlsSecretMissing {
            key: key("turn.tls.existingSecret"),
        });
    }
    // Port 0 has its own guard.
    if (1..=1024).contains(&turn.tls_port) {
        found.push(Violation::TurnTlsPortPrivileged {
            key: key("turn.tlsPort"),
            value: turn.tls_port,
        });
    }
    check_turn_relay(config, variant, found);
    check_turn_cert_manager(config, variant, found);
}

/// `turn.tls.certManager`: what cert-manager writes must be what LiveKit mounts, in a Secret
/// of TURN's own. What cannot be known here (that the issuer exists, that it solves DNS-01
/// for the domain) is left to cert-manager, which reports it on the Certificate.
fn check_turn_cert_manager(config: &Config, variant: &Variant, found: &mut Vec<Violation>) {
    let tls = &variant.livekit.turn.tls;
    let Some(issuer) = &tls.cert_manager else {
        return;
    };
    let key = |path: &str| livekit_key(config, variant.name, path);
    if issuer.name.is_empty() {
        found.push(Violation::CertManagerIssuerNameMissing {
            key: key("turn.tls.certManager.name"),
        });
    }
    for (path, value, default) in [
        ("turn.tls.certKey", &tls.cert_key, "tls.crt"),
        ("turn.tls.keyKey", &tls.key_key, "tls.key"),
    ] {
        if value != default {
            found.push(Violation::CertManagerSecretKeyFixed {
                key: key(path),
                value: value.clone(),
                default,
                cert_manager_key: key("turn.tls.certManager"),
            });
        }
    }
    let ingress = &config.raw.ingress;
    if !config.raw.gateway.enabled
        && ingress.tls.enabled
        && !tls.existing_secret.is_empty()
        && tls.existing_secret == ingress.tls.secret_name
    {
        found.push(Violation::CertManagerSecretIsIngressSecret {
            key: key("turn.tls.existingSecret"),
            value: tls.existing_secret.clone(),
            domain: variant.livekit.turn.domain.clone(),
            cert_manager_key: key("turn.tls.certManager"),
        });
    }
}

// ---- the advertised address and the TURN relay ports ----------------------------------------

/// The lowest relay port: below it, binding needs root.
const MIN_RELAY_PORT: u16 = 1024;
/// The most relay ports one `livekit-rtc` Service carries.
const MAX_RELAY_PORTS: usize = 100;

/// `nodeIp` as LiveKit advertises it and as `pinLoadBalancerIp` asks the LoadBalancer for it.
fn check_advertised_address(config: &Config, variant: &Variant, found: &mut Vec<Violation>) {
    let rtc = &variant.livekit.rtc;
    let key = |path: &str| livekit_key(config, variant.name, path);
    let pin = rtc.pin_load_balancer_ip;
    let Some(node_ip) = rtc.node_ip() else {
        if pin != PinLoadBalancerIp::None {
            found.push(Violation::PinWithoutNodeIp {
                key: key("rtc.pinLoadBalancerIp"),
                pin: pin_name(pin),
                node_ip_key: key("rtc.nodeIp"),
                address: media_address(&variant.livekit),
            });
        }
        return;
    };
    // Each address is advertised, so each must be one a client can send media to.
    for address in node_ip.addresses() {
        check_advertised_ip(config, variant, address, found);
    }
    if let Some(annotation) = pin.annotation()
        && let Some(value) = rtc.service_annotations.get(annotation)
        && *value != node_ip.to_string()
    {
        found.push(Violation::PinContradictsServiceAnnotation {
            key: key("rtc.serviceAnnotations"),
            annotation,
            value: value.clone(),
            pin_key: key("rtc.pinLoadBalancerIp"),
            node_ip: node_ip.to_string(),
        });
    }
}

/// One advertised address of `nodeIp`.
fn check_advertised_ip(
    config: &Config,
    variant: &Variant,
    address: IpAddr,
    found: &mut Vec<Violation>,
) {
    let key = |path: &str| livekit_key(config, variant.name, path);
    let address = address.to_canonical();
    if let Some(kind) = not_unicast(address) {
        found.push(Violation::NodeIpNotUnicast {
            key: key("rtc.nodeIp"),
            value: address.to_string(),
            kind,
        });
    } else if variant.turn_enabled()
        && let Some(kind) = restricted(address)
    {
        let allowed = variant
            .livekit
            .turn
            .allow_restricted_peer_cidrs
            .iter()
            .filter_map(|cidr| cidr.parse::<IpNet>().ok())
            .any(|net| net.contains(&address));
        if !allowed {
            let example = match address {
                IpAddr::V4(_) => format!("{address}/32"),
                IpAddr::V6(_) => format!("{address}/128"),
            };
            found.push(Violation::NodeIpRestrictedForTurn {
                key: key("rtc.nodeIp"),
                value: address.to_string(),
                kind,
                allow_key: key("turn.allowRestrictedPeerCidrs"),
                example,
            });
        }
    }
}

/// The pin as written in `bundle.yaml` (its serde name).
fn pin_name(pin: PinLoadBalancerIp) -> String {
    serde_norway::to_value(pin)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// What `address` is if no single host has it.
fn not_unicast(address: IpAddr) -> Option<&'static str> {
    match address {
        _ if address.is_unspecified() => Some("the unspecified address"),
        _ if address.is_multicast() => Some("a multicast address"),
        IpAddr::V4(v4) if v4.is_broadcast() => Some("the broadcast address"),
        IpAddr::V4(v4) if v4.octets()[0] == 0 => Some("an address of \"this network\" (0.0.0.0/8)"),
        IpAddr::V4(v4) if v4.octets()[0] >= 240 => Some("a reserved address (240.0.0.0/4)"),
        _ => None,
    }
}

/// What `address` is if it is not reachable from the internet: the private, loopback and
/// link-local addresses LiveKit's TURN refuses as peers by default, and carrier-grade NAT's
/// shared space, which LiveKit relays to but no client outside the carrier can reach.
fn restricted(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) if v4.is_private() => Some("a private (RFC 1918) address"),
        IpAddr::V4(v4) if is_shared(v4) => Some("a carrier-grade NAT (RFC 6598) address"),
        IpAddr::V4(v4) if v4.is_loopback() => Some("a loopback address"),
        IpAddr::V4(v4) if v4.is_link_local() => Some("a link-local address"),
        IpAddr::V6(v6) if v6.is_unique_local() => Some("a unique local (RFC 4193) address"),
        IpAddr::V6(v6) if v6.is_loopback() => Some("the loopback address"),
        IpAddr::V6(v6) if v6.is_unicast_link_local() => Some("a link-local address"),
        _ => None,
    }
}

/// 100.64.0.0/10 (`Ipv4Addr::is_shared` is not stable yet).
fn is_shared(address: Ipv4Addr) -> bool {
    let [first, second, ..] = address.octets();
    first == 100 && (second & 0b1100_0000) == 0b0100_0000
}

/// `turn.relayPortRange` and `turn.allowRestrictedPeerCidrs`, written only where TURN is on.
fn check_turn_relay(config: &Config, variant: &Variant, found: &mut Vec<Violation>) {
    let turn = &variant.livekit.turn;
    let key = |path: &str| livekit_key(config, variant.name, path);
    let range = turn.relay_port_range;
    let service = media_service(&variant.livekit.rtc, "UDP");
    for (path, port) in [
        ("turn.relayPortRange.start", range.start),
        ("turn.relayPortRange.end", range.end),
    ] {
        if port < MIN_RELAY_PORT {
            found.push(Violation::RelayPortPrivileged {
                key: key(path),
                value: port,
                service,
            });
        }
    }
    if range.is_empty() {
        found.push(Violation::RelayPortRangeReversed {
            key: key("turn.relayPortRange"),
            start: range.start,
            end: range.end,
        });
    } else if range.len() > MAX_RELAY_PORTS {
        let largest = u16::try_from(MAX_RELAY_PORTS - 1).expect("a port count");
        found.push(Violation::RelayPortRangeTooLarge {
            key: key("turn.relayPortRange"),
            service,
            start: range.start,
            end: range.end,
            count: range.len(),
            suggested_end: range.start.saturating_add(largest),
        });
    }
    for cidr in &turn.allow_restricted_peer_cidrs {
        if cidr.parse::<IpNet>().is_err() {
            found.push(Violation::PeerCidrInvalid {
                key: key("turn.allowRestrictedPeerCidrs"),
                value: cidr.clone(),
            });
        }
    }
}

// ---- how the media ports leave the cluster ----------------------------------------------------

/// The NodePort range Kubernetes allocates from unless `--service-node-port-range` says
/// otherwise.
const NODE_PORT_MIN: u16 = 30000;
const NODE_PORT_MAX: u16 = 32767;

/// What publishes a media port of `protocol` besides the pod, as the messages name it.
fn media_exposure(livekit: &Livekit, protocol: &str) -> String {
    let service = media_service(&livekit.rtc, protocol);
    match (livekit.host_network, livekit.rtc.service_type) {
        (true, _) => "its node, on the host network,".to_owned(),
        (false, RtcServiceType::LoadBalancer) => format!("the `{service}` LoadBalancer"),
        (false, RtcServiceType::NodePort) => format!("the `{service}` NodePort Service"),
    }
}

/// What `nodeIp` is the address of, as the messages name it.
fn media_address(livekit: &Livekit) -> String {
    let rtc = &livekit.rtc;
    match (livekit.host_network, rtc.service_type, rtc.split_services) {
        (true, _, _) => "the node LiveKit runs on (the pod is on the host network)".to_owned(),
        (false, RtcServiceType::NodePort, _) => {
            "a node (the media Service is a NodePort)".to_owned()
        }
        (false, RtcServiceType::LoadBalancer, false) => media_exposure(livekit, "UDP"),
        (false, RtcServiceType::LoadBalancer, true) => format!(
            "the `{RTC_UDP_SERVICE}` and `{RTC_TCP_SERVICE}` LoadBalancers (one address for both)"
        ),
    }
}

/// `rtc.splitServices`, `rtc.serviceType`, `rtc.externalTrafficPolicy` and `hostNetwork`
/// together, and with TURN.
fn check_media_exposure(config: &Config, variant: &Variant, found: &mut Vec<Violation>) {
    let livekit = &variant.livekit;
    let rtc = &livekit.rtc;
    let key = |path: &str| livekit_key(config, variant.name, path);
    if livekit.host_network {
        if variant.turn_enabled() {
            found.push(Violation::HostNetworkWithTurn {
                key: key("hostNetwork"),
            });
        }
        for (path, value) in host_network_dropped_settings(livekit) {
            found.push(Violation::MediaServiceSettingWithHostNetwork {
                key: key(path),
                value,
                host_network_key: key("hostNetwork"),
            });
        }
        return;
    }
    match rtc.service_type {
        RtcServiceType::LoadBalancer => {
            if rtc.split_services && rtc.pin_load_balancer_ip == PinLoadBalancerIp::None {
                found.push(Violation::SplitServicesWithoutPin {
                    key: key("rtc.splitServices"),
                    pin_key: key("rtc.pinLoadBalancerIp"),
                });
            }
        }
        RtcServiceType::NodePort => {
            if variant.turn_enabled() {
                found.push(Violation::NodePortWithTurn {
                    key: key("rtc.serviceType"),
                });
            }
            if rtc.pin_load_balancer_ip != PinLoadBalancerIp::None {
                found.push(Violation::NodePortWithPin {
                    key: key("rtc.pinLoadBalancerIp"),
                    pin: pin_name(rtc.pin_load_balancer_ip),
                    type_key: key("rtc.serviceType"),
                });
            }
            for (path, port, suggested) in [
                ("rtc.udpPort", rtc.udp_port, NODE_PORT_MIN + 882),
                ("rtc.tcpPort", rtc.tcp_port, NODE_PORT_MIN + 881),
            ] {
                // Port 0 has its own guard.
                if port != 0 && !(NODE_PORT_MIN..=NODE_PORT_MAX).contains(&port) {
                    found.push(Violation::NodePortOutOfRange {
                        key: key(path),
                        value: port,
                        type_key: key("rtc.serviceType"),
                        suggested,
                    });
                }
            }
        }
    }
}

/// The media-Service settings written with a value other than their default, which the host
/// network would drop: `(path under livekit, value as YAML)`.
fn host_network_dropped_settings(livekit: &Livekit) -> Vec<(&'static str, String)> {
    let rtc = &livekit.rtc;
    let mut dropped = Vec::new();
    if rtc.split_services {
        dropped.push(("rtc.splitServices", "true".to_owned()));
    }
    if rtc.service_type != RtcServiceType::LoadBalancer {
        dropped.push((
            "rtc.serviceType",
            format!("`{}`", rtc.service_type.as_str()),
        ));
    }
    if rtc.pin_load_balancer_ip != PinLoadBalancerIp::None {
        dropped.push((
            "rtc.pinLoadBalancerIp",
            format!("`{}`", pin_name(rtc.pin_load_balancer_ip)),
        ));
    }
    if rtc.external_traffic_policy != ExternalTrafficPolicy::Cluster {
        dropped.push((
            "rtc.externalTrafficPolicy",
            format!("`{}`", rtc.external_traffic_policy.as_str()),
        ));
    }
    for (path, map) in [
        ("rtc.serviceLabels", &rtc.service_labels),
        ("rtc.serviceAnnotations", &rtc.service_annotations),
    ] {
        if !map.is_empty() {
            let entries: Vec<String> = map.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            dropped.push((path, format!("`{{{}}}`", entries.join(", "))));
        }
    }
    dropped
}

fn check_overlay_name_is_respected(config: &Config, variant: &Variant, found: &mut Vec<Violation>) {
    let overlay = variant.name.dir_name();
    let bundled = variant.livekit_bundled();
    if let Some(value) = variant.livekit.enabled
        && value != bundled
    {
        let (meaning, remedy) = if bundled {
            (
                "deploys LiveKit in the cluster",
                "; for an operator-managed LiveKit, list overlay `external` instead",
            )
        } else {
            (
                "uses an operator-managed LiveKit",
                "; to deploy LiveKit in the cluster, list overlay `bundled` or `bundled-turn`",
            )
        };
        found.push(Violation::LivekitEnabledContradictsOverlay {
            key: livekit_key(config, variant.name, "enabled"),
            value,
            overlay,
            meaning,
            remedy,
        });
    }
    if let Some(value) = variant.livekit.turn.enabled
        && value != variant.turn_enabled()
    {
        let (meaning, remedy) = match variant.name {
            OverlayName::Bundled => (
                "runs LiveKit without TURN",
                "; for TURN over TLS, list overlay `bundled-turn`",
            ),
            OverlayName::BundledTurn => (
                "runs LiveKit with TURN over TLS",
                "; without TURN, list overlay `bundled`",
            ),
            OverlayName::External => (
                "deploys no LiveKit, so no TURN either",
                "; configure TURN on the external LiveKit itself",
            ),
        };
        found.push(Violation::TurnEnabledContradictsOverlay {
            key: livekit_key(config, variant.name, "turn.enabled"),
            value,
            overlay,
            meaning,
            remedy,
        });
    }
}

/// Both bundled overlays build on `overlays/components/livekit`, so they can only differ in
/// what the turn component adds.
fn check_bundled_overlays_agree(config: &Config, found: &mut Vec<Violation>) {
    let (Some(bundled), Some(bundled_turn)) = (
        config.variants.get(&OverlayName::Bundled),
        config.variants.get(&OverlayName::BundledTurn),
    ) else {
        return;
    };
    let shared = |variant: &Variant| {
        let mut livekit = variant.livekit.clone();
        livekit.enabled = None;
        livekit.turn = Default::default();
        serde_norway::to_value(livekit).expect("LiveKit settings serialize")
    };
    if let Some((path, left, right)) = first_difference(&shared(bundled), &shared(bundled_turn)) {
        found.push(Violation::BundledOverlaysDiffer {
            key: format!("livekit.{path}"),
            bundled: left,
            bundled_turn: right,
        });
    }
}

/// The first leaf where two values differ: its dotted path and both sides as YAML.
fn first_difference(left: &Value, right: &Value) -> Option<(String, String, String)> {
    match (left, right) {
        (Value::Mapping(left_map), Value::Mapping(right_map)) => {
            let mut keys: Vec<&Value> = left_map.keys().chain(right_map.keys()).collect();
            keys.sort_by_key(|key| show(key));
            keys.dedup();
            for key in keys {
                let (left, right) = (left_map.get(key), right_map.get(key));
                if left == right {
                    continue;
                }
                let name = show(key);
                return match (left, right) {
                    (Some(left), Some(right)) => match first_difference(left, right) {
                        Some((path, l, r)) if !path.is_empty() => {
                            Some((format!("{name}.{path}"), l, r))
                        }
                        Some((_, l, r)) => Some((name, l, r)),
                        None => None,
                    },
                    (left, right) => Some((
                        name,
                        left.map_or_else(|| "unset".to_owned(), show),
                        right.map_or_else(|| "unset".to_owned(), show),
                    )),
                };
            }
            None
        }
        _ if left == right => None,
        _ => Some((String::new(), show(left), show(right))),
    }
}

fn show(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => serde_norway::to_string(other)
            .map(|text| text.trim_end().to_owned())
            .unwrap_or_default(),
    }
}

/// The key of a LiveKit setting as the operator wrote it: under the overlay's delta when the
/// delta sets it, else under the top-level `livekit`.
pub(crate) fn livekit_key(config: &Config, overlay: OverlayName, path: &str) -> String {
    let delta = config
        .raw
        .overlays
        .get(&overlay)
        .and_then(|delta| delta.livekit.as_ref());
    let in_delta = delta.is_some_and(|mut value| {
        path.split('.').all(|segment| match value.get(segment) {
            Some(inner) => {
                value = inner;
                true
            }
            None => false,
        })
    });
    if in_delta {
        format!("overlays.{}.livekit.{path}", overlay.dir_name())
    } else {
        format!("livekit.{path}")
    }
}

/// The `host[:port]` of a `wss://` URL, or `None` if the URL is not `wss://` with a host.
pub(crate) fn wss_authority(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("wss://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host);
    (!host.is_empty() && !authority.contains('@')).then_some(authority)
}

/// Checks an RFC 1123 host name as Kubernetes accepts it for an ingress host, and requires a
/// dot (a Matrix server name and a TURN domain are public, fully qualified names).
fn check_dns_name(name: &str) -> Result<(), &'static str> {
    if name.parse::<IpAddr>().is_ok() {
        return Err("it is an IP address");
    }
    if name.len() > 253 {
        return Err("it is longer than 253 characters");
    }
    if !name.contains('.') {
        return Err("it has no dot");
    }
    for label in name.split('.') {
        check_dns_label(label).map_err(|problem| match problem {
            LabelProblem::Empty | LabelProblem::TooLong => {
                "each dot-separated label must be 1 to 63 characters"
            }
            LabelProblem::BadCharacter => "labels may only hold lowercase letters, digits and `-`",
            LabelProblem::EdgeHyphen => "a label cannot start or end with `-`",
        })?;
    }
    Ok(())
}

/// How a name breaks the RFC 1123 label rule.
enum LabelProblem {
    Empty,
    TooLong,
    BadCharacter,
    EdgeHyphen,
}

/// Checks an RFC 1123 label as Kubernetes does (`IsDNS1123Label`): 1 to 63 lowercase letters,
/// digits and `-`, starting and ending with a letter or digit.
fn check_dns_label(label: &str) -> Result<(), LabelProblem> {
    if label.is_empty() {
        return Err(LabelProblem::Empty);
    }
    if !label
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(LabelProblem::BadCharacter);
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(LabelProblem::EdgeHyphen);
    }
    // Last, so that `TooLong` means "a valid label but for its length" (see
    // `check_dns_subdomain`, whose parts have no length limit).
    if label.len() > 63 {
        return Err(LabelProblem::TooLong);
    }
    Ok(())
}

/// `homeserver.appservices.existingSecret`, when set, must be a name the API accepts for a
/// Secret: the homeserver pod would otherwise never be created.
fn check_appservices(config: &Config, found: &mut Vec<Violation>) {
    let name = config.raw.homeserver.appservices.existing_secret.as_str();
    if name.is_empty() {
        return;
    }
    if let Err(reason) = check_dns_subdomain(name) {
        found.push(Violation::SecretNameInvalid {
            key: "homeserver.appservices.existingSecret".to_owned(),
            value: name.to_owned(),
            reason,
        });
    }
}

/// The keys of Secret data this overlay's LiveKit settings name.
fn check_secret_data_keys(config: &Config, variant: &Variant, found: &mut Vec<Violation>) {
    let livekit = &variant.livekit;
    let keys = &livekit.keys.existing_secret;
    let written = [
        (
            "keys.existingSecret.livekitKeysKey",
            Some(&keys.livekit_keys_key),
        ),
        (
            "keys.existingSecret.lkJwtKeyKey",
            keys.lk_jwt_key_key.as_ref(),
        ),
        ("turn.tls.certKey", Some(&livekit.turn.tls.cert_key)),
        ("turn.tls.keyKey", Some(&livekit.turn.tls.key_key)),
        (
            "redis.existingSecret.key",
            livekit
                .redis
                .as_ref()
                .and_then(|redis| redis.existing_secret.as_ref())
                .map(|secret| &secret.key),
        ),
    ];
    for (path, value) in written {
        if let Some(value) = value
            && let Err(reason) = check_secret_data_key(value)
        {
            found.push(Violation::SecretDataKeyInvalid {
                key: livekit_key(config, variant.name, path),
                value: value.clone(),
                reason,
            });
        }
    }
}

/// Checks a key of a Secret's data as Kubernetes does (`IsConfigMapKey`): 1 to 253
/// characters, letters, digits, `-`, `_` and `.`, and not `.`, `..` or starting with `..`.
fn check_secret_data_key(key: &str) -> Result<(), &'static str> {
    if key.is_empty() {
        return Err("it is empty");
    }
    if key.len() > 253 {
        return Err("it is longer than 253 characters");
    }
    if !key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err("it holds a character other than a letter, a digit, `-`, `_` or `.`");
    }
    if key == "." || key.starts_with("..") {
        return Err("it is `.`, or starts with `..`");
    }
    Ok(())
}

/// Checks a DNS-1123 subdomain as Kubernetes does for object names (`IsDNS1123Subdomain`): at
/// most 253 characters, dot-separated parts of lowercase letters, digits and `-`, each
/// starting and ending with a letter or digit (the parts have no length limit of their own).
fn check_dns_subdomain(name: &str) -> Result<(), &'static str> {
    if name.len() > 253 {
        return Err("it is longer than 253 characters");
    }
    for part in name.split('.') {
        match check_dns_label(part) {
            Ok(()) | Err(LabelProblem::TooLong) => {}
            Err(LabelProblem::Empty) => {
                return Err("it starts or ends with `.` or holds two dots in a row");
            }
            Err(LabelProblem::BadCharacter) => {
                return Err("it may only hold lowercase letters, digits, `-` and `.`");
            }
            Err(LabelProblem::EdgeHyphen) => {
                return Err("each dot-separated part must start and end with a letter or digit");
            }
        }
    }
    Ok(())
}

// ---- IP families, listen addresses and NetworkPolicy peers ----------------------------------

/// How `network.ipFamilyPolicy` reads in a message: its value, or what the API server makes
/// of it unset.
fn policy_text(network: &Network) -> String {
    match network.ip_family_policy {
        Some(policy) => format!("`{}`", policy.as_str()),
        None => "not set (the API server then makes every Service `SingleStack`)".to_owned(),
    }
}

/// `network` itself, and the homeserver's listen addresses against it.
fn check_network(config: &Config, found: &mut Vec<Violation>) {
    let network = &config.raw.network;
    let families = &network.ip_families;
    for (index, family) in families.iter().enumerate() {
        if families[..index].contains(family) {
            found.push(Violation::IpFamilyTwice {
                key: "network.ipFamilies".to_owned(),
                family: family.as_str(),
            });
        }
    }
    let both = [IpFamily::V4, IpFamily::V6]
        .iter()
        .all(|family| families.contains(family));
    if both
        && !network
            .ip_family_policy
            .is_some_and(IpFamilyPolicy::dual_stack)
    {
        found.push(Violation::IpFamiliesNeedDualStack {
            key: "network.ipFamilies".to_owned(),
            policy_key: "network.ipFamilyPolicy".to_owned(),
            policy: policy_text(network),
        });
    }

    let key = "homeserver.listenAddresses".to_owned();
    let addresses = &config.raw.homeserver.listen_addresses;
    let value = format!(
        "[{}]",
        addresses
            .iter()
            .map(|address| format!("\"{address}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let ipv6_wildcard = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
    if !addresses.iter().any(IpAddr::is_unspecified) {
        found.push(Violation::ListenAddressesWithoutWildcard { key, value });
    } else if !addresses.contains(&ipv6_wildcard) && network.may_use(IpFamily::V6) == Some(true) {
        let reason = match network.ip_family_policy {
            Some(policy) if policy.dual_stack() => format!(
                "`network.ipFamilyPolicy` is `{}`, which gives every Service an IPv6 address \
                 wherever the cluster has IPv6",
                policy.as_str()
            ),
            _ => "`network.ipFamilies` lists `IPv6`".to_owned(),
        };
        found.push(Violation::ListenAddressesWithoutIpv6 { key, value, reason });
    }
}

/// `nodeIp` against what the `livekit-rtc` LoadBalancer can get, and against TURN.
fn check_node_ip_families(config: &Config, variant: &Variant, found: &mut Vec<Violation>) {
    let rtc = &variant.livekit.rtc;
    let Some(node_ip) = rtc.node_ip() else {
        return;
    };
    let key = |path: &str| livekit_key(config, variant.name, path);
    let network = &config.raw.network;
    let dual_policy = network
        .ip_family_policy
        .is_some_and(IpFamilyPolicy::dual_stack);
    if node_ip.is_dual_stack() {
        if !dual_policy {
            found.push(Violation::DualStackNodeIpOnSingleStack {
                key: key("rtc.nodeIp"),
                value: node_ip.to_string(),
                policy_key: "network.ipFamilyPolicy".to_owned(),
                policy: policy_text(network),
            });
        }
        if rtc.pin_load_balancer_ip == PinLoadBalancerIp::Spec {
            found.push(Violation::PinSpecTakesOneAddress {
                key: key("rtc.pinLoadBalancerIp"),
                node_ip_key: key("rtc.nodeIp"),
                value: node_ip.to_string(),
            });
        }
    } else {
        for address in node_ip.addresses() {
            let family = IpFamily::of(address);
            if network.may_use(family) == Some(false) {
                let other = match family {
                    IpFamily::V4 => IpFamily::V6,
                    IpFamily::V6 => IpFamily::V4,
                };
                found.push(Violation::NodeIpFamilyNotOnService {
                    key: key("rtc.nodeIp"),
                    value: address.to_string(),
                    family: family.as_str(),
                    families_key: "network.ipFamilies".to_owned(),
                    other: other.as_str(),
                    policy_key: "network.ipFamilyPolicy".to_owned(),
                    policy: policy_text(network),
                });
            }
        }
    }
    if variant.turn_enabled() && node_ip.v4().is_none() {
        found.push(Violation::TurnWithoutIpv4NodeIp {
            key: key("rtc.nodeIp"),
            value: node_ip.to_string(),
        });
    }
}

/// `networkPolicy.ingressFrom`: each peer as Kubernetes accepts it, and no other setting it
/// silently replaces.
fn check_ingress_from(config: &Config, written: &dyn WrittenKeys, found: &mut Vec<Violation>) {
    let policy = &config.raw.network_policy;
    // Written at all, the default value included: it would be ignored just the same.
    if !policy.ingress_from.is_empty()
        && written.is_written("networkPolicy.ingressControllerNamespace")
    {
        found.push(Violation::ControllerNamespaceIgnored {
            key: "networkPolicy.ingressControllerNamespace".to_owned(),
            value: policy.ingress_controller_namespace.clone(),
            from_key: "networkPolicy.ingressFrom".to_owned(),
        });
    }
    for (index, peer) in policy.ingress_from.iter().enumerate() {
        let key = format!("networkPolicy.ingressFrom[{index}]");
        let selectors = [
            ("namespaceSelector", &peer.namespace_selector),
            ("podSelector", &peer.pod_selector),
        ];
        let has_selector = selectors.iter().any(|(_, selector)| selector.is_some());
        match &peer.ip_block {
            None if !has_selector => found.push(Violation::PeerEmpty { key: key.clone() }),
            Some(_) if has_selector => {
                found.push(Violation::PeerIpBlockWithSelector { key: key.clone() });
            }
            _ => {}
        }
        if let Some(block) = &peer.ip_block {
            let cidr = block.cidr.0;
            for except in &block.except {
                let inside = cidr.contains(&except.0) && except.0 != cidr;
                if !inside {
                    found.push(Violation::PeerExceptOutsideCidr {
                        key: format!("{key}.ipBlock.except"),
                        value: except.to_string(),
                        cidr: cidr.to_string(),
                    });
                }
            }
        }
        for (name, selector) in selectors {
            if let Some(selector) = selector {
                check_selector_labels(&format!("{key}.{name}"), selector, found);
            }
            let expressions = selector.iter().flat_map(|s| &s.match_expressions);
            for (position, expression) in expressions.enumerate() {
                let operator = expression.operator;
                let problem = match (operator.takes_values(), expression.values.is_empty()) {
                    (true, true) => format!(
                        "is empty, but operator `{}` needs values",
                        operator.as_str()
                    ),
                    (false, false) => format!(
                        "is set, but operator `{}` takes no values",
                        operator.as_str()
                    ),
                    _ => continue,
                };
                found.push(Violation::SelectorValuesMismatch {
                    key: format!("{key}.{name}.matchExpressions[{position}].values"),
                    problem,
                });
            }
        }
    }
}

/// The label keys and values of one selector, as the API server checks them.
fn check_selector_labels(key: &str, selector: &Selector, found: &mut Vec<Violation>) {
    let mut push = |field: String, value: &str, part, reason| {
        found.push(Violation::SelectorLabelInvalid {
            key: field,
            value: value.to_owned(),
            part,
            reason,
        });
    };
    for (label, value) in &selector.match_labels {
        let field = format!("{key}.matchLabels");
        if let Err(reason) = check_label_key(label) {
            push(field.clone(), label, "key", reason);
        }
        if let Err(reason) = check_label_value(value) {
            push(field, value, "value", reason);
        }
    }
    for (position, expression) in selector.match_expressions.iter().enumerate() {
        let field = format!("{key}.matchExpressions[{position}]");
        if let Err(reason) = check_label_key(&expression.key) {
            push(format!("{field}.key"), &expression.key, "key", reason);
        }
        for value in &expression.values {
            if let Err(reason) = check_label_value(value) {
                push(format!("{field}.values"), value, "value", reason);
            }
        }
    }
}

/// A label key as Kubernetes accepts it: an optional DNS-subdomain prefix and `/`, then a
/// name of at most 63 characters.
fn check_label_key(label: &str) -> Result<(), &'static str> {
    let name = match label.split_once('/') {
        Some((prefix, name)) => {
            if prefix.is_empty() || check_dns_subdomain(prefix).is_err() {
                return Err(
                    "the part before `/` must be a DNS subdomain of lowercase letters, digits, `-` and `.`",
                );
            }
            name
        }
        None => label,
    };
    if name.is_empty() {
        return Err("its name (after any `/`) is empty");
    }
    check_label_value(name)
}

/// A label value (and a key's name) as Kubernetes accepts it: empty, or at most 63 letters,
/// digits, `-`, `_` and `.`, starting and ending with a letter or digit.
fn check_label_value(value: &str) -> Result<(), &'static str> {
    if value.len() > 63 {
        return Err("it is longer than 63 characters");
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err("it may only hold letters, digits, `-`, `_` and `.`");
    }
    let edges = [value.chars().next(), value.chars().last()];
    if edges
        .into_iter()
        .flatten()
        .any(|c| !c.is_ascii_alphanumeric())
    {
        return Err("it must start and end with a letter or digit");
    }
    Ok(())
}

/// The settings Tuwunel's database caches are sized from.
fn check_homeserver_caches(config: &Config, found: &mut Vec<Violation>) {
    let homeserver = &config.raw.homeserver;
    if let Some(limit) = homeserver.resources.limits.get("memory")
        && memory_bytes(limit).is_none()
    {
        found.push(Violation::MemoryLimitNotAQuantity {
            key: "homeserver.resources.limits.memory".to_owned(),
            value: limit.clone(),
        });
    }
    if let Some(modifier) = homeserver.cache_capacity_modifier
        && !(modifier.is_finite() && modifier > 0.0)
    {
        found.push(Violation::CacheModifierNotPositive {
            key: "homeserver.cacheCapacityModifier".to_owned(),
            value: modifier.to_string(),
        });
    }
}

// ---- LiveKit scale-out: replicas, Redis and each node's own address -------------------------

/// `replicas` against what several nodes need: Redis, and media that reaches each node at an
/// address of its own (the host network, one pod per node), which rules out a shared
/// `nodeIp`, the one LoadBalancer, a NodePort Service and the one TURN name. Also
/// `rtc.nodeIpFrom`, which only the host network makes true.
fn check_scale_out(config: &Config, variant: &Variant, found: &mut Vec<Violation>) {
    let livekit = &variant.livekit;
    let rtc = &livekit.rtc;
    let key = |path: &str| livekit_key(config, variant.name, path);
    if rtc.node_ip_from.is_some() {
        if !livekit.host_network {
            found.push(Violation::NodeIpFromWithoutHostNetwork {
                key: key("rtc.nodeIpFrom"),
                host_network_key: key("hostNetwork"),
            });
        }
        let others = [
            ("rtc.nodeIp", rtc.node_ip().is_some()),
            ("rtc.useExternalIp", rtc.use_external_ip),
        ];
        for (path, _) in others.into_iter().filter(|(_, set)| *set) {
            found.push(Violation::NodeIpFromWithAnotherSource {
                key: key("rtc.nodeIpFrom"),
                other: key(path),
            });
        }
    }
    let replicas = livekit.replicas;
    if replicas == 0 {
        found.push(Violation::ReplicasZero {
            key: key("replicas"),
        });
    }
    if replicas <= 1 {
        return;
    }
    let replicas_key = key("replicas");
    if livekit.redis.is_none() {
        found.push(Violation::ReplicasWithoutRedis {
            key: key("redis"),
            replicas_key: replicas_key.clone(),
            replicas,
        });
    }
    if variant.turn_enabled() {
        found.push(Violation::ReplicasWithTurn {
            key: replicas_key.clone(),
            replicas,
        });
    }
    if let Some(node_ip) = rtc.node_ip() {
        found.push(Violation::ReplicasWithNodeIp {
            key: key("rtc.nodeIp"),
            value: node_ip.to_string(),
            replicas_key: replicas_key.clone(),
            replicas,
        });
    } else if rtc.node_ip_from.is_none() && !rtc.use_external_ip {
        found.push(Violation::ReplicasWithoutNodeAddress {
            key: key("rtc.nodeIpFrom"),
            replicas_key: replicas_key.clone(),
            replicas,
        });
    }
    // The host network has its own guards against media-Service settings.
    if livekit.host_network {
        return;
    }
    match rtc.service_type {
        RtcServiceType::LoadBalancer => found.push(Violation::ReplicasBehindOneLoadBalancer {
            key: key("hostNetwork"),
            replicas_key,
            replicas,
        }),
        RtcServiceType::NodePort => found.push(Violation::ReplicasWithNodePort {
            key: key("rtc.serviceType"),
            replicas_key,
            replicas,
        }),
    }
}

/// `livekit.redis`, wherever it is set: the bundled LiveKit and lk-jwt connect to it.
fn check_redis(config: &Config, variant: &Variant, found: &mut Vec<Violation>) {
    let Some(redis) = &variant.livekit.redis else {
        return;
    };
    if redis.bundled {
        check_bundled_redis(config, variant, redis, found);
        return;
    }
    let key = |path: &str| livekit_key(config, variant.name, path);
    let sentinel_key = key("redis.sentinelAddresses");
    let master_key = key("redis.sentinelMasterName");
    match (redis.address.is_empty(), redis.sentinel()) {
        (true, false) => found.push(Violation::RedisServerMissing {
            key: key("redis.address"),
            sentinel_key: sentinel_key.clone(),
        }),
        (false, true) => found.push(Violation::RedisAddressWithSentinel {
            key: key("redis.address"),
            sentinel_key: sentinel_key.clone(),
        }),
        _ => {}
    }
    match (redis.sentinel(), redis.sentinel_master_name.is_empty()) {
        (true, true) => found.push(Violation::SentinelIncomplete {
            key: sentinel_key.clone(),
            missing: master_key,
        }),
        (false, false) => found.push(Violation::SentinelIncomplete {
            key: master_key,
            missing: sentinel_key.clone(),
        }),
        _ => {}
    }
    let addresses = std::iter::once((key("redis.address"), &redis.address))
        .filter(|(_, address)| !address.is_empty())
        .chain(
            redis
                .sentinel_addresses
                .iter()
                .map(|address| (sentinel_key.clone(), address)),
        );
    for (address_key, address) in addresses {
        if let Err(reason) = check_host_port(address) {
            found.push(Violation::RedisAddressInvalid {
                key: address_key,
                value: address.clone(),
                reason,
            });
        }
    }
    if let Some(secret) = &redis.existing_secret
        && let Err(reason) = check_dns_subdomain(&secret.name)
    {
        found.push(Violation::SecretNameInvalid {
            key: key("redis.existingSecret.name"),
            value: secret.name.clone(),
            reason,
        });
    }
}

/// `livekit.redis.bundled`: the tree's Valkey is the whole server, so none of the settings of
/// an operator's server may be written, its image must be pinned, and its NetworkPolicy must be
/// able to admit LiveKit.
fn check_bundled_redis(
    config: &Config,
    variant: &Variant,
    redis: &Redis,
    found: &mut Vec<Violation>,
) {
    let key = |path: &str| livekit_key(config, variant.name, path);
    let bundled_key = key("redis.bundled");
    let server_settings = [
        ("redis.address", !redis.address.is_empty()),
        ("redis.existingSecret", redis.existing_secret.is_some()),
        ("redis.tls", redis.tls),
        (
            "redis.sentinelMasterName",
            !redis.sentinel_master_name.is_empty(),
        ),
        ("redis.sentinelAddresses", redis.sentinel()),
    ];
    for (path, _) in server_settings.into_iter().filter(|(_, set)| *set) {
        found.push(Violation::BundledRedisWithServerSetting {
            key: key(path),
            bundled_key: bundled_key.clone(),
        });
    }
    if config.raw.images.pin(ImageName::VALKEY).is_none() {
        found.push(Violation::BundledRedisImageMissing {
            key: format!("images.{}", ImageName::VALKEY.key()),
            bundled_key: bundled_key.clone(),
        });
    }
    if variant.livekit_bundled()
        && variant.livekit.host_network
        && config.raw.network_policy.enabled
    {
        found.push(Violation::BundledRedisWithHostNetwork {
            key: key("hostNetwork"),
            bundled_key,
        });
    }
}

/// `host:port` as Go's `net.Dial` reads it: a host name or IPv4 address, or an IPv6 address
/// in brackets, and a port from 1 to 65535.
fn check_host_port(address: &str) -> Result<(), &'static str> {
    let Some((host, port)) = address.rsplit_once(':') else {
        return Err("it has no `:port`");
    };
    if port.parse::<u16>().map_or(true, |port| port == 0) {
        return Err("its port is not a number from 1 to 65535");
    }
    if let Some(inside) = host.strip_prefix('[') {
        return match inside.strip_suffix(']').map(str::parse::<Ipv6Addr>) {
            Some(Ok(_)) => Ok(()),
            _ => Err("what is in brackets is not an IPv6 address"),
        };
    }
    if host.contains(':') {
        return Err("an IPv6 address must be written in brackets");
    }
    if host.parse::<Ipv4Addr>().is_ok() {
        return Ok(());
    }
    // A cluster-internal Service name may have no dot (`redis`), unlike a public name; DNS
    // names compare without case.
    let labels_ok = host
        .to_ascii_lowercase()
        .split('.')
        .all(|label| check_dns_label(label).is_ok());
    if host.is_empty() || !labels_ok {
        return Err("its host is neither an IP address nor a DNS name");
    }
    Ok(())
}
