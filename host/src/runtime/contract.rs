//! Which version of the `wasmgate:provider` contract a plugin was built for.
//!
//! Two records say it: the custom section the Rust SDK writes
//! (`wasmgate:contract-version`, read before anything is compiled), and the
//! version in the name of the interface the component exports
//! (`wasmgate:provider/plugin@0.2.0`), which every toolchain writes — a
//! JavaScript plugin has only that one. A plugin for another version is
//! refused with both versions named, instead of failing to link with a
//! type mismatch nobody can read.

use super::bindings::CONTRACT_VERSION;

/// The custom section the SDK records its contract version in.
pub const SECTION: &str = "wasmgate:contract-version";

/// The interface a provider exports, without its version.
const EXPORTED_INTERFACE: &str = "wasmgate:provider/plugin";

/// The version recorded in the binary's custom section, if any (also inside
/// the core modules a component nests, where a Rust toolchain leaves it).
pub fn recorded_version(bytes: &[u8]) -> Option<String> {
    let data = find_custom_section(bytes, SECTION.as_bytes(), 0)?;
    std::str::from_utf8(data).ok().map(|v| v.trim().to_string())
}

/// Core module and component sections nest modules and components.
const CORE_MODULE_SECTION: u8 = 1;
const COMPONENT_SECTION: u8 = 4;

/// Walks a module or component binary's sections (and the modules and
/// components nested in a component's) for the custom section `name`. A
/// malformed binary yields `None`: compiling it reports what is wrong.
fn find_custom_section<'a>(bytes: &'a [u8], name: &[u8], depth: u8) -> Option<&'a [u8]> {
    // `\0asm`, then a version and a layer (module or component).
    let mut rest = bytes.strip_prefix(b"\0asm")?.get(4..)?;
    let component = bytes.get(6..8)? == [1, 0];
    while let Some((&id, after_id)) = rest.split_first() {
        let (size, after_size) = leb128_u32(after_id)?;
        let payload = after_size.get(..size as usize)?;
        rest = &after_size[size as usize..];
        match id {
            0 => {
                let (name_len, after_len) = leb128_u32(payload)?;
                let (section_name, data) = after_len.split_at_checked(name_len as usize)?;
                if section_name == name {
                    return Some(data);
                }
            }
            CORE_MODULE_SECTION | COMPONENT_SECTION if component && depth < 8 => {
                if let Some(found) = find_custom_section(payload, name, depth + 1) {
                    return Some(found);
                }
            }
            _ => {}
        }
    }
    None
}

/// An unsigned LEB128 number and what follows it.
fn leb128_u32(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let mut value: u32 = 0;
    for (i, &byte) in bytes.iter().enumerate().take(5) {
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, &bytes[i + 1..]));
        }
    }
    None
}

/// The contract version in an exported interface's name, for exports named
/// like `wasmgate:provider/plugin@0.1.0`.
pub fn exported_version<'a>(mut export_names: impl Iterator<Item = &'a str>) -> Option<String> {
    export_names.find_map(|name| {
        let (interface, version) = name.split_once('@')?;
        (interface == EXPORTED_INTERFACE).then(|| version.to_string())
    })
}

/// Why a plugin cannot be served by this gateway's contract, if it cannot.
pub fn mismatch(built_for: &str) -> Option<String> {
    (built_for != CONTRACT_VERSION).then(|| {
        format!(
            "it was built for plugin contract {built_for}, and this gateway speaks {CONTRACT_VERSION}: \
             rebuild it against this gateway's wit/ (or its SDK), or run a gateway that speaks {built_for}"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A core module with one custom section, as `wasm-encoder` would write it.
    fn module_with_section(name: &str, data: &[u8]) -> Vec<u8> {
        let mut contents = vec![name.len() as u8];
        contents.extend_from_slice(name.as_bytes());
        contents.extend_from_slice(data);
        let mut bytes = b"\0asm\x01\0\0\0".to_vec();
        bytes.push(0);
        bytes.push(contents.len() as u8);
        bytes.extend(contents);
        bytes
    }

    #[test]
    fn the_recorded_version_is_read_from_the_custom_section() {
        let bytes = module_with_section(SECTION, b"0.1.0");
        assert_eq!(recorded_version(&bytes).as_deref(), Some("0.1.0"));
        let other = module_with_section("producers", b"x");
        assert_eq!(recorded_version(&other), None);
        assert_eq!(recorded_version(b"not wasm"), None);
        // Nested in a component's core module section.
        let mut component = b"\0asm\x0d\0\x01\0".to_vec();
        component.push(1);
        component.push(bytes.len() as u8);
        component.extend(&bytes);
        assert_eq!(recorded_version(&component).as_deref(), Some("0.1.0"));
        // A truncated binary is not read past its end.
        assert_eq!(recorded_version(&component[..component.len() - 3]), None);
    }

    #[test]
    fn the_exported_version_comes_from_the_interface_name() {
        let names = ["wasi:cli/run@0.2.0", "wasmgate:provider/plugin@0.1.0"];
        assert_eq!(
            exported_version(names.into_iter()).as_deref(),
            Some("0.1.0")
        );
        assert_eq!(exported_version(["plugin"].into_iter()), None);
    }

    #[test]
    fn a_mismatch_names_both_versions() {
        assert_eq!(mismatch(CONTRACT_VERSION), None);
        let said = mismatch("0.1.0").unwrap();
        assert!(
            said.contains("0.1.0") && said.contains(CONTRACT_VERSION),
            "{said}"
        );
    }
}
