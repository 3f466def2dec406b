//! The random ids the sites expect, from the platform's randomness.

use wasmgate_plugin_sdk::Platform;

/// 32 lower-case hex digits (128 random bits).
pub fn random_hex32(platform: &dyn Platform) -> String {
    format!(
        "{:016x}{:016x}",
        platform.random_u64(),
        platform.random_u64()
    )
}

/// A random id in UUID form (`8-4-4-4-12` hex digits).
pub fn random_uuid(platform: &dyn Platform) -> String {
    let hex = random_hex32(platform);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmgate_plugin_sdk::native::NativeHost;

    #[test]
    fn ids_are_hex_and_uuids_are_grouped() {
        let platform = NativeHost::default();
        let hex = random_hex32(&platform);
        assert_eq!(hex.len(), 32);
        assert!(
            hex.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        let uuid = random_uuid(&platform);
        let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert_ne!(random_uuid(&platform), uuid);
    }
}
