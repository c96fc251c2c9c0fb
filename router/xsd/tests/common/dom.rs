//! A minimal editable XML tree for generating mutations: names and prefixes are kept as written,
//! so serialising an unmodified tree gives an equivalent document.

use quick_xml::events::Event;

#[derive(Debug, Clone)]
pub enum Node {
    Elem(Elem),
    /// Character data (unescaped); CDATA sections become text.
    Text(String),
    /// Comments and processing instructions, as written.
    Raw(String),
}

#[derive(Debug, Clone)]
pub struct Elem {
    /// The qualified name as written (`prefix:local` or `local`).
    pub name: String,
    /// Attributes as written (namespace declarations included), values unescaped.
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
}

#[derive(Debug, Clone)]
pub struct Doc {
    /// Everything before the root element (declaration, comments, PIs), as written.
    pub prolog: String,
    pub root: Elem,
}

impl Elem {
    pub fn local(&self) -> &str {
        self.name
            .split_once(':')
            .map(|(_, l)| l)
            .unwrap_or(&self.name)
    }

    pub fn prefix(&self) -> Option<&str> {
        self.name.split_once(':').map(|(p, _)| p)
    }

    /// Whether the element has no child elements.
    pub fn is_leaf(&self) -> bool {
        !self.children.iter().any(|c| matches!(c, Node::Elem(_)))
    }

    pub fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|c| match c {
                Node::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }
}

pub fn parse(xml: &str) -> Doc {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().expand_empty_elements = true;
    let mut prolog = String::new();
    let mut stack: Vec<Elem> = Vec::new();
    let mut root = None;
    loop {
        let ev = reader
            .read_event()
            .expect("corpus documents are well-formed");
        let top = stack.last_mut();
        match ev {
            Event::Start(s) => stack.push(Elem {
                name: s.name().into_inner().to_owned(),
                attrs: s
                    .attributes()
                    .map(|a| {
                        let a = a.expect("attribute");
                        let v = a
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .expect("value")
                            .into_owned();
                        (a.key.into_inner().to_owned(), v)
                    })
                    .collect(),
                children: Vec::new(),
            }),
            Event::End(_) => {
                let e = stack.pop().expect("balanced tags");
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Elem(e)),
                    None => root = Some(e),
                }
            }
            Event::Text(t) => {
                if let Some(top) = top {
                    top.children
                        .push(Node::Text(t.xml10_content().into_owned()));
                }
            }
            Event::CData(t) => {
                if let Some(top) = top {
                    top.children
                        .push(Node::Text(t.xml10_content().into_owned()));
                }
            }
            Event::GeneralRef(r) => {
                let s = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .expect("char ref")
                        .expect("char")
                        .to_string()
                } else {
                    match &*r.xml10_content() {
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "amp" => "&".into(),
                        "apos" => "'".into(),
                        _ => "\"".into(),
                    }
                };
                if let Some(top) = top {
                    top.children.push(Node::Text(s));
                }
            }
            Event::Comment(c) => raw(top, &mut prolog, root.is_some(), format!("<!--{}-->", &*c)),
            Event::PI(p) => raw(top, &mut prolog, root.is_some(), format!("<?{}?>", &*p)),
            Event::Decl(d) => prolog.push_str(&format!("<?{}?>\n", &*d)),
            Event::Eof => break,
            _ => {}
        }
    }
    Doc {
        prolog,
        root: root.expect("a root element"),
    }
}

fn raw(top: Option<&mut Elem>, prolog: &mut String, after_root: bool, text: String) {
    match top {
        Some(top) => top.children.push(Node::Raw(text)),
        None if !after_root => {
            prolog.push_str(&text);
            prolog.push('\n');
        }
        None => {}
    }
}

fn escape_text(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

fn escape_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

fn write_elem(e: &Elem, out: &mut String) {
    out.push('<');
    out.push_str(&e.name);
    for (k, v) in &e.attrs {
        out.push(' ');
        out.push_str(k);
        out.push_str("=\"");
        escape_attr(v, out);
        out.push('"');
    }
    if e.children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    for c in &e.children {
        match c {
            Node::Elem(child) => write_elem(child, out),
            Node::Text(t) => escape_text(t, out),
            Node::Raw(r) => out.push_str(r),
        }
    }
    out.push_str("</");
    out.push_str(&e.name);
    out.push('>');
}

impl Doc {
    pub fn serialize(&self) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str(&self.prolog);
        write_elem(&self.root, &mut out);
        out.push('\n');
        out
    }

    /// Paths (child indices) of every element, root first, in document order.
    pub fn element_paths(&self) -> Vec<Vec<usize>> {
        fn walk(e: &Elem, path: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
            out.push(path.clone());
            for (i, c) in e.children.iter().enumerate() {
                if let Node::Elem(child) = c {
                    path.push(i);
                    walk(child, path, out);
                    path.pop();
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &mut Vec::new(), &mut out);
        out
    }

    pub fn get(&self, path: &[usize]) -> &Elem {
        let mut e = &self.root;
        for &i in path {
            e = match &e.children[i] {
                Node::Elem(c) => c,
                _ => panic!("path points at an element"),
            };
        }
        e
    }

    pub fn get_mut(&mut self, path: &[usize]) -> &mut Elem {
        let mut e = &mut self.root;
        for &i in path {
            e = match &mut e.children[i] {
                Node::Elem(c) => c,
                _ => panic!("path points at an element"),
            };
        }
        e
    }
}
