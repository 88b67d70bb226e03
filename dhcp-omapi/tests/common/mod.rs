//! Shared helpers: the captured omshell session and its key.
#![allow(dead_code)]

use dhcp_omapi::Key;

/// One direction-tagged chunk of the relay log.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub from_client: bool,
    pub bytes: Vec<u8>,
}

pub fn relay_log() -> Vec<Chunk> {
    let text = include_str!("../captures/omapi_relay.log");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (dir, hex_str) = l.split_once(' ').expect("direction and hex");
            Chunk { from_client: dir == "C>S", bytes: hex::decode(hex_str.trim()).expect("hex") }
        })
        .collect()
}

/// The key from omcmds.txt (`key omkey <base64>`), which equals primary.conf's secret.
pub fn capture_key() -> Key {
    let cmds = include_str!("../captures/omcmds.txt");
    let line = cmds.lines().find(|l| l.starts_with("key ")).expect("key line");
    let mut parts = line.split_whitespace().skip(1);
    let name = parts.next().expect("name");
    let secret = parts.next().expect("secret");
    Key::from_config(name, "hmac-md5", secret).expect("key")
}

/// The secret as written in primary.conf.
pub fn conf_secret() -> String {
    let conf = include_str!("../captures/primary.conf");
    let line = conf.lines().find(|l| l.trim_start().starts_with("secret")).expect("secret line");
    line.split('"').nth(1).expect("quoted").to_owned()
}
