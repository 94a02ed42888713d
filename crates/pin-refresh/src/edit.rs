//! Rewrites one image pin (`images.<key>.tag` and `images.<key>.digest`) in the text of
//! `bundle.yaml`, changing only the bytes of those two values.
//!
//! The values are located with a YAML event parser that reports source positions, never with
//! text patterns, so a `tag:` inside a comment or under another key cannot be hit. Every other
//! byte (comments, key order, blank lines, quoting, flow or block style, line endings) is kept.
//! The new value keeps the quoting of the old one; a plain value that would read back as
//! something other than a string (`1.10` is a float) is double-quoted instead.
//!
//! A pin is always `tag@digest`, so when exactly one of `tag` and `digest` is written, the
//! missing one is added next to it (same indentation in a block mapping, inside the braces of
//! a flow mapping), which is what an operator who wrote only a tag expects from a refresh.
//! Anything that cannot be rewritten by replacing one value in place is refused with the key
//! and the fix: anchors and aliases (an edit would change other nodes too), YAML tags, block
//! and multi-line scalars, duplicated keys, a missing `images.<key>` mapping.

use bundle_gen::{Digest, ImageName, Tag};
use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span};

/// Why a pin could not be written into `bundle.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The text is not YAML.
    #[error("bundle.yaml is not valid YAML at line {line}, column {column}: {reason}")]
    Syntax {
        /// Line of the error (1-based).
        line: usize,
        /// Column of the error (1-based, in characters).
        column: usize,
        /// What the parser found wrong.
        reason: String,
    },
    /// The text holds more than one YAML document.
    #[error(
        "bundle.yaml holds a second YAML document starting at line {line}; keep the whole \
         config in one document"
    )]
    SeveralDocuments {
        /// Line where the second document starts.
        line: usize,
    },
    /// A mapping on the way to the pin is missing.
    #[error("`{path}` is missing from bundle.yaml; {hint}")]
    MissingKey {
        /// Dotted path of the missing key.
        path: String,
        /// How to fix it.
        hint: &'static str,
    },
    /// A node on the way to the pin is not a mapping.
    #[error("`{path}` at line {line} must be a mapping of keys to values, but it is {found}")]
    NotAMapping {
        /// Dotted path of the node (`(document)` for the top level).
        path: String,
        /// Line of the node.
        line: usize,
        /// What was found instead.
        found: &'static str,
    },
    /// A key appears twice in one mapping.
    #[error(
        "`{path}` appears twice in bundle.yaml (lines {first_line} and {second_line}); YAML \
         forbids duplicate keys: delete one of them"
    )]
    DuplicateKey {
        /// Dotted path of the duplicated key.
        path: String,
        /// Line of the first occurrence.
        first_line: usize,
        /// Line of the second occurrence.
        second_line: usize,
    },
    /// A node is written in a form that cannot be rewritten by replacing it in place.
    #[error("`{path}` at line {line} {what}, which `bundle pins` cannot rewrite in place; {hint}")]
    Unsupported {
        /// Dotted path of the node.
        path: String,
        /// Line of the node.
        line: usize,
        /// What the node is.
        what: &'static str,
        /// How to write it instead.
        hint: &'static str,
    },
    /// The image has neither `tag` nor `digest`, so there is nothing to put the new pin next to.
    #[error(
        "`{path}` has neither `tag` nor `digest`; add both (e.g. `tag: v1.2.3` and \
         `digest: \"sha256:...\"`), then refresh again"
    )]
    NoPin {
        /// Dotted path of the image.
        path: String,
    },
    /// The edited text did not read back as the requested pin. This is a bug in the editor;
    /// nothing is written when it happens.
    #[error(
        "internal error: after editing, `{path}` reads back as {found:?} instead of `{expected}`; \
         bundle.yaml was left unchanged, please report this with the file"
    )]
    NotVerified {
        /// Dotted path of the value.
        path: String,
        /// The value that should have been written.
        expected: String,
        /// What the edited text holds instead.
        found: Option<String>,
    },
}

/// Returns `yaml` with `images.<image>.tag` set to `tag` and `images.<image>.digest` set to
/// `digest`, every other byte unchanged (see the module documentation for the rules).
pub fn set_pin(
    yaml: &str,
    image: ImageName,
    tag: &Tag,
    digest: &Digest,
) -> Result<String, EditError> {
    let source = Source::new(yaml);
    let site = locate(&source, image)?;
    let edits = plan_edits(&source, &site, tag.as_str(), digest.as_str())?;
    let edited = apply(yaml, edits);

    let check = Source::new(&edited);
    let after = locate(&check, image)?;
    verify(&after.tag, &site.path, "tag", tag.as_str())?;
    verify(&after.digest, &site.path, "digest", digest.as_str())?;
    Ok(edited)
}

/// The text with a table from character positions (what the parser reports) to byte offsets.
struct Source<'a> {
    text: &'a str,
    /// Byte offset of each character, plus the text length at the end.
    byte_of_char: Vec<usize>,
}

impl<'a> Source<'a> {
    fn new(text: &'a str) -> Self {
        let mut byte_of_char: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        byte_of_char.push(text.len());
        Self { text, byte_of_char }
    }

