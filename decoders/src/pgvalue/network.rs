//! `inet`, `cidr`, `macaddr` and `macaddr8`, text and binary.
//!
//! ```text
//!   inet      192.168.0.1 | 192.168.0.1/24 | ::ffff:1.2.3.4 | fe80::1/64
//!   cidr      10.0.0.0/8 | fe80::/10          (always with a prefix)
//!   macaddr   08:00:2b:01:02:03
//!   macaddr8  08:00:2b:01:02:03:04:05
//! ```
//!
//! Invariant: an inet without `/n` is a host address, so its prefix length is
//! the full address width (32 or 128); a prefix is never wider than its address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::change::Inet;

use super::error::Problem;

/// `cidr`: the value is of a cidr column (its text always shows the prefix).
pub(crate) fn parse_inet(text: &str, cidr: bool) -> Result<Inet, Problem> {
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (text, None),
    };
    let address: IpAddr = address.parse().map_err(|_| "expected an IPv4 or IPv6 address")?;
    let width = address_width(address);
    let prefix_length = match prefix {
        None => width,
        Some(prefix) => prefix
            .parse::<u8>()
            .ok()
            .filter(|length| *length <= width && prefix.bytes().all(|byte| byte.is_ascii_digit()))
            .ok_or_else(|| format!("expected a prefix length from 0 to {width} after '/'"))?,
    };
    Ok(Inet { address, prefix_length, cidr })
}

/// `inet_send`: family (2 = IPv4, 3 = IPv6), prefix bits, is-cidr flag,
/// address length, address bytes.
pub(crate) fn decode_inet_binary(bytes: &[u8]) -> Result<Inet, Problem> {
    const FAMILY_IPV4: u8 = 2;
    const FAMILY_IPV6: u8 = 3;
    let [family, prefix_length, is_cidr, length, address @ ..] = bytes else {
        return Err("shorter than the 4-byte header".into());
    };
    if usize::from(*length) != address.len() {
        return Err(format!("header announces {length} address bytes, {} follow", address.len()).into());
    }
    let address = match (*family, address) {
        (FAMILY_IPV4, address) => {
            IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(address).map_err(|_| "an IPv4 address needs 4 bytes")?))
        }
        (FAMILY_IPV6, address) => {
            IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(address).map_err(|_| "an IPv6 address needs 16 bytes")?))
        }
        (other, _) => return Err(format!("unknown address family {other}").into()),
    };
    if *prefix_length > address_width(address) {
        return Err(format!("prefix length {prefix_length} is wider than the address").into());
    }
    Ok(Inet { address, prefix_length: *prefix_length, cidr: *is_cidr != 0 })
}

