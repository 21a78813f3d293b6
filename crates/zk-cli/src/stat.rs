//! The stat block of `StatPrinter` and `java.util.Date.toString()` for its times.

use std::fmt::Write as _;

use zk_client::Stat;

/// The eleven `name = value` lines zkCli prints for a stat, each ending in a newline.
pub fn format_stat(stat: &Stat, zone: &Zone) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "cZxid = 0x{:x}", stat.czxid.0);
    let _ = writeln!(s, "ctime = {}", java_date(stat.ctime, zone));
    let _ = writeln!(s, "mZxid = 0x{:x}", stat.mzxid.0);
    let _ = writeln!(s, "mtime = {}", java_date(stat.mtime, zone));
    let _ = writeln!(s, "pZxid = 0x{:x}", stat.pzxid.0);
    let _ = writeln!(s, "cversion = {}", stat.cversion);
    let _ = writeln!(s, "dataVersion = {}", stat.version);
    let _ = writeln!(s, "aclVersion = {}", stat.aversion);
    let _ = writeln!(s, "ephemeralOwner = 0x{:x}", stat.ephemeral_owner);
    let _ = writeln!(s, "dataLength = {}", stat.data_length);
    let _ = writeln!(s, "numChildren = {}", stat.num_children);
    s
}

/// The time zone dates are shown in: a name and a fixed offset from UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub name: String,
    pub offset_secs: i64,
}

impl Zone {
    pub fn utc() -> Zone {
        Zone {
            name: "UTC".into(),
            offset_secs: 0,
        }
    }

    /// The zone of the `TZ` variable: `UTC`/`GMT` (also `Etc/UTC`, `UTC0`, `:UTC`), or a POSIX
    /// fixed offset such as `EST5` or `XYZ-05:30`. Anything else (a zone with daylight saving
    /// rules, or no `TZ`) is shown as UTC.
    pub fn from_tz(tz: Option<&str>) -> Zone {
        let Some(tz) = tz else {
            return Zone::utc();
        };
        let tz = tz.trim_start_matches(':');
        let tz = tz.strip_prefix("Etc/").unwrap_or(tz);
        let name_len = tz
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(tz.len());
        let (name, rest) = tz.split_at(name_len);
        if name.len() < 3 {
            return Zone::utc();
        }
        if rest.is_empty() || rest == "0" {
            return match name {
                "UTC" | "GMT" | "UCT" | "Zulu" | "Universal" => Zone {
                    name: if name == "GMT" { "GMT" } else { "UTC" }.into(),
                    offset_secs: 0,
                },
                _ => Zone::utc(),
            };
        }
        // POSIX: `EST5` means five hours *behind* UTC.
        let (sign, digits) = match rest.as_bytes()[0] {
            b'-' => (1, &rest[1..]),
            b'+' => (-1, &rest[1..]),
            _ => (-1, rest),
        };
        let mut parts = digits.splitn(3, ':');
        let h: i64 = match parts.next().and_then(|p| p.parse().ok()) {
            Some(h) => h,
            None => return Zone::utc(),
        };
        let m: i64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        Zone {
            name: name.to_owned(),
            offset_secs: sign * (h * 3600 + m * 60),
        }
    }
}

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `new Date(millis).toString()`: `EEE MMM dd HH:mm:ss zzz yyyy`.
pub fn java_date(millis: i64, zone: &Zone) -> String {
    let secs = millis.div_euclid(1000) + zone.offset_secs;
    let days = secs.div_euclid(86400);
    let tod = secs.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} {} {}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        d,
        tod / 3600,
        tod % 3600 / 60,
        tod % 60,
        zone.name,
        y
    )
}

/// Howard Hinnant's days-to-civil: (year, month 1..=12, day 1..=31) of days since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_as_java_prints_them() {
        let utc = Zone::utc();
        assert_eq!(java_date(0, &utc), "Thu Jan 01 00:00:00 UTC 1970");
        // 2026-11-27T00:33:42Z
        assert_eq!(
            java_date(1_795_739_622_000, &utc),
            "Fri Nov 27 00:33:42 UTC 2026"
        );
        assert_eq!(
            java_date(951_782_400_000, &utc),
            "Tue Feb 29 00:00:00 UTC 2000"
        );
        let est = Zone::from_tz(Some("EST5"));
        assert_eq!(java_date(0, &est), "Wed Dec 31 19:00:00 EST 1969");
        assert_eq!(Zone::from_tz(Some("GMT")).name, "GMT");
        assert_eq!(Zone::from_tz(Some("Etc/UTC")), Zone::utc());
        assert_eq!(Zone::from_tz(None), Zone::utc());
    }
}