    fn byte(&self, char_index: usize) -> usize {
        self.byte_of_char
            .get(char_index)
            .copied()
            .unwrap_or(self.text.len())
    }

    fn char_at(&self, char_index: usize) -> Option<char> {
        self.text[self.byte(char_index)..].chars().next()
    }
}

/// A parsed node with the positions needed to edit it.
enum Node {
    Scalar(ScalarNode),
    Mapping(MappingNode),
    Sequence { line: usize },
    Alias { line: usize },
}

/// Anchor and YAML tag of a node, which make an in-place edit unsafe.
#[derive(Clone, Copy)]
struct Properties {
    anchored: bool,
    tagged: bool,
}

struct ScalarNode {
    value: String,
    style: ScalarStyle,
    properties: Properties,
    /// Character index where the node starts (its opening quote for quoted scalars).
    start: usize,
    /// Character index where the parser says the node ends (exact for plain scalars only).
    parser_end: usize,
    line: usize,
    /// Column (0-based, in characters) of the first character.
    column: usize,
}

struct MappingNode {
    flow: bool,
    properties: Properties,
    line: usize,
    entries: Vec<(Node, Node)>,
}

impl Node {
    fn line(&self) -> usize {
        match self {
            Node::Scalar(scalar) => scalar.line,
            Node::Mapping(mapping) => mapping.line,
            Node::Sequence { line, .. } | Node::Alias { line } => *line,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Node::Scalar(_) => "a single value",
            Node::Mapping(_) => "a mapping",
            Node::Sequence { .. } => "a list",
            Node::Alias { .. } => "an alias",
        }
    }
}

type Events<'a> = Parser<'a, saphyr_parser::StrInput<'a>>;

fn next_event<'a>(
    events: &mut Events<'a>,
    source: &Source<'_>,
) -> Result<(Event<'a>, Span), EditError> {
    match events.next() {
        Some(Ok(event)) => Ok(event),
        Some(Err(error)) => Err(syntax_error(&error)),
        None => Err(EditError::Syntax {
            line: source.text.lines().count().max(1),
            column: 1,
            reason: "the document ends early".to_owned(),
        }),
    }
}

fn syntax_error(error: &ScanError) -> EditError {
    EditError::Syntax {
        line: error.marker().line(),
        column: error.marker().col() + 1,
        reason: error.info().to_owned(),
    }
}

/// Parses the single document of `source` into a tree of nodes.
fn parse_document(source: &Source<'_>) -> Result<Node, EditError> {
    let mut events = Parser::new_from_str(source.text);
    let mut root = None;
    loop {
        let (event, span) = next_event(&mut events, source)?;
        match event {
            Event::StreamEnd => break,
            Event::DocumentStart(_) if root.is_some() => {
                return Err(EditError::SeveralDocuments {
                    line: span.start.line(),
                });
            }
            Event::StreamStart | Event::DocumentStart(_) | Event::DocumentEnd | Event::Nothing => {}
            _ => root = Some(read_node(&mut events, source, event, span)?),
        }
    }
    root.ok_or_else(|| EditError::MissingKey {
        path: "images".to_owned(),
        hint: "bundle.yaml is empty; start from the example config in the repository",
    })
}

fn properties(anchor_id: usize, tag: bool) -> Properties {
    Properties {
        anchored: anchor_id != 0,
        tagged: tag,
    }
}

fn read_node<'a>(
    events: &mut Events<'a>,
    source: &Source<'_>,
    event: Event<'a>,
    span: Span,
) -> Result<Node, EditError> {
    let line = span.start.line();
    match event {
        Event::Scalar(value, style, anchor_id, tag) => Ok(Node::Scalar(ScalarNode {
            value: value.into_owned(),
            style,
            properties: properties(anchor_id, tag.is_some()),
            start: span.start.index(),
            parser_end: span.end.index(),
            line,
            column: span.start.col(),
        })),
        Event::MappingStart(anchor_id, tag) => {
            // A flow mapping's start event covers its `{`; a block mapping's is empty.
            let flow = span.end.index() > span.start.index()
                && source.char_at(span.end.index() - 1) == Some('{');
            let mut entries = Vec::new();
            loop {
                let (event, span) = next_event(events, source)?;
                if matches!(event, Event::MappingEnd) {
                    break;
                }
                let key = read_node(events, source, event, span)?;
                let (event, span) = next_event(events, source)?;
                let value = read_node(events, source, event, span)?;
                entries.push((key, value));
            }
            Ok(Node::Mapping(MappingNode {
                flow,
                properties: properties(anchor_id, tag.is_some()),
                line,
                entries,
            }))
        }
        Event::SequenceStart(..) => {
            loop {
                let (event, span) = next_event(events, source)?;
                if matches!(event, Event::SequenceEnd) {
                    break;
                }
                read_node(events, source, event, span)?;
            }
            Ok(Node::Sequence { line })
        }
        Event::Alias(_) => Ok(Node::Alias { line }),
        _ => Err(EditError::Syntax {
            line,
            column: span.start.col() + 1,
            reason: "unexpected structure".to_owned(),
        }),
    }
}

