//! Content digests (`sha256:<64 hex>`, `sha512:<128 hex>`), validated on construction.
//!
//! A [`Digest`] can only be obtained by parsing (or by hashing bytes with
//! [`Digest::of_sha256_bytes`]), so every value in the program is well formed: a known
//! algorithm, a colon, and exactly the right number of lowercase hexadecimal digits.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use thiserror::Error;

/// The hash algorithms a [`Digest`] may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DigestAlgorithm {
    /// SHA-256: 64 hexadecimal digits.
    Sha256,
    /// SHA-512: 128 hexadecimal digits.
    Sha512,
}

impl DigestAlgorithm {
    /// The algorithm's name as written before the colon (`sha256`, `sha512`).
    pub fn as_str(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "sha256",
            DigestAlgorithm::Sha512 => "sha512",
        }
    }

    /// The number of hexadecimal digits of a digest made with this algorithm.
    pub fn hex_len(self) -> usize {
        match self {
            DigestAlgorithm::Sha256 => 64,
            DigestAlgorithm::Sha512 => 128,
        }
    }

    /// The algorithm named exactly `name`, if it is one we support.
    fn from_name(name: &str) -> Option<DigestAlgorithm> {
        match name {
            "sha256" => Some(DigestAlgorithm::Sha256),
            "sha512" => Some(DigestAlgorithm::Sha512),
            _ => None,
        }
    }
}

impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string is not a valid [`Digest`].
///
/// Positions are 1-based character positions in the whole input string.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DigestError {
    /// The input is the empty string.
    #[error("empty digest: expected sha256:<64 hex digits> or sha512:<128 hex digits>")]
    Empty,
    /// The input contains a whitespace character.
    #[error("digest `{input}` contains whitespace at position {position}")]
    Whitespace {
        /// The whole input.
        input: String,
        /// 1-based character position of the first whitespace character.
        position: usize,
    },
    /// The input is only hexadecimal digits, without an `algorithm:` prefix.
    #[error(
        "a bare hex string is not a digest: write sha256:<hex> (got `{input}`, {length} hex digits)"
    )]
    BareHex {
        /// The whole input.
        input: String,
        /// The number of hex digits in it.
        length: usize,
    },
    /// There is no `algorithm:` prefix (no colon, or nothing before it).
    #[error(
        "`{input}` is not a digest: missing the algorithm prefix (expected sha256:<hex> or sha512:<hex>)"
    )]
    MissingAlgorithm {
        /// The whole input.
        input: String,
    },
    /// The algorithm before the colon is not one we support.
    #[error("unknown digest algorithm `{algorithm}`: expected `sha256` or `sha512`")]
    UnknownAlgorithm {
        /// The algorithm as written.
        algorithm: String,
    },
    /// The hex part contains an uppercase hexadecimal digit.
    #[error(
        "digest `{input}` has an uppercase hex digit `{character}` at position {position}: digests are lowercase"
    )]
    UppercaseHex {
        /// The whole input.
        input: String,
        /// The offending character.
        character: char,
        /// Its 1-based character position in the input.
        position: usize,
    },
    /// The hex part contains a character that is not a hexadecimal digit.
    #[error(
        "digest `{input}` has a non-hex character `{}` at position {position}",
        character.escape_debug()
    )]
    NonHexCharacter {
        /// The whole input.
        input: String,
        /// The offending character.
        character: char,
        /// Its 1-based character position in the input.
        position: usize,
    },
    /// The hex part does not have the length the algorithm requires.
    #[error("{algorithm} digest must have exactly {expected} hex digits, `{input}` has {actual}")]
    WrongLength {
        /// The whole input.
        input: String,
        /// The algorithm named by the prefix.
        algorithm: DigestAlgorithm,
        /// The required number of hex digits.
        expected: usize,
        /// The number of hex digits found.
        actual: usize,
    },
}

/// A validated content digest: `sha256:` and 64 lowercase hex digits, or `sha512:` and 128.
///
/// Serialized as its string form; deserialization validates.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

/// Lowercase hexadecimal digits, indexed by nibble value.
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// The length of `sha256:` and of `sha512:`.
const PREFIX_LEN: usize = 7;

