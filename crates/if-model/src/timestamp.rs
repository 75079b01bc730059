//! `Timestamp`: an instant written in RFC 3339 (`2024-12-04T10:00:00Z`), the only time format
//! of the state files and the command line.

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::duration::Duration;

/// An instant, kept with the offset it was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

/// A time that is not RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not an RFC 3339 time (e.g. 2024-12-04T10:00:00Z)")]
pub struct TimestampError {
    /// What was given.
    pub input: String,
}

impl Timestamp {
    /// Parses an RFC 3339 time.
    pub fn parse(s: &str) -> Result<Self, TimestampError> {
        OffsetDateTime::parse(s, &Rfc3339)
            .map(Timestamp)
            .map_err(|_| TimestampError {
                input: s.to_string(),
            })
    }

    /// From seconds since the Unix epoch, in UTC.
    pub fn from_unix(seconds: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp(seconds)
            .ok()
            .map(Timestamp)
    }

    /// Seconds since the Unix epoch.
    pub fn unix(self) -> i64 {
        self.0.unix_timestamp()
    }

    /// The underlying `time` value.
    pub fn as_offset_date_time(self) -> OffsetDateTime {
        self.0
    }

    /// This instant plus `d` (saturating at the representable range).
    pub fn plus(self, d: Duration) -> Self {
        let secs = i64::try_from(d.as_seconds()).unwrap_or(i64::MAX);
        Timestamp(
            self.0
                .checked_add(time::Duration::seconds(secs))
                .unwrap_or(self.0),
        )
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(t: OffsetDateTime) -> Self {
        Timestamp(t)
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse(s)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.format(&Rfc3339) {
            Ok(s) => f.write_str(&s),
            Err(_) => write!(f, "{}", self.0.unix_timestamp()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_rfc3339() {
        let t = Timestamp::parse("2024-12-04T10:00:00Z").unwrap();
        assert_eq!(t.to_string(), "2024-12-04T10:00:00Z");
        let t = Timestamp::parse("2025-12-29T19:25:06.841994+00:00").unwrap();
        assert_eq!(Timestamp::parse(&t.to_string()).unwrap(), t);
        assert!(Timestamp::parse("None").is_err());
        assert!(Timestamp::parse("2024-12-04").is_err());
    }

    #[test]
    fn plus_adds_a_duration() {
        let t = Timestamp::parse("2024-12-04T10:00:00Z").unwrap();
        assert_eq!(
            t.plus(Duration::from_days(7)).to_string(),
            "2024-12-11T10:00:00Z"
        );
    }
}