/// Where the pin of one image is written.
struct PinSite {
    /// `images.<key>`.
    path: String,
    flow: bool,
    tag: Option<ValueSite>,
    digest: Option<ValueSite>,
}

/// One `key: value` entry whose value is a one-line scalar.
struct ValueSite {
    value: String,
    style: ScalarStyle,
    key_start: usize,
    key_line_column: usize,
    /// Character range of the value's source text, quotes included.
    value_start: usize,
    value_end: usize,
}

fn locate(source: &Source<'_>, image: ImageName) -> Result<PinSite, EditError> {
    let root = parse_document(source)?;
    let root = as_mapping(&root, "(document)")?;
    let images = required_entry(
        root,
        "",
        "images",
        "add an `images:` mapping with `homeserver`, `livekit` and `lkJwt` pins",
    )?;
    let images = as_mapping(images, "images")?;
    let path = format!("images.{}", image.key());
    let pin = required_entry(
        images,
        "images",
        image.key(),
        "add the image with its registry, repository, tag, digest and policy",
    )?;
    let pin = as_mapping(pin, &path)?;
    let tag = value_site(source, pin, &path, "tag")?;
    let digest = value_site(source, pin, &path, "digest")?;
    Ok(PinSite {
        path,
        flow: pin.flow,
        tag,
        digest,
    })
}

fn as_mapping<'n>(node: &'n Node, path: &str) -> Result<&'n MappingNode, EditError> {
    match node {
        Node::Mapping(mapping) => {
            refuse_properties(mapping.properties, path, mapping.line)?;
            check_unique_keys(mapping, path)?;
            Ok(mapping)
        }
        Node::Alias { line } => Err(alias_error(path, *line)),
        other => Err(EditError::NotAMapping {
            path: path.to_owned(),
            line: other.line(),
            found: other.kind(),
        }),
    }
}

fn alias_error(path: &str, line: usize) -> EditError {
    EditError::Unsupported {
        path: path.to_owned(),
        line,
        what: "is an alias (`*name`)",
        hint: "write the value out in place of the alias",
    }
}

fn refuse_properties(properties: Properties, path: &str, line: usize) -> Result<(), EditError> {
    if properties.anchored {
        return Err(EditError::Unsupported {
            path: path.to_owned(),
            line,
            what: "carries an anchor (`&name`), so changing it would also change its aliases",
            hint: "drop the anchor and write the values out where they are used",
        });
    }
    if properties.tagged {
        return Err(EditError::Unsupported {
            path: path.to_owned(),
            line,
            what: "carries a YAML tag (such as `!!str`)",
            hint: "remove the tag; quote the value if it must stay a string",
        });
    }
    Ok(())
}

fn key_text(key: &Node) -> Option<&str> {
    match key {
        Node::Scalar(scalar) => Some(&scalar.value),
        _ => None,
    }
}

fn check_unique_keys(mapping: &MappingNode, path: &str) -> Result<(), EditError> {
    for (index, (key, _)) in mapping.entries.iter().enumerate() {
        let Some(name) = key_text(key) else { continue };
        let earlier = mapping.entries[..index]
            .iter()
            .find(|(other, _)| key_text(other) == Some(name));
        if let Some((first, _)) = earlier {
            return Err(EditError::DuplicateKey {
                path: join(path, name),
                first_line: first.line(),
                second_line: key.line(),
            });
        }
    }
    Ok(())
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() || path == "(document)" {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn entry<'n>(mapping: &'n MappingNode, key: &str) -> Option<(&'n Node, &'n Node)> {
    mapping
        .entries
        .iter()
        .find(|(candidate, _)| key_text(candidate) == Some(key))
        .map(|(key, value)| (key, value))
}

fn required_entry<'n>(
    mapping: &'n MappingNode,
    path: &str,
    key: &str,
    hint: &'static str,
) -> Result<&'n Node, EditError> {
    entry(mapping, key)
        .map(|(_, value)| value)
        .ok_or_else(|| EditError::MissingKey {
            path: join(path, key),
            hint,
        })
}

fn value_site(
    source: &Source<'_>,
    pin: &MappingNode,
    path: &str,
    key: &str,
) -> Result<Option<ValueSite>, EditError> {
    let Some((key_node, value)) = entry(pin, key) else {
        return Ok(None);
    };
    let path = join(path, key);
    let (Node::Scalar(key_scalar), Node::Scalar(scalar)) = (key_node, value) else {
        return Err(match value {
            Node::Alias { line } => alias_error(&path, *line),
            other => EditError::Unsupported {
                path,
                line: other.line(),
                what: "is not a single value",
                hint: "write the tag or digest as one string",
            },
        });
    };
    refuse_properties(scalar.properties, &path, scalar.line)?;
    let multi_line = || EditError::Unsupported {
        path: path.clone(),
        line: scalar.line,
        what: "spans several lines",
        hint: "write the value on one line",
    };
    if scalar.style == ScalarStyle::Plain && scalar.value.is_empty() {
        // An empty value has no source text to replace; its position is not reliable.
        return Err(EditError::Unsupported {
            path,
            line: scalar.line,
            what: "has no value",
            hint: "write a value, or delete the key and `bundle pins` adds it",
        });
    }
    let value_end = match scalar.style {
        ScalarStyle::Plain => {
            let (from, to) = (source.byte(scalar.start), source.byte(scalar.parser_end));
            if source.text[from..to].contains(['\n', '\r']) {
                return Err(multi_line());
            }
            scalar.parser_end
        }
        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
            quoted_end(source, scalar.start, scalar.style).ok_or_else(multi_line)?
        }
        ScalarStyle::Literal | ScalarStyle::Folded => {
            return Err(EditError::Unsupported {
                path,
                line: scalar.line,
                what: "is a block scalar (`|` or `>`)",
                hint: "write the value on the same line as its key",
            });
        }
    };
    Ok(Some(ValueSite {
        value: scalar.value.clone(),
        style: scalar.style,
        key_start: key_scalar.start,
        key_line_column: key_scalar.column,
        value_start: scalar.start,
        value_end,
    }))
}

