//! Times in filter boxes: UTC dates or epoch milliseconds.

/// A time in a box: a UTC date (`2026-01-31`, `2026-01-31 12:00`,
/// `2026-01-31 12:00:05`, also with `T`) or epoch milliseconds.
pub fn parse_time(s: &str) -> Option<i64> {
    if let Ok(ms) = s.parse::<i64>() {
        return Some(ms);
    }
    let s = s.trim_end_matches('Z');
    let (date, time) = match s.split_once([' ', 'T']) {
        Some((d, t)) => (d, Some(t.trim())),
        None => (s, None),
    };
    let mut d = date.split('-');
    let (y, m, day) = (
        d.next()?.parse::<i64>().ok()?,
        d.next()?.parse::<i64>().ok()?,
        d.next()?.parse::<i64>().ok()?,
    );
    if d.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let (mut hh, mut mm, mut ss) = (0, 0, 0);
    if let Some(t) = time {
        let mut parts = t.split(':');
        hh = parts.next()?.parse::<i64>().ok()?;
        mm = parts.next()?.parse::<i64>().ok()?;
        if let Some(sec) = parts.next() {
            ss = sec.parse::<i64>().ok()?;
        }
        if parts.next().is_some() || hh > 23 || mm > 59 || ss > 59 {
            return None;
        }
    }
    Some((days_from_civil(y, m, day) * 86_400 + hh * 3600 + mm * 60 + ss) * 1000)
}

/// Epoch milliseconds as a box writes them: the shortest UTC date form that reads back
/// as the same instant, or the milliseconds themselves.
pub fn format_time(ms: i64) -> String {
    if ms % 1000 != 0 {
        return ms.to_string();
    }
    let full = app::pages::experiments::format_ms(ms);
    let secs = ms.div_euclid(1000).rem_euclid(60);
    if secs != 0 {
        format!("{full}:{secs:02}")
    } else if full.ends_with(" 00:00") {
        full[..10].to_owned()
    } else {
        full
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
