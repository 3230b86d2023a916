//! Secrets in command lines, replaced by `***` before any sink sees them.
//!
//! podtop records every command line on the node, and people pass passwords
//! and tokens as arguments. What is matched (the README lists it; Tetragon's
//! redaction filters were the reference):
//!
//! - the value of an option whose name says it is a secret, as `--name=value`
//!   or `--name value` (and `-name`): names containing password, passwd,
//!   passphrase, secret, token, apikey / api-key / api_key, access-key,
//!   private-key, credential, or being `--pass` / `--pwd`; not the names of
//!   files that hold one (`--password-file`);
//! - the glued password of the MySQL family (`mysql -pSECRET`), `sshpass -p
//!   SECRET`, `redis-cli -a SECRET`;
//! - the value of an HTTP header that carries credentials, wherever it appears
//!   (`curl -H "Authorization: Bearer ..."`): Authorization,
//!   Proxy-Authorization, Cookie, and any header naming a token, key or secret;
//! - the password in a URL (`https://user:secret@host/`), anywhere in an argument;
//! - `NAME=value` arguments (`env DB_PASSWORD=... cmd`) whose name is a secret's;
//! - all of the above inside an argument made of words (`sh -c "mysql -pX db"`),
//!   word by word.

use std::borrow::Cow;

pub const MASK: &str = "***";

/// Name parts that make an option or variable a secret.
const SECRET_PARTS: &[&str] =
    &["password", "passwd", "passphrase", "secret", "token", "apikey", "api-key", "access-key", "private-key", "credential"];
/// Whole option names that are secrets on their own.
const SECRET_NAMES: &[&str] = &["pass", "pwd", "pw"];
/// Suffixes of names that point at a secret rather than hold one.
const POINTERS: &[&str] = &["-file", "-path", "-env", "-dir", "-stdin", "-cmd", "-command", "-prompt"];
/// HTTP authentication schemes, followed by the credential.
const AUTH_SCHEMES: &[&str] = &["bearer", "basic", "token", "digest", "negotiate", "ntlm", "aws4-hmac-sha256"];
const MYSQL_FAMILY: &[&str] =
    &["mysql", "mysqldump", "mysqladmin", "mysqlimport", "mysqlcheck", "mysqlshow", "mariadb", "mariadb-dump", "mariadb-admin"];

fn normalise(name: &str) -> String {
    name.trim_start_matches('-').to_ascii_lowercase().replace('_', "-")
}

fn is_secret_name(name: &str) -> bool {
    let name = normalise(name);
    if name.is_empty() || POINTERS.iter().any(|p| name.ends_with(p)) {
        return false;
    }
    SECRET_NAMES.contains(&name.as_str()) || SECRET_PARTS.iter().any(|part| name.contains(part))
}

fn is_secret_header(name: &str) -> bool {
    let name = name.trim().to_ascii_lowercase();
    matches!(name.as_str(), "authorization" | "proxy-authorization" | "cookie" | "set-cookie")
        || ["token", "secret", "api-key", "apikey", "auth"].iter().any(|p| name.contains(p))
}

fn program_name(argv0: &[u8]) -> &[u8] {
    argv0.rsplit(|b| *b == b'/').next().unwrap_or(argv0)
}

/// The arguments of one exec with secrets masked, and whether any was.
pub fn redact_args<'a>(args: &[&'a [u8]]) -> (Vec<Cow<'a, [u8]>>, bool) {
    let (mut out, mut redacted) = redact_once(args);
    // Masking can bring another rule into view (a word of a masked argument):
    // apply the rules until nothing changes, so that masking is stable.
    for _ in 0..4 {
        if !redacted {
            break;
        }
        let current: Vec<&[u8]> = out.iter().map(|a| a.as_ref()).collect();
        let (next, changed) = redact_once(&current);
        if !changed || next == out {
            break;
        }
        out = next.into_iter().map(|a| Cow::Owned(a.into_owned())).collect();
    }
    if redacted {
        redacted = out.iter().zip(args).any(|(o, a)| o.as_ref() != *a);
    }
    (out, redacted)
}

fn redact_once<'a>(args: &[&'a [u8]]) -> (Vec<Cow<'a, [u8]>>, bool) {
    let (mut out, mut redacted) = redact_words(args);
    // A script or a command line in one argument (`sh -c "..."`): its words too.
    for arg in out.iter_mut().skip(1) {
        if !arg.contains(&b' ') {
            continue;
        }
        let words: Vec<&[u8]> = arg.split(|b| *b == b' ').collect();
        let (masked, any) = redact_words(&words);
        if any {
            let joined = masked.join(&b' ');
            if joined != arg.as_ref() {
                *arg = Cow::Owned(joined);
                redacted = true;
            }
        }
    }
    (out, redacted)
}