/// The character index just after the closing quote of the quoted scalar starting at `start`,
/// or `None` when the scalar continues on another line. (The parser's end position for quoted
/// scalars can include trailing blanks and comments, so it is not used.)
fn quoted_end(source: &Source<'_>, start: usize, style: ScalarStyle) -> Option<usize> {
    let text = &source.text[source.byte(start)..];
    let mut chars = text.chars().enumerate().skip(1).peekable();
    while let Some((offset, c)) = chars.next() {
        match (style, c) {
            (_, '\n' | '\r') => return None,
            (ScalarStyle::SingleQuoted, '\'') => {
                if chars.peek().is_some_and(|(_, next)| *next == '\'') {
                    chars.next();
                } else {
                    return Some(start + offset + 1);
                }
            }
            // The escaped character is skipped; an escaped line break continues the scalar.
            (ScalarStyle::DoubleQuoted, '\\') => match chars.next() {
                Some((_, '\n' | '\r')) | None => return None,
                Some(_) => {}
            },
            (ScalarStyle::DoubleQuoted, '"') => return Some(start + offset + 1),
            _ => {}
        }
    }
    None
}

/// A replacement of the byte range `start..end` by `text`.
struct Splice {
    start: usize,
    end: usize,
    text: String,
}

fn plan_edits(
    source: &Source<'_>,
    site: &PinSite,
    tag: &str,
    digest: &str,
) -> Result<Vec<Splice>, EditError> {
    let replace = |value: &ValueSite, new: &str| Splice {
        start: source.byte(value.value_start),
        end: source.byte(value.value_end),
        text: render_scalar(new, value.style, false),
    };
    match (&site.tag, &site.digest) {
        (Some(old_tag), Some(old_digest)) => {
            Ok(vec![replace(old_tag, tag), replace(old_digest, digest)])
        }
        (Some(old_tag), None) => Ok(vec![
            replace(old_tag, tag),
            insert_after(source, site, old_tag, "digest", digest),
        ]),
        (None, Some(old_digest)) => Ok(vec![
            insert_before(source, site, old_digest, "tag", tag)?,
            replace(old_digest, digest),
        ]),
        (None, None) => Err(EditError::NoPin {
            path: site.path.clone(),
        }),
    }
}

/// Adds `key: value` after the entry of `sibling`: on the next line in a block mapping, after
/// a comma in a flow mapping.
fn insert_after(
    source: &Source<'_>,
    site: &PinSite,
    sibling: &ValueSite,
    key: &str,
    value: &str,
) -> Splice {
    let value_end = source.byte(sibling.value_end);
    let rendered = render_scalar(value, sibling.style, site.flow);
    if site.flow {
        return Splice {
            start: value_end,
            end: value_end,
            text: format!(", {key}: {rendered}"),
        };
    }
    let indent = " ".repeat(sibling.key_line_column);
    match source.text[value_end..].find('\n') {
        Some(offset) => {
            let newline = value_end + offset;
            let line_end = line_ending_at(source.text, newline);
            Splice {
                start: newline + 1,
                end: newline + 1,
                text: format!("{indent}{key}: {rendered}{line_end}"),
            }
        }
        None => Splice {
            start: source.text.len(),
            end: source.text.len(),
            text: format!("{}{indent}{key}: {rendered}", file_line_ending(source.text)),
        },
    }
}

/// Adds `key: value` before the entry of `sibling`: on its own line above it in a block
/// mapping, followed by a comma in a flow mapping.
fn insert_before(
    source: &Source<'_>,
    site: &PinSite,
    sibling: &ValueSite,
    key: &str,
    value: &str,
) -> Result<Splice, EditError> {
    let key_start = source.byte(sibling.key_start);
    let rendered = render_scalar(value, sibling.style, site.flow);
    if site.flow {
        return Ok(Splice {
            start: key_start,
            end: key_start,
            text: format!("{key}: {rendered}, "),
        });
    }
    let line_start = source.text[..key_start].rfind('\n').map_or(0, |i| i + 1);
    if !source.text[line_start..key_start]
        .trim_start_matches(' ')
        .is_empty()
    {
        return Err(EditError::Unsupported {
            path: format!("{}.digest", site.path),
            line: source.text[..key_start].matches('\n').count() + 1,
            what: "does not start its own line",
            hint: "put each key of the image on its own line, or add the `tag:` yourself",
        });
    }
    let line_end = match source.text[key_start..].find('\n') {
        Some(offset) => line_ending_at(source.text, key_start + offset),
        None => file_line_ending(source.text),
    };
    let indent = " ".repeat(sibling.key_line_column);
    Ok(Splice {
        start: line_start,
        end: line_start,
        text: format!("{indent}{key}: {rendered}{line_end}"),
    })
}