fn address_width(address: IpAddr) -> u8 {
    match address {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// `N` colon-separated pairs of hex digits (6 for macaddr, 8 for macaddr8).
pub(crate) fn parse_mac<const N: usize>(text: &str) -> Result<[u8; N], Problem> {
    let malformed = || Problem::from(format!("expected {N} colon-separated pairs of hex digits"));
    let mut address = [0_u8; N];
    let mut groups = text.split(':');
    for slot in &mut address {
        let group = groups.next().ok_or_else(malformed)?;
        if group.len() != 2 || !group.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(malformed());
        }
        *slot = u8::from_str_radix(group, 16).map_err(|_| malformed())?;
    }
    match groups.next() {
        Some(_) => Err(malformed()),
        None => Ok(address),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inet(address: &str, prefix_length: u8) -> Result<Inet, Problem> {
        let address = address.parse().map_err(|_| Problem::from("test address"))?;
        Ok(Inet { address, prefix_length, cidr: false })
    }

    fn cidr(address: &str, prefix_length: u8) -> Result<Inet, Problem> {
        inet(address, prefix_length).map(|inet| Inet { cidr: true, ..inet })
    }

    #[test]
    fn inet_and_cidr_text() {
        // SELECT '192.168.0.1/32'::inet, '192.168.0.1/24'::inet, '10.0.0.0/8'::cidr, '::1'::inet,
        //        '::ffff:1.2.3.4'::inet, 'fe80::/10'::cidr
        assert_eq!(parse_inet("192.168.0.1", false), inet("192.168.0.1", 32));
        assert_eq!(parse_inet("192.168.0.1/24", false), inet("192.168.0.1", 24));
        assert_eq!(parse_inet("10.0.0.0/8", true), cidr("10.0.0.0", 8));
        assert_eq!(parse_inet("::1", false), inet("::1", 128));
        assert_eq!(parse_inet("::ffff:1.2.3.4", false), inet("::ffff:1.2.3.4", 128));
        assert_eq!(parse_inet("fe80::/10", true), cidr("fe80::", 10));
        assert_eq!(parse_inet("0.0.0.0/0", false), inet("0.0.0.0", 0));
        for text in ["", "192.168.0.1/33", "::1/129", "192.168.0.1/", "192.168.0.1/+8", "300.0.0.1", "fe80::1%eth0"] {
            assert!(parse_inet(text, false).is_err(), "{text:?}");
        }
    }

    #[test]
    fn inet_and_cidr_print_as_postgresql_does() {
        // SELECT '::1'::inet, '::1'::cidr, '192.168.0.1/32'::inet, '192.168.0.1/24'::inet,
        //        '10.0.0.0/8'::cidr, '::ffff:1.2.3.4'::inet
        let text = |inet: Result<Inet, Problem>| inet.map(|inet| inet.to_string());
        assert_eq!(text(inet("::1", 128)), Ok("::1".to_owned()));
        assert_eq!(text(cidr("::1", 128)), Ok("::1/128".to_owned()));
        assert_eq!(text(inet("192.168.0.1", 32)), Ok("192.168.0.1".to_owned()));
        assert_eq!(text(inet("192.168.0.1", 24)), Ok("192.168.0.1/24".to_owned()));
        assert_eq!(text(cidr("10.0.0.0", 8)), Ok("10.0.0.0/8".to_owned()));
        assert_eq!(text(inet("::ffff:1.2.3.4", 128)), Ok("::ffff:1.2.3.4".to_owned()));
    }

    #[test]
    fn inet_binary() {
        assert_eq!(decode_inet_binary(&[2, 24, 0, 4, 192, 168, 0, 1]), inet("192.168.0.1", 24));
        assert_eq!(decode_inet_binary(&[2, 8, 1, 4, 10, 0, 0, 0]), cidr("10.0.0.0", 8));
        let mut ipv6 = vec![3, 128, 0, 16];
        ipv6.extend([0; 15]);
        ipv6.push(1);
        assert_eq!(decode_inet_binary(&ipv6), inet("::1", 128));
        assert!(decode_inet_binary(&[2, 33, 0, 4, 1, 2, 3, 4]).is_err());
        assert!(decode_inet_binary(&[2, 8, 0, 4, 1, 2, 3]).is_err());
        assert!(decode_inet_binary(&[2, 8, 0, 3, 1, 2, 3]).is_err());
        assert!(decode_inet_binary(&[9, 8, 0, 4, 1, 2, 3, 4]).is_err());
        assert!(decode_inet_binary(&[2, 8]).is_err());
    }

    #[test]
    fn mac_addresses() {
        // SELECT '08:00:2b:01:02:03'::macaddr, '08:00:2b:01:02:03:04:05'::macaddr8
        assert_eq!(parse_mac::<6>("08:00:2b:01:02:03"), Ok([8, 0, 0x2b, 1, 2, 3]));
        assert_eq!(parse_mac::<8>("08:00:2b:01:02:03:04:05"), Ok([8, 0, 0x2b, 1, 2, 3, 4, 5]));
        assert_eq!(parse_mac::<6>("FF:ff:00:00:00:00"), Ok([255, 255, 0, 0, 0, 0]));
        for text in
            ["", "08:00:2b:01:02", "08:00:2b:01:02:03:04", "08-00-2b-01-02-03", "8:00:2b:01:02:03", "08:00:2b:01:02:+3"]
        {
            assert!(parse_mac::<6>(text).is_err(), "{text:?}");
        }
    }
}
