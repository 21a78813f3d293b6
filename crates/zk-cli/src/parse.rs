//! Splitting a line into words as `ZooKeeperMain.MyCommandOptions` does, the invocation options,
//! and a small parser with the behaviour and messages of commons-cli's `DefaultParser`, which each
//! zkCli command uses for its flags.

use std::collections::BTreeMap;

/// The words of a command line: runs of non-blanks, or text in matching single or double quotes
/// (quotes removed), as zkCli's `\s*([^"']\S*|"[^"]*"|'[^']*')\s*`.
pub fn split_words(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut words = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let c = chars[i];
        if c == '"' || c == '\'' {
            if let Some(end) = chars[i + 1..].iter().position(|&x| x == c) {
                words.push(chars[i + 1..i + 1 + end].iter().collect());
                i += end + 2;
                continue;
            }
            // No closing quote: the regex can only match from the next character on.
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        words.push(word);
    }
    words
}

/// The options before the command on the `zkcli` command line (zkCli.sh's, same names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// `-server host:port[,host:port...][/chroot]`, default `localhost:2181`.
    pub server: String,
    /// `-timeout ms`: the session timeout, default 30000.
    pub timeout_ms: u64,
    /// `-r`: accept a read-only server.
    pub read_only: bool,
    /// `-waitforconnection`: wait for the session before anything else.
    pub wait_for_connection: bool,
    /// `-client-configuration file` (accepted; the Java client properties do not apply here).
    pub client_configuration: Option<String>,
    /// The command to run once, with its arguments (the command name first).
    pub command: Option<Vec<String>>,
}

impl Default for Invocation {
    fn default() -> Self {
        Invocation {
            server: "localhost:2181".into(),
            timeout_ms: 30000,
            read_only: false,
            wait_for_connection: false,
            client_configuration: None,
            command: None,
        }
    }
}

impl Invocation {
    /// Parses the arguments after the program name, as `MyCommandOptions.parseOptions`:
    /// unknown options are ignored, the first word not starting with `-` starts the command.
    pub fn parse(args: &[String]) -> Result<Invocation, String> {
        let mut inv = Invocation::default();
        let mut it = args.iter();
        while let Some(opt) = it.next() {
            let mut value = |name: &str| {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("Error: no argument found for option {name}"))
            };
            match opt.as_str() {
                "-server" => inv.server = value(opt)?,
                "-timeout" => {
                    let v = value(opt)?;
                    inv.timeout_ms = v
                        .parse()
                        .map_err(|_| format!("For input string: \"{v}\""))?;
                }
                "-r" => inv.read_only = true,
                "-client-configuration" => inv.client_configuration = Some(value(opt)?),
                "-waitforconnection" => inv.wait_for_connection = true,
                _ => {}
            }
            if !opt.starts_with('-') {
                let mut cmd = vec![opt.clone()];
                cmd.extend(it.cloned());
                inv.command = Some(cmd);
                break;
            }
        }
        Ok(inv)
    }
}

/// One option a command accepts: its letter, and whether it takes a value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Opt {
    pub(crate) name: char,
    pub(crate) takes_value: bool,
    pub(crate) description: &'static str,
}

pub(crate) const fn flag(name: char) -> Opt {
    Opt {
        name,
        takes_value: false,
        description: "",
    }
}

pub(crate) const fn valued(name: char) -> Opt {
    Opt {
        name,
        takes_value: true,
        description: "",
    }
}

/// What a command's words parse into: the options seen and the other words (the command name
/// first), as commons-cli's `CommandLine`.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    opts: BTreeMap<char, Option<String>>,
    pub(crate) args: Vec<String>,
}

impl Parsed {
    pub(crate) fn has(&self, name: char) -> bool {
        self.opts.contains_key(&name)
    }

    pub(crate) fn value(&self, name: char) -> Option<&str> {
        self.opts.get(&name).and_then(|v| v.as_deref())
    }
}

/// A group of options of which at most one may be given (commons-cli's `OptionGroup`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Group<'a> {
    pub(crate) opts: &'a [Opt],
    pub(crate) required: bool,
}

