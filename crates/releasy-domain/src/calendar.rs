//! UTC calendar arithmetic on days counted from 1970-01-01 (day 0), after Howard
//! Hinnant's `civil_from_days` and `days_from_civil`: what the ledger's dates and the
//! quotas' calendar months need, without a date library in the domain.

/// A date of the proleptic Gregorian calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CivilDate {
    /// The year.
    pub year: i64,
    /// The month, 1 to 12.
    pub month: u32,
    /// The day of the month, 1 to 31.
    pub day: u32,
}

impl CivilDate {
    /// The date of day `days` since 1970-01-01.
    ///
    /// ```
    /// use releasy_domain::calendar::CivilDate;
    ///
    /// assert_eq!(CivilDate::from_days(0), CivilDate { year: 1970, month: 1, day: 1 });
    /// assert_eq!(CivilDate::from_days(20_792), CivilDate { year: 2026, month: 12, day: 5 });
    /// ```
    pub fn from_days(days: i64) -> Self {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        // Both are in range by construction: 1..=31 and 1..=12.
        Self {
            year: yoe + era * 400 + i64::from(month <= 2),
            month: u32::try_from(month).unwrap_or(1),
            day: u32::try_from(day).unwrap_or(1),
        }
    }

    /// The days from 1970-01-01 to this date (negative before it).
    ///
    /// ```
    /// use releasy_domain::calendar::CivilDate;
    ///
    /// assert_eq!(CivilDate { year: 2000, month: 3, day: 1 }.days(), 11_017);
    /// ```
    pub fn days(self) -> i64 {
        let month = i64::from(self.month);
        let year = if month <= 2 { self.year - 1 } else { self.year };
        let era = year.div_euclid(400);
        let yoe = year.rem_euclid(400);
        let mp = (month + 9) % 12;
        let doy = (153 * mp + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The first day of this date's month.
    pub const fn first_of_month(self) -> Self {
        Self { day: 1, ..self }
    }

    /// The first day of the month after this date's.
    pub const fn first_of_next_month(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
                day: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
                day: 1,
            }
        }
    }
}

impl std::fmt::Display for CivilDate {
    /// ISO 8601: `2026-12-05`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_dates_round_trip_across_leap_years_and_centuries() {
        for days in (-800_000..3_000_000).step_by(97) {
            let date = CivilDate::from_days(days);
            assert_eq!(date.days(), days, "{date}");
        }
        let leap_day = CivilDate {
            year: 2028,
            month: 2,
            day: 29,
        };
        assert_eq!(CivilDate::from_days(leap_day.days()), leap_day);
        assert_eq!(
            leap_day.days() + 1,
            CivilDate {
                year: 2028,
                month: 3,
                day: 1
            }
            .days()
        );
    }

    #[test]
    fn months_roll_over_the_year() {
        let december = CivilDate {
            year: 2026,
            month: 12,
            day: 31,
        };
        assert_eq!(december.first_of_month().to_string(), "2026-12-01");
        assert_eq!(december.first_of_next_month().to_string(), "2027-01-01");
        let february = CivilDate {
            year: 2027,
            month: 2,
            day: 14,
        };
        assert_eq!(february.first_of_next_month().to_string(), "2027-03-01");
    }
}