/// The line ending that ends at the `\n` at byte `newline`.
fn line_ending_at(text: &str, newline: usize) -> &'static str {
    if newline > 0 && text.as_bytes()[newline - 1] == b'\r' {
        "\r\n"
    } else {
        "\n"
    }
}

/// The line ending the file uses (its first one), `\n` when it has none.
fn file_line_ending(text: &str) -> &'static str {
    text.find('\n')
        .map_or("\n", |newline| line_ending_at(text, newline))
}

/// Writes a tag or digest in the given quoting style. Such values never contain quotes,
/// backslashes or blanks, so no escaping is needed. A plain value is double-quoted when it
/// would not read back as this string; `quote_colons` also quotes plain values holding a `:`,
/// for new entries in a flow mapping, where that is valid YAML 1.2 but trips older readers.
fn render_scalar(text: &str, style: ScalarStyle, quote_colons: bool) -> String {
    let colon_is_safe = !quote_colons || !text.contains(':');
    let plain_is_safe = !text.is_empty() && !reads_as_non_string(text) && colon_is_safe;
    match style {
        ScalarStyle::SingleQuoted => format!("'{text}'"),
        ScalarStyle::Plain if plain_is_safe => text.to_owned(),
        _ => format!("\"{text}\""),
    }
}

/// Whether a YAML 1.1 or 1.2 reader resolves the plain scalar `text` to null, a boolean or a
/// number (`1.10` is a float, `0.7.0` a string).
fn reads_as_non_string(text: &str) -> bool {
    const WORDS: [&str; 10] = [
        "~", "null", "true", "false", "yes", "no", "on", "off", "y", "n",
    ];
    if WORDS.iter().any(|word| text.eq_ignore_ascii_case(word)) {
        return true;
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if [".inf", ".nan"]
        .iter()
        .any(|word| unsigned.eq_ignore_ascii_case(word))
    {
        return true;
    }
    let radix_digits = |prefix: &str, valid: fn(char) -> bool| {
        unsigned
            .strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c == '_' || valid(c)))
    };
    if radix_digits("0x", |c| c.is_ascii_hexdigit())
        || radix_digits("0o", |c| ('0'..='7').contains(&c))
        || radix_digits("0b", |c| c == '0' || c == '1')
    {
        return true;
    }
    is_decimal_number(unsigned)
}