/// The token rules over one list of words, the first being the program.
fn redact_words<'a>(args: &[&'a [u8]]) -> (Vec<Cow<'a, [u8]>>, bool) {
    let program = args.first().map(|a| program_name(a)).unwrap_or_default();
    let mysql = MYSQL_FAMILY.iter().any(|p| p.as_bytes() == program);
    let value_after: &[&str] = match program {
        b"sshpass" => &["-p"],
        b"redis-cli" => &["-a"],
        _ => &[],
    };
    let mut out: Vec<Cow<'a, [u8]>> = Vec::with_capacity(args.len());
    let mut redacted = false;
    let mut mask_next = false;
    for (i, arg) in args.iter().enumerate() {
        if mask_next {
            mask_next = false;
            if !arg.starts_with(b"-") {
                // "Bearer xyz": the scheme's credential is the word after it.
                let scheme = String::from_utf8_lossy(arg).trim_matches(['\'', '"']).to_ascii_lowercase();
                mask_next = AUTH_SCHEMES.contains(&scheme.as_str());
                out.push(Cow::Borrowed(MASK.as_bytes()));
                redacted = true;
                continue;
            }
        }
        let text = String::from_utf8_lossy(arg);
        let masked = if i == 0 { None } else { redact_one(&text, mysql) };
        match masked {
            Some(m) => {
                out.push(Cow::Owned(m.into_bytes()));
                redacted = true;
            }
            None => {
                out.push(Cow::Borrowed(arg));
                let is_flag = text.starts_with('-') && !text.contains('=');
                let secret_flag = is_flag && (is_secret_name(&text) || value_after.contains(&text.as_ref()));
                // `Authorization:` with its value in the next word (inside `sh -c "..."`).
                let bare_header = secret_header(&text).is_some_and(|(_, value)| value.trim().is_empty());
                mask_next = i > 0 && (secret_flag || bare_header);
            }
        }
    }
    (out, redacted)
}

/// One argument with its secret masked, or None when it holds none.
fn redact_one(arg: &str, mysql: bool) -> Option<String> {
    if let Some((name, _)) = arg.split_once('=') {
        let is_option = name.starts_with('-') && is_secret_name(name);
        let is_variable = !name.starts_with('-')
            && !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && is_secret_name(name);
        if is_option || is_variable {
            return Some(format!("{name}={MASK}"));
        }
    }
    if mysql && arg.len() > 2 && arg.starts_with("-p") && !arg.starts_with("-p=") {
        return Some(format!("-p{MASK}"));
    }
    if let Some((name, value)) = secret_header(arg) {
        if !value.trim().is_empty() {
            return Some(format!("{name}: {MASK}"));
        }
    }
    redact_url_password(arg)
}

/// `Name: value` where the header carries credentials: (name, value).
fn secret_header(arg: &str) -> Option<(&str, &str)> {
    let (name, value) = arg.split_once(':')?;
    let bare = name.trim_start_matches(['\'', '"']);
    let header = !bare.is_empty() && !bare.contains(['/', ' ']) && !value.starts_with("//") && is_secret_header(bare);
    header.then_some((name, value))
}

