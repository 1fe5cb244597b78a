//! The untyped [`Node`] tree of one document, built from the parser's events: anchors and aliases (bounded,
//! against documents that expand without limit), merge keys `<<`, positions on every node.

use super::scalar::resolve_scalar;
use super::*;

/// Parses exactly one YAML document into a [`Node`] tree (duplicate keys kept, merge keys `<<` applied).
pub fn parse_node(text: &str) -> Result<Node, YamlError> {
    if is_blank(text) {
        return Err(YamlError::without_position("the document is empty"));
    }
    let mut builder = Builder {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        nodes: 0,
    };
    let mut document = None;
    loop {
        let (event, span) = builder.next()?;
        match event {
            Event::StreamStart | Event::DocumentEnd | Event::Comment(..) => {}
            Event::StreamEnd => break,
            Event::DocumentStart(..) => {
                if document.is_some() {
                    return Err(YamlError::at(
                        "expected one YAML document, found several (separated by `---`)",
                        span.start.line(),
                        span.start.col() + 1,
                    ));
                }
                let (event, span) = builder.next_node_event()?;
                document = Some(builder.node(event, span)?);
            }
            other => {
                return Err(YamlError::at(
                    format!("unexpected YAML event {other:?}"),
                    span.start.line(),
                    1,
                ));
            }
        }
    }
    document.ok_or_else(|| YamlError::without_position("the document is empty"))
}

/// Stops documents made of aliases from expanding without bound (a "billion laughs" file).
pub(super) const MAX_NODES: usize = 5_000_000;

pub(super) struct Builder<'input> {
    parser: Parser<'input, serde_saphyr::granit_parser::StrInput<'input>>,
    anchors: HashMap<usize, (Node, usize)>,
    nodes: usize,
}

impl<'input> Builder<'input> {
    fn next(&mut self) -> Result<(Event<'input>, Span), YamlError> {
        match self.parser.next_event() {
            Some(Ok(event)) => Ok(event),
            Some(Err(err)) => Err(YamlError::from_scan(&err)),
            None => Err(YamlError::without_position(
                "unexpected end of the YAML stream",
            )),
        }
    }

    /// The next event that starts or ends a node (comments and anchor metadata skipped).
    fn next_node_event(&mut self) -> Result<(Event<'input>, Span), YamlError> {
        loop {
            let (event, span) = self.next()?;
            if !matches!(event, Event::Comment(..) | Event::Anchor(..)) {
                return Ok((event, span));
            }
        }
    }

    fn count(&mut self, span: &Span) -> Result<(), YamlError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(YamlError::at(
                format!("the document expands to more than {MAX_NODES} nodes (aliases)"),
                span.start.line(),
                span.start.col() + 1,
            ));
        }
        Ok(())
    }

    fn node(&mut self, event: Event<'input>, span: Span) -> Result<Node, YamlError> {
        let line = span.start.line();
        let column = span.start.col() + 1;
        self.count(&span)?;
        let (value, anchor) = match event {
            Event::Scalar(text, style, anchor, tag) => (
                resolve_scalar(&text, style, tag.as_deref(), line, column)?,
                anchor,
            ),
            Event::SequenceStart(_, anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.next_node_event()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(event, span)?);
                }
                (NodeValue::Seq(items), anchor)
            }
            Event::MappingStart(_, anchor, _) => (NodeValue::Map(self.mapping()?), anchor),
            Event::Alias(id) => {
                let Some((target, size)) = self.anchors.get(&id) else {
                    return Err(YamlError::at("unknown anchor", line, column));
                };
                // Counted before copying, so that an alias bomb fails before it allocates.
                self.nodes += size;
                if self.nodes > MAX_NODES {
                    return Err(YamlError::at(
                        format!("the document expands to more than {MAX_NODES} nodes (aliases)"),
                        line,
                        column,
                    ));
                }
                let target = target.clone();
                return Ok(Node {
                    value: target.value,
                    line,
                    column,
                });
            }
            Event::UnresolvedAlias(name) => {
                return Err(YamlError::at(
                    format!("unknown anchor `{name}`"),
                    line,
                    column,
                ));
            }
            other => {
                return Err(YamlError::at(
                    format!("unexpected YAML event {other:?}"),
                    line,
                    column,
                ));
            }
        };
        let node = Node {
            value,
            line,
            column,
        };
        if anchor != 0 {
            self.anchors
                .insert(anchor, (node.clone(), count_nodes(&node)));
        }
        Ok(node)
    }

    fn mapping(&mut self) -> Result<Vec<(Node, Node)>, YamlError> {
        let mut entries: Vec<(Node, Node)> = Vec::new();
        let mut merged: Vec<(Node, Node)> = Vec::new();
        loop {
            let (event, span) = self.next_node_event()?;
            if matches!(event, Event::MappingEnd) {
                break;
            }
            let is_merge =
                matches!(&event, Event::Scalar(text, ScalarStyle::Plain, _, None) if text == "<<");
            let key = self.node(event, span)?;
            let (event, span) = self.next_node_event()?;
            let value = self.node(event, span)?;
            if is_merge {
                merge_into(&mut merged, &value)?;
            } else {
                entries.push((key, value));
            }
        }
        if merged.is_empty() {
            return Ok(entries);
        }
        // Explicit keys win over merged ones, as in PyYAML.
        let explicit: std::collections::HashSet<String> = entries
            .iter()
            .filter_map(|(key, _)| key.key_string())
            .collect();
        merged.retain(|(key, _)| {
            key.key_string()
                .is_none_or(|text| !explicit.contains(&text))
        });
        merged.extend(entries);
        Ok(merged)
    }
}

pub(super) fn count_nodes(node: &Node) -> usize {
    1 + match &node.value {
        NodeValue::Seq(items) => items.iter().map(count_nodes).sum(),
        NodeValue::Map(entries) => entries
            .iter()
            .map(|(key, value)| count_nodes(key) + count_nodes(value))
            .sum(),
        _ => 0,
    }
}

/// Applies one `<<` value: a mapping, or a list of mappings where earlier ones win.
pub(super) fn merge_into(merged: &mut Vec<(Node, Node)>, value: &Node) -> Result<(), YamlError> {
    let sources: Vec<&Node> = match &value.value {
        NodeValue::Map(_) => vec![value],
        NodeValue::Seq(items) => items.iter().collect(),
        _ => {
            return Err(YamlError::at(
                "a merge key `<<` needs a mapping or a list of mappings",
                value.line,
                value.column,
            ));
        }
    };
    for source in sources {
        let Some(entries) = source.as_map() else {
            return Err(YamlError::at(
                "a merge key `<<` needs a mapping or a list of mappings",
                source.line,
                source.column,
            ));
        };
        for (key, value) in entries {
            let text = key.key_string();
            if text.is_none()
                || !merged
                    .iter()
                    .any(|(existing, _)| existing.key_string() == text)
            {
                merged.push((key.clone(), value.clone()));
            }
        }
    }
    Ok(())
}