/// `digits[.digits][e[+-]digits]` or `.digits[e[+-]digits]`, with `_` allowed in the digits.
fn is_decimal_number(text: &str) -> bool {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let digits = |part: &str| part.chars().all(|c| c.is_ascii_digit() || c == '_');
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mantissa_ok =
        digits(whole) && digits(fraction) && mantissa.chars().any(|c| c.is_ascii_digit());
    let exponent_ok = exponent.is_none_or(|exp| {
        let exp = exp.strip_prefix(['-', '+']).unwrap_or(exp);
        !exp.is_empty() && exp.chars().all(|c| c.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

fn apply(text: &str, mut splices: Vec<Splice>) -> String {
    splices.sort_by_key(|splice| splice.start);
    let mut out = String::with_capacity(text.len() + 128);
    let mut copied_to = 0;
    for splice in splices {
        out.push_str(&text[copied_to..splice.start]);
        out.push_str(&splice.text);
        copied_to = splice.end;
    }
    out.push_str(&text[copied_to..]);
    out
}

fn verify(
    value: &Option<ValueSite>,
    path: &str,
    key: &str,
    expected: &str,
) -> Result<(), EditError> {
    let found = value.as_ref().map(|site| site.value.clone());
    if found.as_deref() == Some(expected) {
        Ok(())
    } else {
        Err(EditError::NotVerified {
            path: join(path, key),
            expected: expected.to_owned(),
            found,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixture::fake_digest;
    use bundle_gen::Images;

    const OLD_TAG: &str = "v1.9.2";
    const NEW_TAG: &str = "v1.9.3";

    fn old_digest() -> String {
        fake_digest('a').to_string()
    }

    fn new_digest() -> Digest {
        fake_digest('b')
    }

    fn tag(text: &str) -> Tag {
        text.parse().expect("valid tag")
    }

    /// A config whose homeserver pin is `v1.9.2@sha256:aaa…`; `{D}` stands for that digest.
    fn config(template: &str) -> String {
        template.replace("{D}", &"a".repeat(64))
    }

    const BLOCK: &str = "\
# Site config: edit, then run `bundle gen`.
namespace: matrix   # all objects go here

images:
  # Tuwunel: bare multi-arch releases only.
  homeserver:
    registry: ghcr.io
    repository: matrix-construct/tuwunel
    tag: v1.9.2 # tag: v0.0.1 in a comment is not a value

    digest: sha256:{D}
    policy: {kind: bare-multiarch}
  livekit:
    registry: docker.io
    repository: livekit/livekit-server
    tag: v1.13.7
    digest: \"sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\"
    policy: {kind: semver, range: \"^1\"}
  lkJwt:
    registry: ghcr.io
    repository: element-hq/lk-jwt-service
    tag: sha-1234567
    digest: 'sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd'
    policy: {kind: commit}
";

    const FLOW: &str = "\
namespace: matrix
images:
  homeserver: {registry: ghcr.io, repository: matrix-construct/tuwunel, tag: v1.9.2,
               digest: \"sha256:{D}\", policy: {kind: bare-multiarch}}
  livekit: {registry: docker.io, repository: livekit/livekit-server, tag: v1.13.7, digest: 'sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc', policy: {kind: semver}}
  lkJwt: {repository: element-hq/lk-jwt-service, tag: sha-1234567, digest: sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd, policy: {kind: commit}}
";

    /// The expected result of a pin edit: the old values' text replaced, nothing else.
    fn replaced(input: &str, old_value: &str, new_value: &str) -> String {
        assert_eq!(
            input.matches(old_value).count(),
            1,
            "{old_value} must be unique"
        );
        input.replacen(old_value, new_value, 1)
    }

    fn bump_homeserver(input: &str) -> String {
        set_pin(input, ImageName::HOMESERVER, &tag(NEW_TAG), &new_digest()).expect("edited")
    }

    fn images_of(yaml: &str) -> Images {
        let document: serde_norway::Value = serde_norway::from_str(yaml).expect("parses");
        serde_norway::from_value(document["images"].clone()).expect("images deserialize")
    }

    /// Asserts that `edited` parses to the same document as `input` with only the homeserver
    /// pin changed to the new one.
    fn assert_only_homeserver_pin_changed(input: &str, edited: &str) {
        let mut expected: serde_norway::Value = serde_norway::from_str(input).expect("parses");
        let pin = &mut expected["images"]["homeserver"];
        pin["tag"] = NEW_TAG.into();
        pin["digest"] = new_digest().to_string().into();
        let actual: serde_norway::Value = serde_norway::from_str(edited).expect("parses");
        assert_eq!(actual, expected);

        let mut images = images_of(input);
        images.get_mut(ImageName::HOMESERVER).tag = Some(tag(NEW_TAG));
        images.get_mut(ImageName::HOMESERVER).digest = Some(new_digest());
        assert_eq!(images_of(edited), images);
    }

    fn expected_bump(input: &str) -> String {
        let step = replaced(input, OLD_TAG, NEW_TAG);
        replaced(&step, &old_digest(), new_digest().as_str())
    }

    #[test]
    fn block_style_changes_only_the_two_values_and_keeps_comments_and_blank_lines() {
        let input = config(BLOCK);
        let edited = bump_homeserver(&input);
        assert_eq!(edited, expected_bump(&input));
        assert_only_homeserver_pin_changed(&input, &edited);
    }

    #[test]
    fn flow_style_changes_only_the_two_values_and_keeps_the_quotes() {
        let input = config(FLOW);
        let edited = bump_homeserver(&input);
        assert_eq!(edited, expected_bump(&input));
        assert_only_homeserver_pin_changed(&input, &edited);
    }

    #[test]
    fn single_and_double_quoted_values_keep_their_quotes() {
        for (tag_quote, digest_quote) in [("'", "\""), ("\"", "'"), ("'", "'"), ("\"", "\"")] {
            let input = config(
                &BLOCK
                    .replace(
                        "tag: v1.9.2 #",
                        &format!("tag: {tag_quote}v1.9.2{tag_quote}  #"),
                    )
                    .replace(
                        "digest: sha256:{D}",
                        &format!("digest: {digest_quote}sha256:{{D}}{digest_quote}"),
                    ),
            );
            assert!(input.contains(&format!("{digest_quote}{}{digest_quote}", old_digest())));
            let edited = bump_homeserver(&input);
            assert_eq!(edited, expected_bump(&input));
            assert_only_homeserver_pin_changed(&input, &edited);
        }
    }

    #[test]
    fn crlf_line_endings_are_kept() {
        let input = config(BLOCK).replace('\n', "\r\n");
        let edited = bump_homeserver(&input);
        assert_eq!(edited, expected_bump(&input));
        assert_eq!(edited.matches("\r\n").count(), edited.matches('\n').count());
        assert_only_homeserver_pin_changed(&input, &edited);
    }

    #[test]
    fn non_ascii_text_before_the_pin_does_not_shift_the_edit() {
        let input = config(BLOCK).replace(
            "# Site config",
            "# Ünïcödé 🚀 config, ½ size:\nmotd: \"Grüße 👋\"\n# Site config",
        );
        let edited = bump_homeserver(&input);
        assert_eq!(edited, expected_bump(&input));
    }

    #[test]
    fn a_byte_order_mark_is_kept() {
        let input = format!("\u{feff}{}", config(BLOCK));
        let edited = bump_homeserver(&input);
        assert_eq!(edited, expected_bump(&input));
    }

    #[test]
    fn other_images_with_the_same_values_are_left_alone() {
        let input = config(BLOCK);
        let same_as_homeserver = input
            .replace("tag: v1.13.7", "tag: v1.9.2")
            .replace(&"c".repeat(64), &"a".repeat(64));
        let edited = bump_homeserver(&same_as_homeserver);
        let livekit = &edited[edited.find("  livekit:").expect("livekit")..];
        assert!(livekit.contains("tag: v1.9.2\n"), "{livekit}");
        assert!(livekit.contains(&old_digest()), "{livekit}");
        assert_eq!(edited.matches(NEW_TAG).count(), 1);
    }

    #[test]
    fn only_the_requested_image_changes() {
        let input = config(FLOW);
        let lk_jwt_digest = fake_digest('e');
        let edited = set_pin(
            &input,
            ImageName::LK_JWT,
            &tag("sha-89abcde"),
            &lk_jwt_digest,
        )
        .expect("edited");
        let expected = replaced(&input, "sha-1234567", "sha-89abcde").replacen(
            &"d".repeat(64),
            &"e".repeat(64),
            1,
        );
        assert_eq!(edited, expected);
    }

    #[test]
    fn a_plain_value_that_would_read_as_a_number_is_double_quoted() {
        let input = config(BLOCK);
        let edited =
            set_pin(&input, ImageName::HOMESERVER, &tag("1.10"), &new_digest()).expect("edited");
        assert!(edited.contains("tag: \"1.10\" # tag: v0.0.1"), "{edited}");
        assert_eq!(
            images_of(&edited).get(ImageName::HOMESERVER).tag,
            Some(tag("1.10"))
        );
    }

    #[test]
    fn a_plain_version_with_two_dots_stays_plain() {
        let input = config(BLOCK);
        let edited =
            set_pin(&input, ImageName::HOMESERVER, &tag("0.7.0"), &new_digest()).expect("edited");
        assert!(edited.contains("tag: 0.7.0 # tag"), "{edited}");
    }

    #[test]
    fn setting_the_same_pin_returns_the_input_unchanged() {
        let input = config(FLOW);
        let same: Digest = old_digest().parse().expect("ok");
        let edited = set_pin(&input, ImageName::HOMESERVER, &tag(OLD_TAG), &same).expect("edited");
        assert_eq!(edited, input);
    }

    #[test]
    fn a_missing_digest_is_added_under_the_tag_in_a_block_mapping() {
        let input = config(BLOCK).replace(&format!("    digest: {}\n", old_digest()), "");
        let edited = bump_homeserver(&input);
        let expected = replaced(
            &input,
            "tag: v1.9.2 # tag: v0.0.1 in a comment is not a value\n",
            &format!(
                "tag: v1.9.3 # tag: v0.0.1 in a comment is not a value\n    digest: {}\n",
                new_digest()
            ),
        );
        assert_eq!(edited, expected);
        assert_eq!(
            images_of(&edited).get(ImageName::HOMESERVER).digest,
            Some(new_digest())
        );
    }

    #[test]
    fn a_missing_digest_is_added_after_the_tag_in_a_flow_mapping() {
        let input = config(FLOW).replace(&format!("digest: \"{}\", ", old_digest()), "");
        let edited = bump_homeserver(&input);
        let expected = replaced(
            &input,
            "tag: v1.9.2,",
            &format!("tag: v1.9.3, digest: \"{}\",", new_digest()),
        );
        assert_eq!(edited, expected);
        assert_eq!(
            images_of(&edited).get(ImageName::HOMESERVER).digest,
            Some(new_digest())
        );
    }

    #[test]
    fn a_missing_tag_is_added_above_the_digest_with_crlf() {
        let input = config(BLOCK)
            .replace(
                "    tag: v1.9.2 # tag: v0.0.1 in a comment is not a value\n",
                "",
            )
            .replace('\n', "\r\n");
        let edited = bump_homeserver(&input);
        let expected = replaced(
            &input,
            &format!("\r\n    digest: {}", old_digest()),
            &format!("\r\n    tag: v1.9.3\r\n    digest: {}", new_digest()),
        );
        assert_eq!(edited, expected);
        assert_eq!(
            images_of(&edited).get(ImageName::HOMESERVER).tag,
            Some(tag(NEW_TAG))
        );
    }

    #[test]
    fn an_image_with_neither_tag_nor_digest_is_refused() {
        let input = "images:\n  homeserver: {repository: x, policy: {kind: manual}}\n";
        assert_eq!(
            set_pin(input, ImageName::HOMESERVER, &tag(NEW_TAG), &new_digest()),
            Err(EditError::NoPin {
                path: "images.homeserver".to_owned()
            })
        );
    }

    fn refusal(input: &str) -> EditError {
        set_pin(input, ImageName::HOMESERVER, &tag(NEW_TAG), &new_digest())
            .expect_err("must be refused")
    }

    #[test]
    fn an_alias_for_the_tag_is_refused() {
        let input = "x: &t v1\nimages:\n  homeserver: {tag: *t, digest: \"sha256:1\"}\n";
        assert!(matches!(
            refusal(input),
            EditError::Unsupported { path, line: 3, what: "is an alias (`*name`)", .. }
                if path == "images.homeserver.tag"
        ));
    }

    #[test]
    fn an_anchored_value_is_refused() {
        let input = "images:\n  homeserver:\n    tag: &t v1\n    digest: x\nother: *t\n";
        assert!(matches!(
            refusal(input),
            EditError::Unsupported { path, line: 3, .. } if path == "images.homeserver.tag"
        ));
    }

    #[test]
    fn an_anchored_image_mapping_is_refused() {
        let input = "images:\n  homeserver: &hs\n    tag: v1\n    digest: x\n";
        assert!(matches!(
            refusal(input),
            EditError::Unsupported { path, .. } if path == "images.homeserver"
        ));
    }

    #[test]
    fn a_yaml_tag_on_the_value_is_refused() {
        let input = "images:\n  homeserver:\n    tag: !!str v1\n    digest: x\n";
        assert!(matches!(
            refusal(input),
            EditError::Unsupported { what, .. } if what.contains("YAML tag")
        ));
    }

    #[test]
    fn a_block_scalar_is_refused() {
        let input = "images:\n  homeserver:\n    tag: |\n      v1\n    digest: x\n";
        assert!(matches!(
            refusal(input),
            EditError::Unsupported { what, .. } if what.contains("block scalar")
        ));
    }

    #[test]
    fn multi_line_values_are_refused_in_every_style() {
        for value in [
            "v1\n      continued",
            "'v1\n      continued'",
            "\"v1\\\n      x\"",
        ] {
            let input = format!("images:\n  homeserver:\n    tag: {value}\n    digest: x\n");
            assert!(
                matches!(
                    refusal(&input),
                    EditError::Unsupported {
                        what: "spans several lines",
                        ..
                    }
                ),
                "{value}"
            );
        }
    }

    #[test]
    fn an_empty_value_is_refused() {
        for input in [
            "images:\n  homeserver:\n    tag:\n    digest: x\n",
            "images:\n  homeserver: {tag: , digest: x}\n",
        ] {
            assert!(
                matches!(
                    refusal(input),
                    EditError::Unsupported {
                        what: "has no value",
                        ..
                    }
                ),
                "{input}"
            );
        }
    }

    #[test]
    fn a_duplicated_tag_key_is_refused_with_both_lines() {
        let input = "images:\n  homeserver:\n    tag: v1\n    digest: x\n    tag: v2\n";
        assert_eq!(
            refusal(input),
            EditError::DuplicateKey {
                path: "images.homeserver.tag".to_owned(),
                first_line: 3,
                second_line: 5
            }
        );
    }

    #[test]
    fn a_duplicated_image_or_images_key_is_refused() {
        let twice_homeserver = "images:\n  homeserver: {tag: a}\n  homeserver: {tag: b}\n";
        assert!(matches!(
            refusal(twice_homeserver),
            EditError::DuplicateKey { path, .. } if path == "images.homeserver"
        ));
        let twice_images = "images: {}\nimages: {homeserver: {tag: b}}\n";
        assert!(matches!(
            refusal(twice_images),
            EditError::DuplicateKey { path, .. } if path == "images"
        ));
    }

    #[test]
    fn a_missing_image_is_refused_with_its_path() {
        let input = "images:\n  livekit: {tag: a}\n";
        assert!(matches!(
            refusal(input),
            EditError::MissingKey { path, .. } if path == "images.homeserver"
        ));
        assert!(matches!(
            refusal("namespace: x\n"),
            EditError::MissingKey { path, .. } if path == "images"
        ));
    }

    #[test]
    fn an_image_that_is_not_a_mapping_is_refused() {
        assert!(matches!(
            refusal("images:\n  homeserver: ghcr.io/x:v1\n"),
            EditError::NotAMapping { path, found: "a single value", .. } if path == "images.homeserver"
        ));
    }

    #[test]
    fn invalid_yaml_is_reported_with_its_position() {
        assert!(matches!(
            refusal("images:\n  homeserver: {tag: v1\n"),
            EditError::Syntax { .. }
        ));
    }

    #[test]
    fn a_second_document_is_refused() {
        let input = "images:\n  homeserver: {tag: a, digest: b}\n---\nimages: {}\n";
        assert_eq!(refusal(input), EditError::SeveralDocuments { line: 3 });
    }

    #[test]
    fn plain_scalars_that_are_numbers_booleans_or_null_are_recognised() {
        for text in [
            "1", "1.10", "1.", "-2", "1e5", "0x1F", "0o17", "yes", "Off", "NULL", "~",
        ] {
            assert!(reads_as_non_string(text), "{text}");
        }
        for text in [
            "0.7.0",
            "v1",
            "sha-1234567",
            "1.2.3.4",
            "latest-ci_1760000000",
            "e5",
        ] {
            assert!(!reads_as_non_string(text), "{text}");
        }
    }
}
