//! Structural checks run before a message reaches the DHCP decoder.
//!
//! dhcproto 0.15 trusts option lengths for fixed-size options (it reads a u32 whatever the
//! length byte says, with only a `debug_assert`), so a hostile length desynchronises its
//! parse. Every option is checked here against its RFC size first; a message that fails is a
//! counted drop (`Malformed`), never a panic.

/// Why a message was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Insane {
    #[error("shorter than the 236-byte BOOTP header plus magic cookie")]
    TooShort,
    #[error("hlen {0} exceeds the 16-byte chaddr field")]
    BadHlen(u8),
    #[error("missing DHCP magic cookie")]
    NoCookie,
    #[error("option {code} runs past the end of the message")]
    Truncated { code: u8 },
    #[error("option {code} has length {len}, invalid for its type")]
    BadLength { code: u8, len: u8 },
}

/// Required length of option `code`: exact, at least, or a multiple of.
enum Size {
    Exact(u8),
    AtLeast(u8),
    MultipleOf(u8),
    Any,
}

fn size_of(code: u8) -> Size {
    use Size::*;
    match code {
        1 | 2 | 16 | 24 | 28 | 32 | 35 | 38 | 50 | 51 | 54 | 58 | 59 | 91 | 118 | 152..=155 => Exact(4),
        13 | 22 | 26 | 57 | 93 => Exact(2),
        19 | 20 | 23 | 27 | 29 | 30 | 31 | 34 | 36 | 37 | 39 | 46 | 52 | 53 | 116 | 156 | 157 => Exact(1),
        80 => Exact(0),
        94 => Exact(3),
        3..=11 | 41 | 42 | 44 | 45 | 48 | 49 | 65 | 68..=76 | 92 | 150 => MultipleOf(4),
        21 | 33 => MultipleOf(8),
        25 => MultipleOf(2),
        55 | 61 | 12 | 15 | 60 => AtLeast(1),
        81 => AtLeast(3),
        151 => AtLeast(1),
        _ => Any,
    }
}

/// Check a UDP payload claimed to be a BOOTP/DHCP message.
pub fn check(msg: &[u8]) -> Result<(), Insane> {
    if msg.len() < 240 {
        // Plain BOOTP (no cookie) still needs the fixed header.
        if msg.len() >= 236 && msg.get(2).is_some_and(|h| *h <= 16) {
            return Ok(());
        }
        return Err(Insane::TooShort);
    }
    let hlen = msg[2];
    if hlen > 16 {
        return Err(Insane::BadHlen(hlen));
    }
    if msg[236..240] != [99, 130, 83, 99] {
        return Err(Insane::NoCookie);
    }
    let mut i = 240;
    while let Some(&code) = msg.get(i) {
        match code {
            0 => {
                i += 1;
                continue;
            }
            255 => break,
            _ => {}
        }
        let len = *msg.get(i + 1).ok_or(Insane::Truncated { code })?;
        if msg.len() < i + 2 + len as usize {
            return Err(Insane::Truncated { code });
        }
        let ok = match size_of(code) {
            Size::Exact(n) => len == n,
            Size::AtLeast(n) => len >= n,
            Size::MultipleOf(n) => len % n == 0 && len > 0,
            Size::Any => true,
        };
        if !ok {
            return Err(Insane::BadLength { code, len });
        }
        i += 2 + len as usize;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<u8> {
        let mut m = vec![0u8; 240];
        m[0] = 1;
        m[2] = 6;
        m[236..240].copy_from_slice(&[99, 130, 83, 99]);
        m
    }

    #[test]
    fn accepts_a_discover() {
        let mut m = base();
        m.extend_from_slice(&[53, 1, 1, 61, 7, 1, 2, 3, 4, 5, 6, 7, 55, 2, 1, 3, 255]);
        assert_eq!(check(&m), Ok(()));
    }

    #[test]
    fn rejects_bad_lengths_and_truncation() {
        let mut m = base();
        m.extend_from_slice(&[91, 2, 0, 0, 255]);
        assert_eq!(check(&m), Err(Insane::BadLength { code: 91, len: 2 }));
        let mut m = base();
        m.extend_from_slice(&[61, 9, 1]);
        assert_eq!(check(&m), Err(Insane::Truncated { code: 61 }));
        let mut m = base();
        m[2] = 17;
        assert_eq!(check(&m), Err(Insane::BadHlen(17)));
    }
}
