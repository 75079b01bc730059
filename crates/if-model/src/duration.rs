//! `Duration`: the delays of `images.yaml` (`30m`, `12h`, `7d`, `2w`, `1d12h`), parsed and
//! displayed in the same notation.

use std::fmt;
use std::str::FromStr;

/// A whole number of minutes, written with the units `w`, `d`, `h`, `m` (largest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration {
    minutes: u64,
}

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing was given.
    #[error("empty duration: write e.g. 7d, 12h, 30m, 2w or 1d12h")]
    Empty,
    /// A unit letter that is not one of `w`, `d`, `h`, `m`.
    #[error("unknown unit `{unit}` in duration `{input}`: use w, d, h or m (e.g. 7d, 1d12h)")]
    UnknownUnit {
        /// The whole input.
        input: String,
        /// The offending unit.
        unit: String,
    },
    /// A number without a unit (`7`), or a unit without a number (`d`).
    #[error(
        "malformed duration `{input}`: each number needs a unit, e.g. 7d, 12h, 30m, 2w or 1d12h"
    )]
    Malformed {
        /// The whole input.
        input: String,
    },
    /// Units not in decreasing order, or one unit twice (`12h1d`, `1d1d`).
    #[error(
        "units out of order in duration `{input}`: write the largest first, each once (e.g. 1d12h)"
    )]
    Order {
        /// The whole input.
        input: String,
    },
    /// Too large to represent.
    #[error("duration `{input}` is too large")]
    Overflow {
        /// The whole input.
        input: String,
    },
}

const UNITS: [(char, u64); 4] = [('w', 7 * 24 * 60), ('d', 24 * 60), ('h', 60), ('m', 1)];

impl Duration {
    /// A duration of `minutes` minutes.
    pub const fn from_minutes(minutes: u64) -> Self {
        Duration { minutes }
    }

    /// A duration of `days` days.
    pub const fn from_days(days: u64) -> Self {
        Duration {
            minutes: days * 24 * 60,
        }
    }

    /// The length in minutes.
    pub const fn as_minutes(self) -> u64 {
        self.minutes
    }

    /// The length in seconds.
    pub const fn as_seconds(self) -> u64 {
        self.minutes * 60
    }

    /// Parses `30m`, `12h`, `7d`, `2w`, or combinations with the largest unit first (`1d12h`).
    /// `0` alone (and `0d`, `0m`, ...) is zero.
    pub fn parse(input: &str) -> Result<Self, DurationError> {
        if input.is_empty() {
            return Err(DurationError::Empty);
        }
        if input == "0" {
            return Ok(Duration::default());
        }
        let mut words = input
            .split(|c: char| !c.is_alphabetic())
            .filter(|w| !w.is_empty());
        let unit_letter = |w: &str| w.len() == 1 && UNITS.iter().any(|(u, _)| w.starts_with(*u));
        if let Some(word) = words.find(|w| !unit_letter(w)) {
            let unit = word.to_string();
            return Err(DurationError::UnknownUnit {
                input: input.to_string(),
                unit,
            });
        }
        let malformed = || DurationError::Malformed {
            input: input.to_string(),
        };
        let overflow = || DurationError::Overflow {
            input: input.to_string(),
        };
        let mut total: u64 = 0;
        let mut last_rank: Option<usize> = None;
        let mut rest = input;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(match rest.chars().next() {
                    Some(c) if c.is_ascii_alphabetic() && !UNITS.iter().any(|(u, _)| *u == c) => {
                        DurationError::UnknownUnit {
                            input: input.to_string(),
                            unit: c.to_string(),
                        }
                    }
                    _ => malformed(),
                });
            }
            let number: u64 = rest[..digits].parse().map_err(|_| overflow())?;
            rest = &rest[digits..];
            let Some(unit) = rest.chars().next() else {
                return Err(malformed());
            };
            let Some(rank) = UNITS.iter().position(|(u, _)| *u == unit) else {
                return Err(if unit.is_alphabetic() {
                    let word: String = rest.chars().take_while(|c| c.is_alphabetic()).collect();
                    DurationError::UnknownUnit {
                        input: input.to_string(),
                        unit: word,
                    }
                } else {
                    malformed()
                });
            };
            if last_rank.is_some_and(|r| rank <= r) {
                return Err(DurationError::Order {
                    input: input.to_string(),
                });
            }
            last_rank = Some(rank);
            let minutes = number.checked_mul(UNITS[rank].1).ok_or_else(overflow)?;
            total = total.checked_add(minutes).ok_or_else(overflow)?;
            rest = &rest[unit.len_utf8()..];
        }
        // Keep seconds representable everywhere a duration is used.
        if total.checked_mul(60).is_none() {
            return Err(overflow());
        }
        Ok(Duration { minutes: total })
    }
}

