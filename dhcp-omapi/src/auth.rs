//! OMAPI authentication keys and the HMAC-MD5 message signature.
//!
//! `signature = HMAC(secret, message bytes from offset 4 (authlen) through the object-list
//! terminator)`. The authid field is not covered; `authlen` is.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use md5::Md5;

use crate::wire::{Decoded, EncodeError, Message};

type HmacMd5 = Hmac<Md5>;

/// Signature algorithms. dhcpd also knows the HMAC-SHA family; only HMAC-MD5 is supported here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    HmacMd5,
}

impl Algorithm {
    /// The name as it travels in the authenticator object (omshell appends `.SIG-ALG.REG.INT.`).
    pub fn wire_name(self) -> &'static str {
        match self {
            Algorithm::HmacMd5 => "hmac-md5.SIG-ALG.REG.INT.",
        }
    }

    /// Parse an algorithm name, case-insensitively, with or without the `.SIG-ALG.REG.INT.`
    /// suffix (dhcpd.conf writes `hmac-md5`, omshell sends the long form).
    pub fn from_name(name: &str) -> Option<Algorithm> {
        let n = name.trim_end_matches('\0');
        if n.eq_ignore_ascii_case("hmac-md5")
            || n.eq_ignore_ascii_case("hmac-md5.SIG-ALG.REG.INT.")
            || n.eq_ignore_ascii_case("hmac-md5.SIG-ALG.REG.INT")
        {
            Some(Algorithm::HmacMd5)
        } else {
            None
        }
    }

    /// Signature length in bytes (the `authlen` of signed messages).
    pub fn digest_len(self) -> usize {
        match self {
            Algorithm::HmacMd5 => 16,
        }
    }
}

/// Errors building a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("key secret is not valid base64")]
    BadBase64,
    #[error("key name is empty")]
    EmptyName,
    #[error("unsupported key algorithm {0:?}")]
    UnsupportedAlgorithm(String),
}

/// A named shared secret (dhcpd `key NAME { algorithm hmac-md5; secret "..."; }`).
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    name: String,
    algorithm: Algorithm,
    secret: Vec<u8>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Key {
    /// An HMAC-MD5 key from raw secret bytes.
    pub fn hmac_md5(name: impl Into<String>, secret: impl Into<Vec<u8>>) -> Result<Key, KeyError> {
        let name = name.into();
        if name.is_empty() {
            return Err(KeyError::EmptyName);
        }
        Ok(Key { name, algorithm: Algorithm::HmacMd5, secret: secret.into() })
    }

    /// A key as written in dhcpd.conf: algorithm name and base64 secret.
    pub fn from_config(name: impl Into<String>, algorithm: &str, secret_b64: &str) -> Result<Key, KeyError> {
        let alg =
            Algorithm::from_name(algorithm).ok_or_else(|| KeyError::UnsupportedAlgorithm(algorithm.to_owned()))?;
        let secret =
            base64::engine::general_purpose::STANDARD.decode(secret_b64.trim()).map_err(|_| KeyError::BadBase64)?;
        match alg {
            Algorithm::HmacMd5 => Key::hmac_md5(name, secret),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The raw HMAC over `data`.
    pub fn compute(&self, data: &[u8]) -> Vec<u8> {
        match self.algorithm {
            Algorithm::HmacMd5 => {
                // HMAC accepts keys of any length; this cannot fail.
                let Ok(mut mac) = HmacMd5::new_from_slice(&self.secret) else {
                    return Vec::new();
                };
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
        }
    }

    /// Constant-time check of `signature` over `data`.
    pub fn verify(&self, data: &[u8], signature: &[u8]) -> bool {
        match self.algorithm {
            Algorithm::HmacMd5 => {
                let Ok(mut mac) = HmacMd5::new_from_slice(&self.secret) else {
                    return false;
                };
                mac.update(data);
                mac.verify_slice(signature).is_ok()
            }
        }
    }

    /// Verify a message decoded from `buf` (the same buffer given to [`Message::decode`]).
    pub fn verify_decoded(&self, buf: &[u8], decoded: &Decoded) -> bool {
        let sig = &decoded.message.signature;
        if sig.len() != self.algorithm.digest_len() {
            return false;
        }
        match buf.get(decoded.signed.clone()) {
            Some(data) => self.verify(data, sig),
            None => false,
        }
    }

    /// Set `msg.authid` and compute `msg.signature` with this key.
    pub fn sign(&self, msg: &mut Message, authid: u32) -> Result<(), EncodeError> {
        msg.authid = authid;
        let mut tmp = Vec::new();
        let range = msg.encode_body(self.algorithm.digest_len() as u32, &mut tmp)?;
        msg.signature = self.compute(tmp.get(range).unwrap_or_default());
        Ok(())
    }

    /// Sign and append the encoded message to `out`.
    pub fn encode_signed(&self, msg: &mut Message, authid: u32, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.sign(msg, authid)?;
        msg.encode(out)
    }
}
