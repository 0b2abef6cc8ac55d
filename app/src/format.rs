//! How every page prints numbers and durations: one formatter, used by the server-side
//! grid cells and the hydrated pages alike, so the same value reads the same everywhere.

/// Six significant digits without trailing zeros; exponent form outside [1e-4, 1e9);
/// NaN and the infinities as MLflow writes them.
pub fn number(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if f == 0.0 {
        return "0".into();
    }
    let magnitude = f.abs().log10().floor() as i32;
    if !(-4..9).contains(&magnitude) {
        let s = format!("{f:.5e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        return format!("{mantissa}e{exponent}");
    }
    let decimals = (5 - magnitude).max(0) as usize;
    let s = format!("{f:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// A span of milliseconds in words: `250ms`, `4.2s`, `1m 03s`, `1h 02m 03s`; a negative
/// span (clock skew) is a dash.
pub fn duration(ms: i64) -> String {
    if ms < 0 {
        return "—".into();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    if ms < 60_000 {
        return format!("{:.1}s", ms as f64 / 1000.0);
    }
    let s = ms / 1000;
    let (h, m, s) = (s / 3600, s % 3600 / 60, s % 60);
    if h > 0 {
        format!("{h}h {m:02}m {s:02}s")
    } else {
        format!("{m}m {s:02}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short_but_exact_enough() {
        assert_eq!(number(0.123456789), "0.123457");
        assert_eq!(number(1234.5), "1234.5");
        assert_eq!(number(2.0), "2");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(-0.5), "-0.5");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(1.5e-7), "1.5e-7");
        assert_eq!(number(1e-7), "1e-7");
        assert_eq!(number(123_456_789.0), "123456789");
        assert_eq!(number(2.5e12), "2.5e12");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(f64::INFINITY), "Infinity");
        assert_eq!(number(f64::NEG_INFINITY), "-Infinity");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(250), "250ms");
        assert_eq!(duration(4_200), "4.2s");
        assert_eq!(duration(14_000), "14.0s");
        assert_eq!(duration(63_000), "1m 03s");
        assert_eq!(duration(125_000), "2m 05s");
        assert_eq!(duration(3_723_000), "1h 02m 03s");
        assert_eq!(duration(-1), "—");
    }
}
