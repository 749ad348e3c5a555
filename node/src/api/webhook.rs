//! Where webhook deliveries may go.
//!
//! Any API user with the manage right chooses a subscription's `dest`, and the node POSTs to
//! it from inside the operator's network. Left unchecked, a subscription could make the node
//! send requests to its own loopback services, to a cloud metadata address (169.254.169.254)
//! or into the private network behind it (server-side request forgery). So unless the
//! operator allows private destinations (`api.webhook_private_destinations = true` in
//! `node.toml`; the devnet sets it, its receivers are on 127.0.0.1):
//!
//! - a `dest` whose host is an internal IP address ([`is_internal`]) or `localhost` is refused
//!   when the subscription is created (400 naming `dest`), and again before each delivery;
//! - a host name is resolved by [`PublicResolver`], which drops internal addresses, so a name
//!   that resolves to one (or starts to, DNS rebinding) fails delivery with a logged reason;
//! - redirects are not followed (a 3xx answer is a failed delivery, retried like any other),
//!   so a public `dest` cannot bounce the request to an internal one;
//! - the system's proxy settings (`HTTP_PROXY`, …) are ignored: a proxy would resolve the name
//!   itself, out of the resolver's sight.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// True for an address a webhook must not reach unless private destinations are allowed:
/// loopback, unspecified, private (RFC 1918), shared (RFC 6598), link-local, IETF protocol
/// assignments, benchmarking (198.18.0.0/15), multicast, broadcast and reserved IPv4;
/// loopback, unspecified, unique-local, link-local, site-local, multicast and local-use NAT64
/// (`64:ff9b:1::/48`) IPv6; and IPv6 addresses that embed such an IPv4 address
/// (IPv4-mapped, IPv4-translated, IPv4-compatible, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`).
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => internal_v4(ip),
        IpAddr::V6(ip) => {
            let segments = ip.segments();
            let embedded = || {
                let octets = ip.octets();
                Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15])
            };
            if let Some(mapped) = ip.to_ipv4_mapped() {
                return internal_v4(mapped);
            }
            if segments[..6] == [0, 0, 0, 0, 0, 0]
                || segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
                || segments[..6] == [0, 0, 0, 0, 0xffff, 0]
            {
                // IPv4-compatible (deprecated; `::` and `::1` fall here too), NAT64 and
                // IPv4-translated.
                return ip.is_loopback() || ip.is_unspecified() || internal_v4(embedded());
            }
            if segments[0] == 0x2002 {
                // 6to4: the IPv4 address is in bits 16..48.
                let octets = ip.octets();
                return internal_v4(Ipv4Addr::new(octets[2], octets[3], octets[4], octets[5]));
            }
            ip.is_loopback()
                || segments[..3] == [0x64, 0xff9b, 1]
                || ip.is_unspecified()
                || ip.is_multicast()
                || segments[0] & 0xfe00 == 0xfc00
                || segments[0] & 0xffc0 == 0xfe80
                || segments[0] & 0xffc0 == 0xfec0
        }
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [first, second, third, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || first == 0
        || (first == 100 && second & 0xc0 == 64)
        || (first == 192 && second == 0 && third == 0)
        || (first == 198 && second & 0xfe == 18)
        || first >= 240
}

/// Why `dest` may not receive deliveries, if it may not: its host is an internal IP address
/// or `localhost` and `allow_private` is off. Host names are judged when they are resolved
/// ([`PublicResolver`]).
pub fn refused(dest: &reqwest::Url, allow_private: bool) -> Option<String> {
    if allow_private {
        return None;
    }
    let host = dest.host_str()?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let internal = match bare.parse::<IpAddr>() {
        Ok(ip) => is_internal(ip),
        Err(_) => {
            let name = bare.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
    };
    internal.then(|| {
        format!(
            "`{dest}` is on a loopback, private or link-local network; webhooks may go there \
             only if the node's operator sets api.webhook_private_destinations = true"
        )
    })
}

/// Resolves webhook host names with the system resolver and drops internal addresses
/// ([`is_internal`]); a name with no other address fails to resolve, naming the reason.
#[derive(Clone, Copy, Debug, Default)]
pub struct PublicResolver;

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let public: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|address| !is_internal(address.ip()))
                .collect();
            if public.is_empty() {
                return Err(format!(
                    "`{host}` resolves only to loopback, private or link-local addresses \
                     (api.webhook_private_destinations is off)"
                )
                .into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP client for deliveries: no redirects, a `timeout` per request, and unless
/// `allow_private`, [`PublicResolver`] and no proxy.
///
/// # Errors
///
/// The client cannot be built (its TLS backend failed); deliveries then fail with this
/// reason instead of going out unguarded.
pub fn client(
    timeout: std::time::Duration,
    allow_private: bool,
) -> Result<reqwest::Client, String> {
    let builder = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none());
    let builder = if allow_private {
        builder
    } else {
        builder.no_proxy().dns_resolver(PublicResolver)
    };
    builder
        .build()
        .map_err(|error| format!("cannot build the webhook HTTP client: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::dns::Resolve;

    #[test]
    fn internal_addresses_are_recognised() {
        let internal = [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "192.0.0.8",
            "198.18.0.1",
            "198.19.255.254",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "::ffff:0:a00:1",
            "2002:a00:1::1",
            "2002:7f00:1::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
        ];
        let public = [
            "8.8.8.8",
            "172.32.0.1",
            "172.15.255.255",
            "100.128.0.1",
            "192.0.2.10",
            "192.169.0.1",
            "1.1.1.1",
            "2001:db8::1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "198.20.0.1",
            "198.17.255.255",
        ];
        for text in internal {
            assert!(is_internal(text.parse().unwrap()), "{text} is internal");
        }
        for text in public {
            assert!(!is_internal(text.parse().unwrap()), "{text} is public");
        }
    }

    #[test]
    fn internal_destinations_are_refused_unless_allowed() {
        for dest in [
            "http://127.0.0.1:9/hook",
            "http://[::1]:9/hook",
            "https://[::ffff:192.168.0.1]/hook",
            "http://localhost:8080/hook",
            "http://LOCALHOST./hook",
            "http://api.localhost/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.7/hook",
        ] {
            let url = reqwest::Url::parse(dest).unwrap();
            let reason = refused(&url, false).unwrap_or_else(|| panic!("{dest} refused"));
            assert!(reason.contains("webhook_private_destinations"), "{reason}");
            assert_eq!(refused(&url, true), None, "{dest} allowed");
        }
        for dest in [
            "https://partner.example/hook",
            "http://192.0.2.10:8080/hook",
            "https://[2001:db8::1]/hook",
        ] {
            let url = reqwest::Url::parse(dest).unwrap();
            assert_eq!(refused(&url, false), None, "{dest}");
        }
    }

    #[tokio::test]
    async fn the_resolver_drops_internal_addresses() {
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let error = match PublicResolver.resolve(name).await {
            Ok(addresses) => panic!("localhost resolved to {:?}", addresses.collect::<Vec<_>>()),
            Err(error) => error.to_string(),
        };
        assert!(error.contains("resolves only to loopback"), "{error}");
    }
}
