//! Pure UTC calendar conversion (proleptic Gregorian, days since 1970-01-01).

/// Days since 1970-01-01 for a civil date (month 1..=12, day 1..=31).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // 0..=399
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 }; // March = 0
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1; // 0..=365
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // 0..=146096
    era * 146_097 + doe - 719_468
}

/// Civil date (year, month, day) for days since 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // 0..=365
    let mp = (5 * doy + 2) / 153; // 0..=11
    let day = doy - (153 * mp + 2) / 5 + 1; // 1..=31
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // 1..=12
    let year = yoe + era * 400 + i64::from(month <= 2);
    // The ranges above make these conversions lossless.
    (year, month as u32, day as u32)
}

/// Broken-down UTC time of a Unix timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tm {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
    /// 0 = Sunday.
    pub wday: u32,
}

pub(crate) fn gmtime(t: u32) -> Tm {
    let days = i64::from(t / 86_400);
    let rem = t % 86_400;
    let (year, month, day) = civil_from_days(days);
    Tm {
        year,
        month,
        day,
        hour: rem / 3600,
        min: rem / 60 % 60,
        sec: rem % 60,
        // 1970-01-01 was a Thursday (4).
        wday: ((days + 4) % 7) as u32,
    }
}

/// Unix seconds for a UTC civil time, or `None` outside the u32 range.
pub(crate) fn timegm(year: i64, month: u32, day: u32, hour: u32, min: u32, sec: u32) -> Option<u32> {
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + i64::from(hour) * 3600 + i64::from(min) * 60 + i64::from(sec);
    u32::try_from(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        // 2026-11-25 12:40:35 UTC, a Wednesday.
        let t = timegm(2026, 11, 25, 12, 40, 35).unwrap();
        assert_eq!(t, 1_795_610_435);
        let tm = gmtime(t);
        assert_eq!((tm.year, tm.month, tm.day, tm.wday), (2026, 11, 25, 3));
        assert_eq!((tm.hour, tm.min, tm.sec), (12, 40, 35));
        assert_eq!(gmtime(u32::MAX).year, 2106);
    }

    #[test]
    fn every_day_round_trips() {
        for d in 0..(u32::MAX / 86_400 + 1) {
            let (y, m, dd) = civil_from_days(i64::from(d));
            assert_eq!(days_from_civil(y, m, dd), i64::from(d));
        }
    }
}