impl Digest {
    /// Parses `s` as `sha256:<64 lowercase hex>` or `sha512:<128 lowercase hex>`.
    pub fn parse(s: &str) -> Result<Digest, DigestError> {
        // The usual case, checked in one pass (a factory holds a million digests).
        if let Some(hex) = s.strip_prefix("sha256:")
            && hex.len() == DigestAlgorithm::Sha256.hex_len()
            && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Ok(Digest(s.to_owned()));
        }
        if s.is_empty() {
            return Err(DigestError::Empty);
        }
        if let Some(index) = s.chars().position(char::is_whitespace) {
            return Err(DigestError::Whitespace {
                input: s.to_owned(),
                position: index + 1,
            });
        }
        let Some((name, hex)) = s.split_once(':') else {
            return Err(if s.chars().all(|c| c.is_ascii_hexdigit()) {
                DigestError::BareHex {
                    input: s.to_owned(),
                    length: s.len(),
                }
            } else {
                DigestError::MissingAlgorithm {
                    input: s.to_owned(),
                }
            });
        };
        if name.is_empty() {
            return Err(DigestError::MissingAlgorithm {
                input: s.to_owned(),
            });
        }
        let algorithm =
            DigestAlgorithm::from_name(name).ok_or_else(|| DigestError::UnknownAlgorithm {
                algorithm: name.to_owned(),
            })?;
        let offset = name.chars().count() + 1;
        let mut actual = 0;
        for (index, character) in hex.chars().enumerate() {
            let position = offset + index + 1;
            match character {
                '0'..='9' | 'a'..='f' => {}
                'A'..='F' => {
                    return Err(DigestError::UppercaseHex {
                        input: s.to_owned(),
                        character,
                        position,
                    });
                }
                _ => {
                    return Err(DigestError::NonHexCharacter {
                        input: s.to_owned(),
                        character,
                        position,
                    });
                }
            }
            actual += 1;
        }
        if actual != algorithm.hex_len() {
            return Err(DigestError::WrongLength {
                input: s.to_owned(),
                algorithm,
                expected: algorithm.hex_len(),
                actual,
            });
        }
        Ok(Digest(s.to_owned()))
    }

    /// The sha256 digest of `bytes`.
    pub fn of_sha256_bytes(bytes: &[u8]) -> Digest {
        let hash = Sha256::digest(bytes);
        let mut value = String::with_capacity(PREFIX_LEN + 64);
        value.push_str("sha256:");
        for byte in hash.iter() {
            for nibble in [byte >> 4, byte & 0x0f] {
                if let Some(&digit) = HEX_DIGITS.get(usize::from(nibble)) {
                    value.push(char::from(digit));
                }
            }
        }
        Digest(value)
    }

    /// The hash algorithm.
    pub fn algorithm(&self) -> DigestAlgorithm {
        if self.0.starts_with("sha512:") {
            DigestAlgorithm::Sha512
        } else {
            DigestAlgorithm::Sha256
        }
    }

    /// The hexadecimal digits after the colon.
    pub fn hex(&self) -> &str {
        self.0.get(PREFIX_LEN..).unwrap_or_default()
    }

    /// The whole digest, `algorithm:hex`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A short form for humans (commit messages, logs): the algorithm and the first 8 hex
    /// digits, e.g. `sha256:ab12cd34`.
    pub fn short(&self) -> String {
        let hex = self.hex();
        format!("{}:{}", self.algorithm(), hex.get(..8).unwrap_or(hex))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Digest, DigestError> {
        Digest::parse(s)
    }
}

impl TryFrom<String> for Digest {
    type Error = DigestError;

    fn try_from(s: String) -> Result<Digest, DigestError> {
        Digest::parse(&s)
    }
}

impl TryFrom<&str> for Digest {
    type Error = DigestError;

    fn try_from(s: &str) -> Result<Digest, DigestError> {
        Digest::parse(s)
    }
}

impl From<Digest> for String {
    fn from(digest: Digest) -> String {
        digest.0
    }
}

impl AsRef<str> for Digest {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HEX64: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn hex128() -> String {
        HEX64.repeat(2)
    }

    #[test]
    fn valid_sha256() {
        let input = format!("sha256:{HEX64}");
        let digest = Digest::parse(&input).unwrap();
        assert_eq!(digest.algorithm(), DigestAlgorithm::Sha256);
        assert_eq!(digest.hex(), HEX64);
        assert_eq!(digest.as_str(), input);
        assert_eq!(digest.to_string(), input);
        assert_eq!(digest.short(), "sha256:01234567");
        assert_eq!(input.parse::<Digest>().unwrap(), digest);
    }

    #[test]
    fn valid_sha512() {
        let input = format!("sha512:{}", hex128());
        let digest = Digest::parse(&input).unwrap();
        assert_eq!(digest.algorithm(), DigestAlgorithm::Sha512);
        assert_eq!(digest.hex(), hex128());
        assert_eq!(digest.short(), "sha512:01234567");
        assert_eq!(digest.algorithm().hex_len(), 128);
        assert_eq!(digest.algorithm().to_string(), "sha512");
    }

