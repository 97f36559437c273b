use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::hardware_client::ProfileAvailability;

/// What the dashboard knows at one moment, as the page and the JSON API present it.
pub struct View<'a> {
    pub profiles: Option<&'a [ProfileAvailability]>,
    pub now_ms: i64,
    pub last_success_ms: Option<i64>,
    pub stale: bool,
    pub last_error: Option<&'a str>,
}

const STYLE: &str = r#"
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
main{max-width:760px;margin:40px auto;padding:0 16px}
h1{font-size:1.5rem;margin:0 0 4px}
.sub{color:#5b6475;margin:0 0 24px}
table{width:100%;border-collapse:collapse;background:#fff;border-radius:10px;overflow:hidden;box-shadow:0 1px 3px rgba(0,0,0,.08)}
th,td{text-align:left;padding:12px 16px;border-bottom:1px solid #eceef2}
th{font-size:.75rem;text-transform:uppercase;letter-spacing:.05em;color:#5b6475;background:#fafbfc}
tr:last-child td{border-bottom:none}
.badge{display:inline-block;padding:3px 10px;border-radius:999px;font-weight:600;font-size:.8rem}
.HIGH{background:#dcf5e3;color:#17633a}.MEDIUM{background:#fff1cc;color:#7a5200}.LOW{background:#fde0e0;color:#8f1d1d}
.age{color:#5b6475;font-size:.85rem}
.notice{padding:12px 16px;border-radius:8px;margin:0 0 16px}
.stale{background:#fff4e5;border:1px solid #f5c27a}
.empty{background:#eef2ff;border:1px solid #b8c4f5}
.legacy{margin-top:24px;color:#8a93a3;font-size:.8rem}
"#;

/// Keeps "updated N s ago" true between page loads without another request.
const AGE_SCRIPT: &str = r#"
setInterval(function(){var n=Date.now();document.querySelectorAll('[data-ms]').forEach(function(e){
var s=Math.max(0,Math.round((n-Number(e.dataset.ms))/1000));e.textContent='updated '+s+' s ago';});},1000);
"#;

fn age_seconds(now_ms: i64, then_ms: i64) -> i64 {
    ((now_ms - then_ms).max(0) + 500) / 1000
}

/// The legacy body, `{provider} - {name}: {availability}` joined by `<br>`, which old scrapers
/// of the dashboard still parse. Values are HTML-escaped (the legacy page was not).
pub fn legacy_lines(profiles: &[ProfileAvailability]) -> Markup {
    html! {
        @for (index, profile) in profiles.iter().enumerate() {
            @if index > 0 { br; }
            (profile.provider) " - " (profile.name) ": " (profile.availability)
        }
    }
}

pub fn render(view: &View<'_>) -> String {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta http-equiv="refresh" content="15";
                title { "Hardware availability" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                main {
                    h1 { "Hardware availability" }
                    p class="sub" { "How available each hardware profile is right now. Values are recomputed continuously in the background." }
                    @if view.stale {
                        div class="notice stale" role="status" {
                            strong { "Showing last known values. " }
                            "The hardware service has not answered"
                            @if let Some(success) = view.last_success_ms {
                                " for " (age_seconds(view.now_ms, success)) " s"
                            }
                            "; retrying in the background."
                        }
                    }
                    @match view.profiles {
                        None => {
                            div class="notice empty" role="status" {
                                strong { "Availability is not known yet. " }
                                "The portal has not received data from the hardware service since it started"
                                ". This page refreshes itself."
                            }
                        }
                        Some(profiles) => {
                            table {
                                thead { tr { th { "Provider" } th { "Profile" } th { "Availability" } th { "Freshness" } } }
                                tbody {
                                    @for profile in profiles {
                                        tr {
                                            td { (profile.provider) }
                                            td { (profile.name) }
                                            td { span class={ "badge " (profile.availability) } { (profile.availability) } }
                                            td class="age" data-ms=(profile.computed_at_ms) {
                                                "updated " (age_seconds(view.now_ms, profile.computed_at_ms)) " s ago"
                                            }
                                        }
                                    }
                                }
                            }
                            p class="legacy" id="legacy" { (legacy_lines(profiles)) }
                        }
                    }
                }
                script { (PreEscaped(AGE_SCRIPT)) }
            }
        }
    };
    page.into_string()
}