impl FromStr for Duration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Duration::parse(s)
    }
}

impl fmt::Display for Duration {
    /// Days, hours and minutes, zero parts left out: `7d`, `1d12h`, `2w` as `14d`, `90m` as
    /// `1h30m`; zero is `0m`. (Weeks are read but not written: `30d` stays `30d`.)
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.minutes == 0 {
            return f.write_str("0m");
        }
        let mut rest = self.minutes;
        for (unit, size) in UNITS.into_iter().skip(1) {
            let n = rest / size;
            if n > 0 {
                write!(f, "{n}{unit}")?;
                rest -= n * size;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_each_unit() {
        assert_eq!(Duration::parse("30m").unwrap().as_minutes(), 30);
        assert_eq!(Duration::parse("12h").unwrap().as_minutes(), 720);
        assert_eq!(Duration::parse("7d").unwrap().as_minutes(), 7 * 1440);
        assert_eq!(Duration::parse("2w").unwrap().as_minutes(), 14 * 1440);
        assert_eq!(Duration::parse("1d12h").unwrap().as_minutes(), 1440 + 720);
        assert_eq!(
            Duration::parse("1w2d3h4m").unwrap().as_minutes(),
            10080 + 2880 + 180 + 4
        );
        assert_eq!(Duration::parse("0").unwrap().as_minutes(), 0);
        assert_eq!(Duration::parse("0d").unwrap().as_minutes(), 0);
    }

    #[test]
    fn displays_in_the_same_notation() {
        for s in ["30m", "12h", "7d", "30d", "1d12h", "9d3h4m"] {
            assert_eq!(Duration::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(Duration::parse("90m").unwrap().to_string(), "1h30m");
        assert_eq!(Duration::parse("2w").unwrap().to_string(), "14d");
        assert_eq!(Duration::parse("1w2d3h4m").unwrap().to_string(), "9d3h4m");
        assert_eq!(Duration::parse("0").unwrap().to_string(), "0m");
    }

    #[test]
    fn rejects_bad_input_with_reasons() {
        assert_eq!(Duration::parse(""), Err(DurationError::Empty));
        assert!(matches!(
            Duration::parse("7"),
            Err(DurationError::Malformed { .. })
        ));
        assert!(matches!(
            Duration::parse("d"),
            Err(DurationError::Malformed { .. })
        ));
        assert!(
            matches!(Duration::parse("7x"), Err(DurationError::UnknownUnit { unit, .. }) if unit == "x")
        );
        assert!(
            matches!(Duration::parse("7days"), Err(DurationError::UnknownUnit { unit, .. }) if unit == "days")
        );
        assert!(matches!(
            Duration::parse("7s"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert!(matches!(
            Duration::parse("12h1d"),
            Err(DurationError::Order { .. })
        ));
        assert!(matches!(
            Duration::parse("1d1d"),
            Err(DurationError::Order { .. })
        ));
        assert!(matches!(
            Duration::parse(" 7d"),
            Err(DurationError::Malformed { .. })
        ));
        assert!(matches!(
            Duration::parse("7d "),
            Err(DurationError::Malformed { .. })
        ));
        assert!(matches!(
            Duration::parse("-7d"),
            Err(DurationError::Malformed { .. })
        ));
        assert!(matches!(
            Duration::parse("1.5d"),
            Err(DurationError::Malformed { .. })
        ));
        assert!(matches!(
            Duration::parse("99999999999999999999d"),
            Err(DurationError::Overflow { .. })
        ));
        assert!(matches!(
            Duration::parse("999999999999999w"),
            Err(DurationError::Overflow { .. })
        ));
        assert!(matches!(
            Duration::parse("7D"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert!(matches!(
            Duration::parse("7dé"),
            Err(DurationError::UnknownUnit { .. })
        ));
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(minutes in 0u64..10_000_000) {
            let d = Duration::from_minutes(minutes);
            prop_assert_eq!(Duration::parse(&d.to_string()).unwrap(), d);
        }

        #[test]
        fn never_panics(s in ".{0,20}") {
            let _ = Duration::parse(&s);
        }
    }
}
