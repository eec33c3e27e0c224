//! The notice to an affected individual (45 CFR 164.404(c)), in plain language, from one
//! template: (A) what happened, with the dates of the breach and of its discovery; (B) the kinds
//! of unsecured PHI involved; (C) the steps the individual should take to protect themselves;
//! (D) what the clinic is doing to investigate, mitigate harm and protect against further
//! breaches; (E) how to reach the clinic: a toll-free number, an email address and a postal
//! address.
//!
//! It is an HTML file the officer downloads and prints or mails: no PDF crate was in the build's
//! registry cache, and both candidates (genpdf, printpdf) need fonts embedded and their own
//! layout code, so HTML (printable, accessible, escaped here) is what ships.

use chrono::NaiveDate;

use super::ClinicContact;
use super::assessment::PHI_KINDS;

/// The one person the letter goes to (opened under the incident's permit).
pub struct Recipient<'a> {
    pub given_name: &'a str,
    pub family_name: &'a str,
    /// Address lines, in order.
    pub address: Vec<String>,
}

pub struct LetterFacts<'a> {
    pub breach_start: Option<NaiveDate>,
    pub breach_end: Option<NaiveDate>,
    pub discovered: NaiveDate,
    pub phi_kinds: &'a [String],
    pub actions: &'a [String],
    pub today: NaiveDate,
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn long_date(date: NaiveDate) -> String {
    date.format("%B %-d, %Y").to_string()
}

pub fn render(contact: &ClinicContact, to: &Recipient<'_>, facts: &LetterFacts<'_>) -> String {
    let e = escape;
    let when = match (facts.breach_start, facts.breach_end) {
        (Some(start), Some(end)) if start == end => format!("on {}", long_date(start)),
        (Some(start), Some(end)) => format!("between {} and {}", long_date(start), long_date(end)),
        (Some(start), None) => format!("starting {}", long_date(start)),
        _ => "on a date we are still establishing".to_owned(),
    };
    let kinds: Vec<String> = facts
        .phi_kinds
        .iter()
        .filter_map(|k| PHI_KINDS.iter().find(|(key, _)| key == k).map(|(_, label)| format!("<li>{}</li>", e(label))))
        .collect();
    let kinds =
        if kinds.is_empty() { "<li>health information held in your record</li>".to_owned() } else { kinds.join("") };
    let identifiers = facts.phi_kinds.iter().any(|k| k == "identifiers" || k == "financial");
    let mut steps = vec![
        "Review the statements you receive from your health insurer and from us. If you see a service you did not receive, call the insurer or us at once.".to_owned(),
        "You may ask us for a copy of your record and for a list of who has seen it (an accounting of disclosures).".to_owned(),
        "Be careful with calls, emails or letters that ask for your personal information; we will never ask for it that way.".to_owned(),
    ];
    if identifiers {
        steps.push("Because identifiers were involved, consider placing a free fraud alert or security freeze with the three credit bureaus (Equifax, Experian, TransUnion) and reviewing your free credit reports at annualcreditreport.com.".to_owned());
    }
    let steps: String = steps.iter().map(|s| format!("<li>{}</li>", e(s))).collect();
    let mut actions: Vec<String> = facts.actions.iter().filter(|a| a.as_str() != "Other").map(|a| e(a)).collect();
    if actions.is_empty() {
        actions.push("Reviewed the access records of our systems".to_owned());
    }
    let actions: String = actions.iter().map(|a| format!("<li>{a}</li>")).collect();
    let address: String = to.address.iter().map(|line| format!("{}<br>", e(line))).collect();
    let name = format!("{} {}", to.given_name, to.family_name);
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Notice of a breach of your health information</title>
<style>body{{font-family:Georgia,serif;max-width:42rem;margin:2rem auto;line-height:1.5}}h1{{font-size:1.4rem}}h2{{font-size:1.1rem;margin-top:1.5rem}}</style>
</head>
<body>
<p>{clinic}<br>{clinic_address}</p>
<p>{today}</p>
<p class="recipient">{name_e}<br>{address}</p>
<h1>Notice of a breach of your health information</h1>
<p>Dear {name_e},</p>
<p>We are writing to tell you about an incident that involved some of your health information, what we are doing about it, and what you can do.</p>
<h2 id="what-happened">What happened</h2>
<p>Someone accessed your health information at {clinic} without a work-related reason {when}. We discovered this on {discovered}. We investigated at once, using the records our systems keep of every access to patient information.</p>
<h2 id="what-information">What information was involved</h2>
<ul>{kinds}</ul>
<h2 id="what-you-can-do">What you can do</h2>
<ul>{steps}</ul>
<h2 id="what-we-are-doing">What we are doing</h2>
<p>We are investigating what happened, working to lessen any harm to you, and taking steps to prevent this from happening again. So far we have:</p>
<ul>{actions}</ul>
<h2 id="contact">For more information</h2>
<p>If you have questions, please contact our {contact_name}:</p>
<ul>
<li>Toll-free telephone: {phone}</li>
<li>Email: {email}</li>
<li>Postal address: {clinic_address}</li>
</ul>
<p>We sincerely apologize for this incident.</p>
<p>Sincerely,<br>{contact_name}<br>{clinic}</p>
</body>
</html>
"#,
        clinic = e(&contact.name),
        clinic_address = e(&contact.postal_address()),
        today = long_date(facts.today),
        name_e = e(&name),
        when = e(&when),
        discovered = long_date(facts.discovered),
        contact_name = e(&contact.contact_name),
        phone = e(&contact.contact_phone),
        email = e(&contact.contact_email),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_addresses_are_escaped() {
        assert_eq!(escape("<b>\"O'Neil\" & co</b>"), "&lt;b&gt;&quot;O&#39;Neil&quot; &amp; co&lt;/b&gt;");
        let day = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        let to = Recipient { given_name: "<script>", family_name: "X", address: vec!["1 <Lane>".into()] };
        let facts = LetterFacts {
            breach_start: Some(day),
            breach_end: Some(day),
            discovered: day,
            phi_kinds: &[],
            actions: &[],
            today: day,
        };
        let html = render(&ClinicContact::default(), &to, &facts);
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt; X"));
        assert!(html.contains("1 &lt;Lane&gt;"));
        assert!(html.contains("on March 10, 2026"));
    }
}
