//! Kubernetes memory quantities (`2Gi`, `512Mi`, `1G`, `1073741824`) as bytes, for the settings
//! the tree derives from a container's memory limit.

/// Binary (`Ki` = 1024) and decimal (`k` = 1000) suffixes, longest first so `Mi` is not read
/// as `M`.
const SUFFIXES: [(&str, u64); 12] = [
    ("Ki", 1 << 10),
    ("Mi", 1 << 20),
    ("Gi", 1 << 30),
    ("Ti", 1 << 40),
    ("Pi", 1 << 50),
    ("Ei", 1 << 60),
    ("k", 1_000),
    ("M", 1_000_000),
    ("G", 1_000_000_000),
    ("T", 1_000_000_000_000),
    ("P", 1_000_000_000_000_000),
    ("E", 1_000_000_000_000_000_000),
];

/// The number of bytes `text` stands for: digits with an optional decimal fraction and an
/// optional suffix of [`SUFFIXES`]. `None` for anything else (a negative, exponent or milli
/// quantity is no memory size anyone means).
pub(crate) fn memory_bytes(text: &str) -> Option<u64> {
    let (number, multiplier) = SUFFIXES
        .iter()
        .find_map(|(suffix, multiplier)| {
            text.strip_suffix(suffix)
                .map(|number| (number, *multiplier))
        })
        .unwrap_or((text, 1));
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    let whole_bytes = whole.parse::<u64>().ok()?.checked_mul(multiplier)?;
    let fraction_bytes = if fraction.is_empty() {
        0
    } else {
        let scale = 10_u128.checked_pow(u32::try_from(fraction.len()).ok()?)?;
        let value = fraction.parse::<u128>().ok()?;
        u64::try_from(value.checked_mul(u128::from(multiplier))? / scale).ok()?
    };
    whole_bytes.checked_add(fraction_bytes)
}

#[cfg(test)]
mod tests {
    use super::memory_bytes;

    #[test]
    fn binary_and_decimal_suffixes_scale_the_number() {
        assert_eq!(memory_bytes("2Gi"), Some(2 << 30));
        assert_eq!(memory_bytes("512Mi"), Some(512 << 20));
        assert_eq!(memory_bytes("1G"), Some(1_000_000_000));
        assert_eq!(memory_bytes("64k"), Some(64_000));
    }

    #[test]
    fn a_bare_number_is_bytes_and_a_fraction_is_kept() {
        assert_eq!(memory_bytes("1073741824"), Some(1 << 30));
        assert_eq!(memory_bytes("1.5Gi"), Some(3 << 29));
    }

    #[test]
    fn what_is_no_memory_size_is_refused() {
        for text in ["", "Gi", "2 Gi", "-1Gi", "2gi", "1e9", "500m", "1.Gi.5"] {
            assert_eq!(memory_bytes(text), None, "{text}");
        }
    }
}
