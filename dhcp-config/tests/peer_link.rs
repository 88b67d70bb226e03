//! xdhcpd's peer-link statements in a `failover peer` block: `auth-key` and the TLS files.

use dhcp_config::{ErrorKind, KeyAlgorithm, MemoryLoader, Parsed, PeerTls, parse_str};

fn conf(key_alg: &str, peer_extra: &str) -> String {
    format!(
        "key peerkey {{ algorithm {key_alg}; secret \"c2VjcmV0c2VjcmV0c2VjcmV0\"; }}\n\
         failover peer \"lab\" {{ primary; address 198.18.0.1; peer address 198.18.0.2; mclt 60; split 128;\n\
         {peer_extra}\n}}\n\
         subnet 198.18.0.0 netmask 255.255.255.0 {{ pool {{ failover peer \"lab\"; range 198.18.0.100 198.18.0.199; }} }}\n"
    )
}

fn parse(text: &str) -> Result<Parsed, dhcp_config::ConfigErrors> {
    parse_str("dhcpd.conf", text, &MemoryLoader::default())
}

#[test]
fn auth_key_and_tls_are_read() {
    let p = parse(&conf(
        "hmac-sha256",
        "auth-key peerkey; tls-certificate \"/etc/x/me.pem\"; tls-key \"/etc/x/me.key\"; tls-ca \"/etc/x/ca.pem\";",
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let peer = p.config.failover_peer("lab").expect("peer");
    assert_eq!(peer.auth_key.as_deref(), Some("peerkey"));
    assert_eq!(
        peer.tls,
        Some(PeerTls { certificate: "/etc/x/me.pem".into(), key: "/etc/x/me.key".into(), ca: "/etc/x/ca.pem".into() })
    );
    let k = p.config.key("peerkey").expect("key");
    assert_eq!(k.algorithm, KeyAlgorithm::HmacSha256);
    assert_eq!(k.secret, b"secretsecretsecret");
}

#[test]
fn off_by_default() {
    let p = parse(&conf("hmac-sha256", "")).unwrap_or_else(|e| panic!("{e}"));
    let peer = p.config.failover_peer("lab").expect("peer");
    assert_eq!(peer.auth_key, None);
    assert_eq!(peer.tls, None);
}

#[test]
fn auth_key_must_name_an_hmac_sha256_key() {
    let e = parse(&conf("hmac-md5", "auth-key peerkey;")).expect_err("an md5 key must be refused");
    assert!(matches!(&e.errors[0].kind, ErrorKind::KeyAlgorithm { wanted, .. } if wanted == "hmac-sha256"), "{e}");
    assert!(e.to_string().contains("auth-key needs an hmac-sha256 key"), "{e}");
    let e = parse(&conf("hmac-sha256", "auth-key otherkey;")).expect_err("unknown key");
    assert!(matches!(&e.errors[0].kind, ErrorKind::UnknownKey { name } if name == "otherkey"), "{e}");
}

#[test]
fn omapi_key_must_stay_hmac_md5() {
    let text = format!("{}omapi-key peerkey;\n", conf("hmac-sha256", ""));
    let e = parse(&text).expect_err("OMAPI cannot use a sha256 key");
    assert!(e.to_string().contains("omapi-key needs an hmac-md5 key"), "{e}");
}

#[test]
fn tls_needs_all_three_files() {
    let e = parse(&conf("hmac-sha256", "tls-certificate \"a\"; tls-key \"b\";")).expect_err("no CA");
    assert!(e.to_string().contains("tls-ca"), "{e}");
}