    #[test]
    fn sha256_of_bytes() {
        // Well-known test vectors of SHA-256.
        assert_eq!(
            Digest::of_sha256_bytes(b"").as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            Digest::of_sha256_bytes(b"abc").as_str(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let computed = Digest::of_sha256_bytes(b"image factory");
        assert_eq!(Digest::parse(computed.as_str()).unwrap(), computed);
    }

    fn err(input: &str) -> DigestError {
        Digest::parse(input).unwrap_err()
    }

    #[test]
    fn empty() {
        assert_eq!(err(""), DigestError::Empty);
    }

    #[test]
    fn bare_hex() {
        let e = err(HEX64);
        assert!(
            matches!(e, DigestError::BareHex { length: 64, .. }),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("a bare hex string is not a digest: write sha256:<hex>")
        );
        assert!(matches!(err("abc"), DigestError::BareHex { length: 3, .. }));
    }

    #[test]
    fn missing_algorithm() {
        assert!(matches!(err("xyz"), DigestError::MissingAlgorithm { .. }));
        assert!(matches!(
            err(&format!(":{HEX64}")),
            DigestError::MissingAlgorithm { .. }
        ));
    }

    #[test]
    fn unknown_algorithm() {
        for name in ["md5", "sha384", "SHA256", "sha-256", "sha256+b64"] {
            let e = err(&format!("{name}:{HEX64}"));
            assert_eq!(
                e,
                DigestError::UnknownAlgorithm {
                    algorithm: name.to_owned()
                }
            );
        }
    }

    #[test]
    fn wrong_length() {
        let e = err("sha256:abc");
        assert_eq!(
            e,
            DigestError::WrongLength {
                input: "sha256:abc".to_owned(),
                algorithm: DigestAlgorithm::Sha256,
                expected: 64,
                actual: 3
            }
        );
        assert_eq!(
            e.to_string(),
            "sha256 digest must have exactly 64 hex digits, `sha256:abc` has 3"
        );
        assert!(matches!(
            err(&format!("sha256:{HEX64}0")),
            DigestError::WrongLength { actual: 65, .. }
        ));
        assert!(matches!(
            err("sha256:"),
            DigestError::WrongLength { actual: 0, .. }
        ));
        // A sha256-length hex under the sha512 prefix and vice versa.
        assert!(matches!(
            err(&format!("sha512:{HEX64}")),
            DigestError::WrongLength {
                expected: 128,
                actual: 64,
                ..
            }
        ));
        assert!(matches!(
            err(&format!("sha256:{}", hex128())),
            DigestError::WrongLength {
                expected: 64,
                actual: 128,
                ..
            }
        ));
    }

    #[test]
    fn uppercase_hex() {
        let input = format!("sha256:A{}", &HEX64[1..]);
        assert_eq!(
            err(&input),
            DigestError::UppercaseHex {
                input: input.clone(),
                character: 'A',
                position: 8
            }
        );
    }

    #[test]
    fn non_hex_character() {
        let input = format!("sha256:{}g", &HEX64[1..]);
        assert_eq!(
            err(&input),
            DigestError::NonHexCharacter {
                input: input.clone(),
                character: 'g',
                position: 71
            }
        );
        // Non-ASCII characters are reported by character position, without panicking.
        assert!(matches!(
            err("sha256:é"),
            DigestError::NonHexCharacter {
                character: 'é',
                position: 8,
                ..
            }
        ));
        assert!(matches!(
            err(&format!("sha256:{HEX64}:")),
            DigestError::NonHexCharacter { character: ':', .. }
        ));
    }

    #[test]
    fn whitespace() {
        assert_eq!(
            err(&format!(" sha256:{HEX64}")),
            DigestError::Whitespace {
                input: format!(" sha256:{HEX64}"),
                position: 1
            }
        );
        assert!(matches!(
            err(&format!("sha256:{HEX64}\n")),
            DigestError::Whitespace { position: 72, .. }
        ));
    }

    #[test]
    fn serde_round_trip() {
        let digest = Digest::parse(&format!("sha256:{HEX64}")).unwrap();
        let yaml = serde_saphyr::to_string(&digest).unwrap();
        assert_eq!(yaml.trim(), format!("sha256:{HEX64}"));
        let back: Digest = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(back, digest);
        let bad: Result<Digest, _> = serde_saphyr::from_str("sha256:abc");
        assert!(bad.is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".*") {
            let _ = Digest::parse(&s);
        }

        #[test]
        fn valid_round_trip(hex in "[0-9a-f]{64}", long in "[0-9a-f]{128}") {
            for input in [format!("sha256:{hex}"), format!("sha512:{long}")] {
                let digest = Digest::parse(&input).unwrap();
                prop_assert_eq!(digest.as_str(), input.as_str());
                prop_assert_eq!(digest.to_string().parse::<Digest>().unwrap(), digest.clone());
                prop_assert_eq!(digest.hex().len(), digest.algorithm().hex_len());
                prop_assert_eq!(digest.short().len(), 15);
            }
        }

        #[test]
        fn computed_digests_are_valid(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let digest = Digest::of_sha256_bytes(&bytes);
            prop_assert_eq!(Digest::parse(digest.as_str()).unwrap(), digest);
        }
    }
}
