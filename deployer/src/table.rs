//! The borderless tables `status` prints, locally and on AWS.

use comfy_table::{Table, presets::NOTHING};

/// A header row over `rows`, columns aligned, no borders.
pub fn plain<const N: usize>(
    header: [&str; N],
    rows: impl IntoIterator<Item = [String; N]>,
) -> String {
    let mut table = Table::new();
    table.load_preset(NOTHING).set_header(header);
    for row in rows {
        table.add_row(row);
    }
    table.to_string()
}

/// A service as the tables name it: internal ones say so.
pub fn service_name(name: &str, public: bool) -> String {
    if public {
        name.to_owned()
    } else {
        format!("{name} (internal)")
    }
}
