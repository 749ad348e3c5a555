//! Helpers shared by the fuzz targets (each target includes this module).

#![allow(dead_code)]

use std::fmt::Debug;

/// Hex of the input, for panic messages (the artifact file has the bytes too).
pub fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

/// The first line where the pretty `Debug` renderings of `a` and `b`
/// differ, with a little context, so a failed round trip names the field.
pub fn first_difference<T: Debug>(a: &T, b: &T) -> String {
    let a = format!("{a:#?}");
    let b = format!("{b:#?}");
    let la: Vec<&str> = a.lines().collect();
    let lb: Vec<&str> = b.lines().collect();
    let i = la
        .iter()
        .zip(lb.iter())
        .position(|(x, y)| x != y)
        .unwrap_or(la.len().min(lb.len()));
    let from = i.saturating_sub(6);
    let ctx = |l: &[&str]| l[from..(i + 3).min(l.len())].join("\n");
    format!(
        "first difference at line {i}\n--- before\n{}\n--- after\n{}",
        ctx(&la),
        ctx(&lb)
    )
}