/// Parses `words` (the command name first) against `opts` as commons-cli's `DefaultParser`;
/// the error is the text zkCli prints for the `ParseException`.
pub(crate) fn parse_opts(
    words: &[String],
    opts: &[Opt],
    group: Option<Group<'_>>,
) -> Result<Parsed, String> {
    let all: Vec<Opt> = opts
        .iter()
        .copied()
        .chain(group.iter().flat_map(|g| g.opts.iter().copied()))
        .collect();
    let find = |c: char| all.iter().find(|o| o.name == c).copied();
    let mut parsed = Parsed::default();
    let mut selected: Option<char> = None;
    let mut select = |c: char, parsed: &mut Parsed, value: Option<String>| -> Result<(), String> {
        if let Some(g) = group
            && g.opts.iter().any(|o| o.name == c)
        {
            if let Some(prev) = selected
                && prev != c
            {
                return Err(format!(
                    "org.apache.commons.cli.AlreadySelectedException: The option '{c}' was specified but an option from this group has already been selected: '{prev}'"
                ));
            }
            selected = Some(c);
        }
        parsed.opts.insert(c, value);
        Ok(())
    };
    let mut i = 0;
    let mut only_args = false;
    while i < words.len() {
        let w = &words[i];
        i += 1;
        if only_args || !w.starts_with('-') || w.len() == 1 {
            parsed.args.push(w.clone());
            continue;
        }
        if w == "--" {
            only_args = true;
            continue;
        }
        let body = &w[1..];
        let mut chars = body.chars();
        let first = chars.next().unwrap_or('-');
        match find(first) {
            Some(o) if body.chars().count() == 1 => {
                if o.takes_value {
                    match words.get(i) {
                        Some(v) if !(v.starts_with('-') && v.len() > 1 && find_any(&all, v)) => {
                            i += 1;
                            select(o.name, &mut parsed, Some(v.clone()))?;
                        }
                        _ => {
                            return Err(format!(
                                "org.apache.commons.cli.MissingArgumentException: Missing argument for option: {}",
                                o.name
                            ));
                        }
                    }
                } else {
                    select(o.name, &mut parsed, None)?;
                }
            }
            Some(o) if o.takes_value => {
                // `-v3`: the rest is the value.
                select(o.name, &mut parsed, Some(chars.as_str().to_owned()))?;
            }
            Some(_) if body.chars().all(|c| find(c).is_some()) => {
                // Concatenated flags, `-sw`; a valued one takes the rest.
                let cs: Vec<char> = body.chars().collect();
                let mut k = 0;
                while k < cs.len() {
                    let o = find(cs[k]).expect("checked above");
                    if o.takes_value {
                        let rest: String = cs[k + 1..].iter().collect();
                        let value = if rest.is_empty() {
                            let v = words.get(i).cloned();
                            i += 1;
                            v
                        } else {
                            Some(rest)
                        };
                        select(o.name, &mut parsed, value)?;
                        break;
                    }
                    select(o.name, &mut parsed, None)?;
                    k += 1;
                }
            }
            _ => {
                if w.parse::<f64>().is_ok() {
                    parsed.args.push(w.clone());
                } else {
                    return Err(format!(
                        "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: {w}"
                    ));
                }
            }
        }
    }
    if let Some(g) = group
        && g.required
        && selected.is_none()
    {
        let names: Vec<String> = g
            .opts
            .iter()
            .map(|o| format!("-{} {}", o.name, o.description))
            .collect();
        return Err(format!(
            "org.apache.commons.cli.MissingOptionException: Missing required option: [{}]",
            names.join(", ")
        ));
    }
    Ok(parsed)
}

fn find_any(all: &[Opt], word: &str) -> bool {
    word[1..]
        .chars()
        .next()
        .is_some_and(|c| all.iter().any(|o| o.name == c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        split_words(s)
    }

    #[test]
    fn words_and_quotes() {
        assert_eq!(
            w("  create /a 'hello world'  x"),
            ["create", "/a", "hello world", "x"]
        );
        assert_eq!(w("set /a \"\""), ["set", "/a", ""]);
        assert!(w("   ").is_empty());
    }

    #[test]
    fn options_like_commons_cli() {
        let opts = [flag('s'), flag('w'), valued('v')];
        let p = parse_opts(&w("get -s /a"), &opts, None).unwrap();
        assert!(p.has('s') && !p.has('w'));
        assert_eq!(p.args, ["get", "/a"]);
        let p = parse_opts(&w("set /a x -v 3"), &opts, None).unwrap();
        assert_eq!(p.value('v'), Some("3"));
        assert_eq!(p.args, ["set", "/a", "x"]);
        let p = parse_opts(&w("ls -sw /"), &opts, None).unwrap();
        assert!(p.has('s') && p.has('w'));
        assert_eq!(
            parse_opts(&w("ls -x /"), &opts, None).unwrap_err(),
            "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: -x"
        );
        assert_eq!(
            parse_opts(&w("delete /a -v"), &opts, None).unwrap_err(),
            "org.apache.commons.cli.MissingArgumentException: Missing argument for option: v"
        );
    }

    #[test]
    fn invocation() {
        let args: Vec<String> = [
            "-server", "h:1/r", "-timeout", "5000", "-r", "get", "-s", "/a",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let inv = Invocation::parse(&args).unwrap();
        assert_eq!(inv.server, "h:1/r");
        assert_eq!(inv.timeout_ms, 5000);
        assert!(inv.read_only);
        assert_eq!(inv.command.unwrap(), ["get", "-s", "/a"]);
    }
}