/// `scheme://user:password@host` -> `scheme://user:***@host`, everywhere in `arg`.
fn redact_url_password(arg: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = arg;
    let mut changed = false;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let authority_end = after.find(['/', '?', '#', ' ']).unwrap_or(after.len());
        let authority = &after[..authority_end];
        match authority.rfind('@').and_then(|at| authority[..at].find(':').map(|colon| (colon, at))) {
            Some((colon, at)) if colon + 1 < at => {
                out.push_str(&authority[..=colon]);
                out.push_str(MASK);
                out.push_str(&authority[at..]);
                changed = true;
            }
            _ => out.push_str(authority),
        }
        rest = &after[authority_end..];
    }
    out.push_str(rest);
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redacted(argv: &[&str]) -> Vec<String> {
        let bytes: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
        let (out, any) = redact_args(&bytes);
        let out: Vec<String> = out.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        assert_eq!(any, out != argv, "{argv:?}");
        out
    }

    #[test]
    fn options_that_hold_secrets() {
        assert_eq!(redacted(&["app", "--password=hunter2", "--user=bob"]), ["app", "--password=***", "--user=bob"]);
        assert_eq!(redacted(&["app", "--db-password", "hunter2", "-v"]), ["app", "--db-password", "***", "-v"]);
        assert_eq!(redacted(&["app", "--token", "abc", "--api_key=k", "--client-secret", "s"]), ["app", "--token", "***", "--api_key=***", "--client-secret", "***"]);
        assert_eq!(redacted(&["app", "-token", "abc"]), ["app", "-token", "***"]);
        assert_eq!(redacted(&["app", "--pass", "x", "--passes", "3"]), ["app", "--pass", "***", "--passes", "3"]);
        // A flag with no value after it masks nothing.
        assert_eq!(redacted(&["app", "--password", "--verbose"]), ["app", "--password", "--verbose"]);
        // Names of files that hold a secret are not secrets.
        assert_eq!(redacted(&["app", "--password-file", "/etc/pw", "--token-path=/t"]), ["app", "--password-file", "/etc/pw", "--token-path=/t"]);
    }

    #[test]
    fn tools_with_their_own_spelling() {
        assert_eq!(redacted(&["/usr/bin/mysql", "-u", "root", "-pS3cret", "db"]), ["/usr/bin/mysql", "-u", "root", "-p***", "db"]);
        assert_eq!(redacted(&["mysql", "-p", "db"]), ["mysql", "-p", "db"], "-p alone prompts: nothing to hide");
        assert_eq!(redacted(&["grep", "-pattern"]), ["grep", "-pattern"], "-p means a password only for the MySQL family");
        assert_eq!(redacted(&["sshpass", "-p", "pw", "ssh", "host"]), ["sshpass", "-p", "***", "ssh", "host"]);
        assert_eq!(redacted(&["redis-cli", "-a", "pw", "PING"]), ["redis-cli", "-a", "***", "PING"]);
    }

    #[test]
    fn headers_urls_and_variables() {
        assert_eq!(
            redacted(&["curl", "-H", "Authorization: Bearer eyJhbGc", "-H", "Accept: */*", "https://api/x"]),
            ["curl", "-H", "Authorization: ***", "-H", "Accept: */*", "https://api/x"]
        );
        assert_eq!(redacted(&["curl", "-H", "X-Api-Key:k1", "-H", "Cookie: s=1"]), ["curl", "-H", "X-Api-Key: ***", "-H", "Cookie: ***"]);
        assert_eq!(
            redacted(&["git", "clone", "https://bob:tok3n@git.example/r.git", "postgres://u:p@db:5432/x"]),
            ["git", "clone", "https://bob:***@git.example/r.git", "postgres://u:***@db:5432/x"]
        );
        assert_eq!(redacted(&["git", "clone", "https://bob@git.example/r.git"]), ["git", "clone", "https://bob@git.example/r.git"]);
        assert_eq!(redacted(&["env", "DB_PASSWORD=x", "AWS_SECRET_ACCESS_KEY=y", "PATH=/bin", "app"]), ["env", "DB_PASSWORD=***", "AWS_SECRET_ACCESS_KEY=***", "PATH=/bin", "app"]);
        // The program itself is never masked, nor ordinary text.
        assert_eq!(redacted(&["token", "hello", "a=b"]), ["token", "hello", "a=b"]);
        // A command line inside one argument, word by word.
        assert_eq!(
            redacted(&["sh", "-c", "mysql -u root -pS3cret db && app --token abc"]),
            ["sh", "-c", "mysql -u root -p*** db && app --token ***"]
        );
        assert_eq!(
            redacted(&["sh", "-c", "curl -H 'Authorization: Bearer abc' http://x"]),
            ["sh", "-c", "curl -H 'Authorization: *** *** http://x"]
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Masking keeps the arguments' count, and masking twice changes nothing more.
        #[test]
        fn masking_is_stable(argv in proptest::collection::vec("(--?(password|token|user|pass)[=]?)?[a-z:/@ =*-]{0,12}", 1..6)) {
            let bytes: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
            let (once, _) = redact_args(&bytes);
            proptest::prop_assert_eq!(once.len(), argv.len());
            let again: Vec<&[u8]> = once.iter().map(|a| a.as_ref()).collect();
            let (twice, _) = redact_args(&again);
            proptest::prop_assert_eq!(&twice, &once);
        }
    }

    #[test]
    fn masking_is_stable_on_what_the_fuzzer_found() {
        // A header-like word whose value is the next word; a URL password and a
        // header-like word in one argument.
        let found: [&[u8]; 2] = [
            b"\0 secret\xbf\xbd:\x02\x90=",
            b"\0\x85A\0\0en\xf6\xf6[ \x95\x95\x95\x95\xff\xff\xff.\x95\0\x95\xf6/\xce\xf6[ \x95\x95\x95\x95\x95,tokenUUUU\x95\x95\x95:0/\xce\x8b\x95\x95:\x95@://\xce\x8b\x95\x95:\x95@$\xaf",
        ];
        for input in found {
            let args: Vec<&[u8]> = input.split(|b| *b == 0).collect();
            let (once, _) = redact_args(&args);
            let again: Vec<&[u8]> = once.iter().map(|a| a.as_ref()).collect();
            assert_eq!(redact_args(&again).0, once);
        }
    }

    #[test]
    fn any_bytes_never_panic() {
        let mut seed = 11u32;
        for _ in 0..3000 {
            let argv: Vec<Vec<u8>> = (0..(seed % 5 + 1))
                .map(|_| {
                    (0..(seed % 13))
                        .map(|_| {
                            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                            b"-=:/@pa sw\xff\xc3tokn"[(seed >> 16) as usize % 16]
                        })
                        .collect()
                })
                .collect();
            let refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
            let (out, _) = redact_args(&refs);
            assert_eq!(out.len(), refs.len());
        }
    }
}
