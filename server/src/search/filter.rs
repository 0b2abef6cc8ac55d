//! MLflow's filter grammar for `search_runs`, `search_experiments`,
//! `search_registered_models`, `search_model_versions` and `search_logged_models`, with
//! `OR` and parentheses as extensions (MLflow refuses both).
//!
//! ```text
//! filter     := ws* [ or_expr ] ws* EOF
//! or_expr    := and_expr ( OR and_expr )*
//! and_expr   := primary ( AND primary )*
//! primary    := '(' or_expr ')' | comparison
//! comparison := identifier comparator [ value | list ]
//! identifier := [ prefix '.' ] key          -- no prefix means an attribute
//! ```
//!
//! The lexer is driven by the parser: what a character sequence means depends on where
//! it stands (`metrics.a-b` is a key on the left, `-5` is a number on the right), so the
//! parser asks for the kind of token it expects next. All positions are 0-based char
//! offsets into the filter.

use std::fmt;

/// Deepest nesting of parentheses accepted; bounds recursion on hostile input.
pub const MAX_DEPTH: usize = 64;

/// Most comparisons one filter may hold. Each becomes a term of a single SQL expression,
/// and SQLite refuses expression trees deeper than 1000.
pub const MAX_COMPARISONS: usize = 256;

/// A parsed filter. `And` and `Or` hold two or more terms.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Compare(Comparison),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

/// One `identifier comparator value` test.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub field: Field,
    pub op: Op,
    pub value: Value,
}

/// What a comparison (or an order_by entry) is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    /// `metrics.<key>`: a run's latest value of that metric.
    Metric(String),
    /// `params.<key>`.
    Param(String),
    /// `tags.<key>`: run tags in run searches, experiment tags in experiment searches.
    Tag(String),
    /// A column of the run itself.
    Attribute(Attribute),
    /// `datasets.<name|digest|context>`: any dataset the run used.
    Dataset(DatasetField),
    /// A column of the experiment itself.
    Experiment(ExperimentAttribute),
    /// A column of a registered model or model version.
    Registry(RegistryAttribute),
    /// A column of a logged model.
    LoggedModel(LoggedModelAttribute),
    /// What only the web UI's runs grid filters and sorts by; no parser produces it, so
    /// MLflow's grammar stays as it is (see `GridField`).
    Grid(GridField),
}

/// The runs grid's fields beyond MLflow's filter grammar: a metric's minimum and maximum
/// over its history (`latest_metrics.min_value`, `max_value`; NaN never counts) and a
/// run's duration (`end_time - start_time`, in milliseconds; runs without an end never
/// match). The grid keeps their filters in its URL, beside the MLflow query.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GridField {
    MetricMin(String),
    MetricMax(String),
    Duration,
}

/// Searchable run attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Attribute {
    RunId,
    RunName,
    UserId,
    Status,
    ArtifactUri,
    StartTime,
    EndTime,
}

/// Searchable dataset fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatasetField {
    Name,
    Digest,
    /// The input tag `mlflow.data.context` (e.g. `training`).
    Context,
}

/// Searchable experiment attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExperimentAttribute {
    Name,
    ExperimentId,
    CreationTime,
    LastUpdateTime,
}

/// Searchable and orderable registry attributes; which ones a search accepts depends on
/// whether it is over registered models or model versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegistryAttribute {
    Name,
    RunId,
    /// The version's `source` (MLflow calls it `source_path` in filters).
    SourcePath,
    VersionNumber,
    CreationTimestamp,
    LastUpdatedTimestamp,
}

/// Searchable and orderable logged-model attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoggedModelAttribute {
    Name,
    ModelId,
    ModelType,
    Status,
    SourceRunId,
    CreationTimestamp,
    LastUpdatedTimestamp,
}

impl LoggedModelAttribute {
    /// The name used in filters and order_by.
    pub fn name(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::ModelId => "model_id",
            Self::ModelType => "model_type",
            Self::Status => "status",
            Self::SourceRunId => "source_run_id",
            Self::CreationTimestamp => "creation_timestamp",
            Self::LastUpdatedTimestamp => "last_updated_timestamp",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Some(match key {
            "name" => Self::Name,
            "model_id" => Self::ModelId,
            "model_type" => Self::ModelType,
            "status" => Self::Status,
            "source_run_id" => Self::SourceRunId,
            "creation_timestamp" | "creation_time" => Self::CreationTimestamp,
            "last_updated_timestamp" | "last_updated_time" => Self::LastUpdatedTimestamp,
            _ => return None,
        })
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, Self::CreationTimestamp | Self::LastUpdatedTimestamp)
    }
}

/// Comparators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    ILike,
    In,
    NotIn,
    IsNull,
    IsNotNull,
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// For `IS NULL` and `IS NOT NULL`.
    None,
    Number(Number),
    String(String),
    StringList(Vec<String>),
    /// `experiment_id` values, coerced to integers as MLflow's SQL store does.
    IntList(Vec<i64>),
}

/// A numeric literal; integers stay exact so integer columns compare exactly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    /// The value as a float (metric values are floats).
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

impl Op {
    /// The operator as written in a filter.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Like => "LIKE",
            Op::ILike => "ILIKE",
            Op::In => "IN",
            Op::NotIn => "NOT IN",
            Op::IsNull => "IS NULL",
            Op::IsNotNull => "IS NOT NULL",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Metric(k) => write!(f, "metrics.{}", quote_key(k)),
            Field::Param(k) => write!(f, "params.{}", quote_key(k)),
            Field::Tag(k) => write!(f, "tags.{}", quote_key(k)),
            Field::Attribute(a) => write!(f, "attributes.{}", a.name()),
            Field::Dataset(d) => write!(f, "datasets.{}", d.name()),
            Field::Experiment(e) => write!(f, "attributes.{}", e.name()),
            Field::Registry(r) => write!(f, "attributes.{}", r.name()),
            Field::LoggedModel(a) => write!(f, "attributes.{}", a.name()),
            Field::Grid(GridField::MetricMin(k)) => write!(f, "metrics_min.{}", quote_key(k)),
            Field::Grid(GridField::MetricMax(k)) => write!(f, "metrics_max.{}", quote_key(k)),
            Field::Grid(GridField::Duration) => write!(f, "attributes.duration"),
        }
    }
}

/// Writes a key bare when it lexes back as one, in backticks otherwise.
fn quote_key(key: &str) -> String {
    if !key.is_empty() && key.chars().all(is_key_char) && !key.starts_with(['.', '-']) {
        key.to_owned()
    } else {
        format!("`{}`", key.replace('`', "``"))
    }
}

impl Attribute {
    /// MLflow's canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Attribute::RunId => "run_id",
            Attribute::RunName => "run_name",
            Attribute::UserId => "user_id",
            Attribute::Status => "status",
            Attribute::ArtifactUri => "artifact_uri",
            Attribute::StartTime => "start_time",
            Attribute::EndTime => "end_time",
        }
    }

    /// Whether the attribute holds numbers (numeric comparators and values).
    pub fn is_numeric(self) -> bool {
        matches!(self, Attribute::StartTime | Attribute::EndTime)
    }

    fn from_key(key: &str) -> Option<Self> {
        Some(match key {
            "run_id" => Attribute::RunId,
            "run_name" | "run name" | "Run name" | "Run Name" => Attribute::RunName,
            "user_id" => Attribute::UserId,
            "status" => Attribute::Status,
            "artifact_uri" => Attribute::ArtifactUri,
            "start_time" | "created" | "Created" => Attribute::StartTime,
            "end_time" => Attribute::EndTime,
            _ => return None,
        })
    }
}

impl DatasetField {
    /// The name used in filters.
    pub fn name(self) -> &'static str {
        match self {
            DatasetField::Name => "name",
            DatasetField::Digest => "digest",
            DatasetField::Context => "context",
        }
    }

    fn from_key(key: &str) -> Option<Self> {
        Some(match key {
            "name" => DatasetField::Name,
            "digest" => DatasetField::Digest,
            "context" => DatasetField::Context,
            _ => return None,
        })
    }
}

impl ExperimentAttribute {
    /// The name used in filters and order_by.
    pub fn name(self) -> &'static str {
        match self {
            ExperimentAttribute::Name => "name",
            ExperimentAttribute::ExperimentId => "experiment_id",
            ExperimentAttribute::CreationTime => "creation_time",
            ExperimentAttribute::LastUpdateTime => "last_update_time",
        }
    }

    fn from_key(key: &str) -> Option<Self> {
        Some(match key {
            "name" => ExperimentAttribute::Name,
            "experiment_id" => ExperimentAttribute::ExperimentId,
            "creation_time" => ExperimentAttribute::CreationTime,
            "last_update_time" => ExperimentAttribute::LastUpdateTime,
            _ => return None,
        })
    }
}

impl RegistryAttribute {
    /// The name used in filters and order_by.
    pub fn name(self) -> &'static str {
        match self {
            RegistryAttribute::Name => "name",
            RegistryAttribute::RunId => "run_id",
            RegistryAttribute::SourcePath => "source_path",
            RegistryAttribute::VersionNumber => "version_number",
            RegistryAttribute::CreationTimestamp => "creation_timestamp",
            RegistryAttribute::LastUpdatedTimestamp => "last_updated_timestamp",
        }
    }

    fn from_key(key: &str, scope: Scope) -> Option<Self> {
        Some(match (scope, key) {
            (_, "name") => RegistryAttribute::Name,
            (Scope::RegisteredModels, "timestamp" | "last_updated_timestamp") => {
                RegistryAttribute::LastUpdatedTimestamp
            }
            (Scope::ModelVersions, "run_id") => RegistryAttribute::RunId,
            (Scope::ModelVersions, "source_path") => RegistryAttribute::SourcePath,
            (Scope::ModelVersions, "version_number") => RegistryAttribute::VersionNumber,
            (Scope::ModelVersions, "creation_timestamp") => RegistryAttribute::CreationTimestamp,
            (Scope::ModelVersions, "last_updated_timestamp") => {
                RegistryAttribute::LastUpdatedTimestamp
            }
            _ => return None,
        })
    }

    /// Whether filters may test it (the timestamps only order).
    fn filterable(self, scope: Scope) -> bool {
        match scope {
            Scope::RegisteredModels => self == RegistryAttribute::Name,
            _ => !matches!(
                self,
                RegistryAttribute::CreationTimestamp | RegistryAttribute::LastUpdatedTimestamp
            ),
        }
    }
}

/// A filter that does not parse or breaks a rule of the grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// The whole filter, for the message.
    pub filter: String,
    /// 0-based char offset of the offending token.
    pub position: usize,
    /// What was wrong, naming what was expected.
    pub message: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Invalid filter '{}' at position {}: {}",
            self.filter, self.position, self.message
        )
    }
}

impl std::error::Error for FilterError {}

/// Parses a `search_runs` filter. Empty or blank filters give `None`.
pub fn parse_run_filter(filter: &str) -> Result<Option<Expr>, FilterError> {
    Parser::new(filter, Scope::Runs).parse()
}

/// Parses a `search_experiments` filter. Empty or blank filters give `None`.
pub fn parse_experiment_filter(filter: &str) -> Result<Option<Expr>, FilterError> {
    Parser::new(filter, Scope::Experiments).parse()
}

/// Parses a `search_registered_models` filter: `name` and `tags.<key>`.
pub fn parse_registered_model_filter(filter: &str) -> Result<Option<Expr>, FilterError> {
    Parser::new(filter, Scope::RegisteredModels).parse()
}

/// Parses a `search_logged_models` filter: its attributes, `tags.<key>` and
/// `params.<key>`.
pub fn parse_logged_model_filter(filter: &str) -> Result<Option<Expr>, FilterError> {
    Parser::new(filter, Scope::LoggedModels).parse()
}

/// Parses a `search_model_versions` filter: `name`, `run_id`, `source_path`,
/// `version_number` and `tags.<key>`.
pub fn parse_model_version_filter(filter: &str) -> Result<Option<Expr>, FilterError> {
    Parser::new(filter, Scope::ModelVersions).parse()
}

/// Which entity a filter or order_by is for; decides the valid identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Runs,
    Experiments,
    RegisteredModels,
    ModelVersions,
    LoggedModels,
}

const ALL_OPERATORS: &str =
    "a comparison operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL)";
const NUMERIC_OPS: &[Op] = &[Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge];
const KEY_VALUE_OPS: &[Op] = &[
    Op::Eq,
    Op::Ne,
    Op::Like,
    Op::ILike,
    Op::IsNull,
    Op::IsNotNull,
];
const STRING_OPS: &[Op] = &[Op::Eq, Op::Ne, Op::Like, Op::ILike];
const RUN_ID_OPS: &[Op] = &[Op::Eq, Op::Ne, Op::Like, Op::ILike, Op::In, Op::NotIn];
const DATASET_OPS: &[Op] = &[Op::Eq, Op::Ne, Op::Like, Op::ILike, Op::In, Op::NotIn];
const EXPERIMENT_ID_OPS: &[Op] = &[Op::Eq, Op::Ne, Op::In, Op::NotIn];

/// The comparators a field accepts (MLflow's per-type rules).
fn allowed_ops(field: &Field, scope: Scope) -> &'static [Op] {
    match field {
        Field::Metric(_) => NUMERIC_OPS,
        // Registry searches have no IS NULL on tags.
        Field::Param(_) | Field::Tag(_)
            if matches!(
                scope,
                Scope::RegisteredModels | Scope::ModelVersions | Scope::LoggedModels
            ) =>
        {
            STRING_OPS
        }
        Field::Param(_) | Field::Tag(_) => KEY_VALUE_OPS,
        Field::Attribute(a) if a.is_numeric() => NUMERIC_OPS,
        Field::Attribute(Attribute::RunId) => RUN_ID_OPS,
        Field::Attribute(_) => STRING_OPS,
        Field::Dataset(_) => DATASET_OPS,
        Field::Experiment(ExperimentAttribute::Name) => STRING_OPS,
        Field::Experiment(ExperimentAttribute::ExperimentId) => EXPERIMENT_ID_OPS,
        Field::Experiment(_) => NUMERIC_OPS,
        Field::Registry(RegistryAttribute::Name | RegistryAttribute::RunId) => RUN_ID_OPS,
        Field::Registry(RegistryAttribute::SourcePath) => STRING_OPS,
        Field::Registry(_) => NUMERIC_OPS,
        Field::LoggedModel(a) if a.is_numeric() => NUMERIC_OPS,
        Field::LoggedModel(_) => RUN_ID_OPS,
        Field::Grid(_) => NUMERIC_OPS,
    }
}

/// How a field's values are written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ValueKind {
    /// Any number (metrics, run times).
    Number,
    /// Integers only (experiment times).
    Integer,
    /// Quoted strings.
    String,
    /// An experiment id: an integer or a quoted integer.
    ExperimentId,
}

fn value_kind(field: &Field) -> ValueKind {
    match field {
        Field::Metric(_) | Field::Grid(_) => ValueKind::Number,
        Field::Attribute(a) if a.is_numeric() => ValueKind::Number,
        Field::Experiment(ExperimentAttribute::ExperimentId) => ValueKind::ExperimentId,
        Field::Experiment(
            ExperimentAttribute::CreationTime | ExperimentAttribute::LastUpdateTime,
        ) => ValueKind::Integer,
        Field::Registry(
            RegistryAttribute::VersionNumber
            | RegistryAttribute::CreationTimestamp
            | RegistryAttribute::LastUpdatedTimestamp,
        ) => ValueKind::Integer,
        Field::LoggedModel(a) if a.is_numeric() => ValueKind::Integer,
        _ => ValueKind::String,
    }
}

/// Characters of an unquoted key after a prefix: MLflow's name characters minus the space.
fn is_key_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '/' | ':')
}

/// Characters of a bare word (prefix, attribute name, keyword).
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Limits a quoted snippet so error messages stay short.
fn snippet(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() > MAX {
        let cut: String = text.chars().take(MAX).collect();
        format!("'{cut}...'")
    } else {
        format!("'{text}'")
    }
}

pub(crate) struct Parser<'s> {
    source: &'s str,
    chars: Vec<char>,
    pos: usize,
    scope: Scope,
    depth: usize,
    comparisons: usize,
}

impl<'s> Parser<'s> {
    pub(crate) fn new(source: &'s str, scope: Scope) -> Self {
        Self {
            source,
            chars: source.chars().collect(),
            pos: 0,
            scope,
            depth: 0,
            comparisons: 0,
        }
    }

    fn parse(mut self) -> Result<Option<Expr>, FilterError> {
        self.skip_ws();
        if self.at_end() {
            return Ok(None);
        }
        let expr = self.or_expr()?;
        self.skip_ws();
        if !self.at_end() {
            return Err(self.expected("AND, OR or the end of the filter"));
        }
        Ok(Some(expr))
    }

    // ---- errors -------------------------------------------------------------------

    pub(crate) fn error_at(&self, position: usize, message: impl Into<String>) -> FilterError {
        FilterError {
            filter: self.source.to_owned(),
            position,
            message: message.into(),
        }
    }

    /// "expected X but found Y" at the current position.
    pub(crate) fn expected(&self, what: &str) -> FilterError {
        self.error_at(
            self.pos,
            format!("expected {what} but found {}", self.describe_here()),
        )
    }

    /// A short description of the token at the current position.
    fn describe_here(&self) -> String {
        let rest = &self.chars[self.pos.min(self.chars.len())..];
        let Some(&first) = rest.first() else {
            return "the end of the filter".to_owned();
        };
        let len = if matches!(first, '\'' | '"' | '`') {
            // The whole quoted token, or to the end when unterminated.
            rest[1..]
                .iter()
                .position(|&c| c == first)
                .map_or(rest.len(), |i| i + 2)
        } else if is_word_char(first) {
            rest.iter().take_while(|&&c| is_key_char(c)).count()
        } else if matches!(first, '=' | '!' | '<' | '>') {
            rest.iter()
                .take_while(|&&c| matches!(c, '=' | '!' | '<' | '>'))
                .count()
        } else {
            1
        };
        snippet(&rest[..len].iter().collect::<String>())
    }

    // ---- characters ---------------------------------------------------------------

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    pub(crate) fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// Whether `keyword` (ASCII, case-insensitive) stands at the current position as a
    /// whole word.
    fn keyword_here(&self, keyword: &str) -> bool {
        let n = keyword.len();
        let matches = keyword
            .chars()
            .enumerate()
            .all(|(i, k)| self.peek_at(i).is_some_and(|c| c.eq_ignore_ascii_case(&k)));
        matches && !self.peek_at(n).is_some_and(is_word_char)
    }

    pub(crate) fn eat_keyword(&mut self, keyword: &str) -> bool {
        if self.keyword_here(keyword) {
            self.pos += keyword.len();
            true
        } else {
            false
        }
    }

    /// Reads a token quoted with the current character; a doubled quote stands for one.
    fn quoted(&mut self, what: &str) -> Result<String, FilterError> {
        let start = self.pos;
        let Some(quote) = self.peek() else {
            return Err(self.expected(what));
        };
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(self.error_at(
                        start,
                        format!("unterminated {what}: expected a closing {quote} before the end of the filter"),
                    ));
                }
                Some(c) if c == quote => {
                    if self.peek_at(1) == Some(quote) {
                        out.push(quote);
                        self.pos += 2;
                    } else {
                        self.pos += 1;
                        return Ok(out);
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn take_while(&mut self, pred: impl Fn(char) -> bool) -> String {
        let start = self.pos;
        while self.peek().is_some_and(&pred) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    // ---- expressions --------------------------------------------------------------

    fn or_expr(&mut self) -> Result<Expr, FilterError> {
        let mut terms = vec![self.and_expr()?];
        loop {
            self.skip_ws();
            if self.eat_keyword("OR") {
                terms.push(self.and_expr()?);
            } else {
                break;
            }
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::Or(terms)
        })
    }

    fn and_expr(&mut self) -> Result<Expr, FilterError> {
        let mut terms = vec![self.primary()?];
        loop {
            self.skip_ws();
            if self.eat_keyword("AND") {
                terms.push(self.primary()?);
            } else {
                break;
            }
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::And(terms)
        })
    }

    fn primary(&mut self) -> Result<Expr, FilterError> {
        self.skip_ws();
        if self.peek() != Some('(') {
            return self.comparison().map(Expr::Compare);
        }
        if self.depth >= MAX_DEPTH {
            return Err(self.error_at(
                self.pos,
                format!("parentheses are nested too deeply: expected at most {MAX_DEPTH} levels"),
            ));
        }
        self.depth += 1;
        self.pos += 1;
        let inner = self.or_expr()?;
        self.skip_ws();
        if self.peek() != Some(')') {
            return Err(self.expected("AND, OR or ')'"));
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(inner)
    }

    fn comparison(&mut self) -> Result<Comparison, FilterError> {
        if self.comparisons >= MAX_COMPARISONS {
            return Err(self.error_at(
                self.pos,
                format!("too many comparisons: expected at most {MAX_COMPARISONS} in one filter"),
            ));
        }
        self.comparisons += 1;
        let field_pos = self.pos;
        let field = self.field()?;
        if let Field::Registry(a) = field
            && !a.filterable(self.scope)
        {
            return Err(self.error_at(
                field_pos,
                format!("cannot filter on {field}: it can only order results"),
            ));
        }
        self.skip_ws();
        let op_pos = self.pos;
        let op = self.operator()?;
        let allowed = allowed_ops(&field, self.scope);
        if !allowed.contains(&op) {
            let list: Vec<&str> = allowed.iter().map(|o| o.as_str()).collect();
            return Err(self.error_at(
                op_pos,
                format!(
                    "the comparator '{}' is not allowed for {field}: expected one of {}",
                    op.as_str(),
                    list.join(", ")
                ),
            ));
        }
        let value = match op {
            Op::IsNull | Op::IsNotNull => Value::None,
            Op::In | Op::NotIn => self.list(&field)?,
            _ => self.scalar(&field)?,
        };
        Ok(Comparison { field, op, value })
    }

    // ---- identifiers --------------------------------------------------------------

    /// Reads `prefix.key` or a bare attribute and resolves it for the scope.
    pub(crate) fn field(&mut self) -> Result<Field, FilterError> {
        const WHAT: &str =
            "an identifier such as metrics.loss, params.lr, tags.`my key` or attributes.status";
        let start = self.pos;
        let (first, quoted) = match self.peek() {
            Some('`' | '"') => (self.quoted("quoted identifier")?, true),
            Some(c) if c.is_alphabetic() || c == '_' => (self.take_while(is_word_char), false),
            _ => return Err(self.expected(WHAT)),
        };
        if self.peek() != Some('.') {
            // A stray keyword (`a = '1' OR OR ...`) is a missing identifier, not a bad one.
            const KEYWORDS: &[&str] = &["AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE"];
            if !quoted && KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(&first)) {
                self.pos = start;
                return Err(self.expected(WHAT));
            }
            return self.attribute(&first, start);
        }
        self.pos += 1;
        let key_pos = self.pos;
        let key = match self.peek() {
            Some('`' | '"' | '\'') => self.quoted("quoted key")?,
            Some(c) if is_key_char(c) => self.take_while(is_key_char),
            _ => return Err(self.expected(&format!("a key after '{first}.'"))),
        };
        if key.is_empty() {
            return Err(self.error_at(
                key_pos,
                format!("expected a non-empty key after '{first}.'"),
            ));
        }
        match (self.scope, first.as_str()) {
            (Scope::Runs, "metrics" | "metric") => Ok(Field::Metric(key)),
            (Scope::Runs | Scope::LoggedModels, "params" | "param" | "parameters" | "parameter") => {
                Ok(Field::Param(key))
            }
            (_, "tags" | "tag") => Ok(Field::Tag(key)),
            (Scope::Runs, "attributes" | "attribute" | "attr" | "run")
            | (
                Scope::Experiments | Scope::RegisteredModels | Scope::ModelVersions | Scope::LoggedModels,
                "attributes" | "attribute" | "attr",
            ) => self.attribute(&key, key_pos),
            (Scope::Runs, "datasets" | "dataset") => match DatasetField::from_key(&key) {
                Some(d) => Ok(Field::Dataset(d)),
                None => Err(self.error_at(
                    key_pos,
                    format!("expected a dataset field (name, digest, context) but found {}", snippet(&key)),
                )),
            },
            (Scope::Runs, _) => Err(self.error_at(
                start,
                format!(
                    "expected an entity type (metrics, params, tags, attributes, datasets) but found {}",
                    snippet(&first)
                ),
            )),
            (Scope::LoggedModels, _) => Err(self.error_at(
                start,
                format!("expected an entity type (attributes, tags, params) but found {}", snippet(&first)),
            )),
            (Scope::Experiments | Scope::RegisteredModels | Scope::ModelVersions, _) => Err(self.error_at(
                start,
                format!("expected an entity type (attributes, tags) but found {}", snippet(&first)),
            )),
        }
    }

    fn attribute(&self, key: &str, at: usize) -> Result<Field, FilterError> {
        let found = match self.scope {
            Scope::Runs => Attribute::from_key(key).map(Field::Attribute),
            Scope::Experiments => ExperimentAttribute::from_key(key).map(Field::Experiment),
            Scope::RegisteredModels | Scope::ModelVersions => {
                RegistryAttribute::from_key(key, self.scope).map(Field::Registry)
            }
            Scope::LoggedModels => LoggedModelAttribute::from_key(key).map(Field::LoggedModel),
        };
        found.ok_or_else(|| {
            let valid = match self.scope {
                Scope::Runs => "run_id, run_name, user_id, status, artifact_uri, start_time, end_time",
                Scope::Experiments => "name, experiment_id, creation_time, last_update_time",
                Scope::RegisteredModels => "name, last_updated_timestamp",
                Scope::ModelVersions => {
                    "name, run_id, source_path, version_number, creation_timestamp, last_updated_timestamp"
                }
                Scope::LoggedModels => {
                    "name, model_id, model_type, status, source_run_id, creation_timestamp, last_updated_timestamp"
                }
            };
            self.error_at(at, format!("expected an attribute ({valid}) but found {}", snippet(key)))
        })
    }

    // ---- operators ----------------------------------------------------------------

    fn operator(&mut self) -> Result<Op, FilterError> {
        let start = self.pos;
        let symbol = self.take_while(|c| matches!(c, '=' | '!' | '<' | '>'));
        if !symbol.is_empty() {
            return match symbol.as_str() {
                "=" => Ok(Op::Eq),
                "!=" => Ok(Op::Ne),
                "<" => Ok(Op::Lt),
                "<=" => Ok(Op::Le),
                ">" => Ok(Op::Gt),
                ">=" => Ok(Op::Ge),
                _ => {
                    self.pos = start;
                    Err(self.expected(ALL_OPERATORS))
                }
            };
        }
        if self.eat_keyword("LIKE") {
            return Ok(Op::Like);
        }
        if self.eat_keyword("ILIKE") {
            return Ok(Op::ILike);
        }
        if self.eat_keyword("IN") {
            return Ok(Op::In);
        }
        if self.eat_keyword("NOT") {
            self.skip_ws();
            if self.eat_keyword("IN") {
                return Ok(Op::NotIn);
            }
            return Err(self.expected("IN after NOT"));
        }
        if self.eat_keyword("IS") {
            self.skip_ws();
            let negated = self.eat_keyword("NOT");
            self.skip_ws();
            if self.eat_keyword("NULL") {
                return Ok(if negated { Op::IsNotNull } else { Op::IsNull });
            }
            return Err(self.expected(if negated {
                "NULL after IS NOT"
            } else {
                "NULL or NOT NULL after IS"
            }));
        }
        Err(self.expected(ALL_OPERATORS))
    }

    // ---- values -------------------------------------------------------------------

    fn scalar(&mut self, field: &Field) -> Result<Value, FilterError> {
        self.skip_ws();
        match value_kind(field) {
            ValueKind::Number => Ok(Value::Number(
                self.number(&format!("a number for {field}"))?,
            )),
            ValueKind::Integer => {
                let at = self.pos;
                match self.number(&format!("an integer for {field}"))? {
                    Number::Int(i) => Ok(Value::Number(Number::Int(i))),
                    Number::Float(_) => Err(self.error_at(
                        at,
                        format!(
                            "expected an integer for {field} but found {}",
                            snippet(&self.text_from(at))
                        ),
                    )),
                }
            }
            ValueKind::String => Ok(Value::String(self.string(field)?)),
            ValueKind::ExperimentId => Ok(Value::Number(Number::Int(self.experiment_id()?))),
        }
    }

    fn text_from(&self, start: usize) -> String {
        self.chars[start..self.pos].iter().collect()
    }

    /// A quoted string value.
    fn string(&mut self, field: &Field) -> Result<String, FilterError> {
        match self.peek() {
            Some('\'' | '"') => self.quoted("string"),
            _ => Err(self.expected(&format!("a quoted string value for {field} (e.g. 'value')"))),
        }
    }

    /// A number literal: optional sign, digits with an optional fraction, optional
    /// exponent. It must end at a word boundary (`5abc` is not a number).
    fn number(&mut self, what: &str) -> Result<Number, FilterError> {
        let start = self.pos;
        let mut p = self.pos;
        let at = |i: usize| self.chars.get(i).copied();
        if matches!(at(p), Some('+' | '-')) {
            p += 1;
        }
        let int_digits = (p..)
            .take_while(|&i| at(i).is_some_and(|c| c.is_ascii_digit()))
            .count();
        p += int_digits;
        let mut is_float = false;
        let mut frac_digits = 0;
        if at(p) == Some('.') {
            frac_digits = (p + 1..)
                .take_while(|&i| at(i).is_some_and(|c| c.is_ascii_digit()))
                .count();
            if int_digits + frac_digits > 0 {
                is_float = true;
                p += 1 + frac_digits;
            }
        }
        if int_digits + frac_digits == 0 {
            return Err(self.expected(what));
        }
        if matches!(at(p), Some('e' | 'E')) {
            let mut q = p + 1;
            if matches!(at(q), Some('+' | '-')) {
                q += 1;
            }
            let exp_digits = (q..)
                .take_while(|&i| at(i).is_some_and(|c| c.is_ascii_digit()))
                .count();
            if exp_digits > 0 {
                is_float = true;
                p = q + exp_digits;
            }
        }
        if at(p).is_some_and(|c| is_word_char(c) || c == '.') {
            return Err(self.expected(what));
        }
        let text: String = self.chars[start..p].iter().collect();
        let number = if is_float {
            text.parse::<f64>().ok().map(Number::Float)
        } else {
            // Integers too large for i64 still compare, as floats.
            text.parse::<i64>()
                .ok()
                .map(Number::Int)
                .or_else(|| text.parse::<f64>().ok().map(Number::Float))
        };
        match number {
            Some(n) => {
                self.pos = p;
                Ok(n)
            }
            None => Err(self.expected(what)),
        }
    }

    /// An experiment id: an integer, or a quoted string holding one.
    fn experiment_id(&mut self) -> Result<i64, FilterError> {
        let start = self.pos;
        const WHAT: &str = "an integer experiment id";
        let text = match self.peek() {
            Some('\'' | '"') => self.quoted("string")?,
            Some(c) if c.is_ascii_digit() || c == '-' || c == '+' => match self.number(WHAT)? {
                Number::Int(i) => return Ok(i),
                Number::Float(_) => self.text_from(start),
            },
            _ => return Err(self.expected(WHAT)),
        };
        text.trim().parse::<i64>().map_err(|_| {
            self.error_at(
                start,
                format!(
                    "expected {WHAT} but found {}",
                    snippet(&self.text_from(start))
                ),
            )
        })
    }

    /// A parenthesised, comma-separated, non-empty list (Python tuple syntax, so a
    /// trailing comma is allowed).
    fn list(&mut self, field: &Field) -> Result<Value, FilterError> {
        self.skip_ws();
        let ids = value_kind(field) == ValueKind::ExperimentId;
        let item = if ids {
            "an integer experiment id"
        } else {
            "a quoted string"
        };
        if self.peek() != Some('(') {
            return Err(self.expected(&format!(
                "a parenthesised list of values such as ('a', 'b') for {field}"
            )));
        }
        self.pos += 1;
        let mut strings = Vec::new();
        let mut ints = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(')') {
                if strings.is_empty() && ints.is_empty() {
                    return Err(self.expected(&format!("a non-empty list: {item}")));
                }
                self.pos += 1;
                break;
            }
            if ids {
                ints.push(self.experiment_id()?);
            } else {
                match self.peek() {
                    Some('\'' | '"') => strings.push(self.quoted("string")?),
                    _ => return Err(self.expected(&format!("{item} in the list for {field}"))),
                }
            }
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(')') => {}
                _ => return Err(self.expected("',' or ')' in the list")),
            }
        }
        Ok(if ids {
            Value::IntList(ints)
        } else {
            Value::StringList(strings)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(f: &str) -> Expr {
        match parse_run_filter(f) {
            Ok(Some(e)) => e,
            other => panic!("{f:?} gave {other:?}"),
        }
    }

    fn one(f: &str) -> Comparison {
        match run(f) {
            Expr::Compare(c) => c,
            other => panic!("{f:?} gave {other:?}"),
        }
    }

    fn exp(f: &str) -> Comparison {
        match parse_experiment_filter(f) {
            Ok(Some(Expr::Compare(c))) => c,
            other => panic!("{f:?} gave {other:?}"),
        }
    }

    /// Asserts the error position and that the message contains `needle`.
    fn fails(f: &str, position: usize, needle: &str) {
        let err = parse_run_filter(f).expect_err(f);
        assert_eq!(err.position, position, "{f:?}: {err}");
        assert!(err.message.contains(needle), "{f:?}: {err}");
    }

    fn exp_fails(f: &str, position: usize, needle: &str) {
        let err = parse_experiment_filter(f).expect_err(f);
        assert_eq!(err.position, position, "{f:?}: {err}");
        assert!(err.message.contains(needle), "{f:?}: {err}");
    }

    fn cmp(field: Field, op: Op, value: Value) -> Comparison {
        Comparison { field, op, value }
    }

    fn s(v: &str) -> Value {
        Value::String(v.to_owned())
    }

    #[test]
    fn empty_filters_are_none() {
        assert_eq!(parse_run_filter(""), Ok(None));
        assert_eq!(parse_run_filter("  \t\n "), Ok(None));
        assert_eq!(parse_experiment_filter(""), Ok(None));
    }

    #[test]
    fn metric_prefixes_and_numbers() {
        for prefix in ["metrics", "metric"] {
            let c = one(&format!("{prefix}.loss < 0.5"));
            assert_eq!(
                c,
                cmp(
                    Field::Metric("loss".into()),
                    Op::Lt,
                    Value::Number(Number::Float(0.5))
                )
            );
        }
        let cases = [
            ("1", Number::Int(1)),
            ("-3", Number::Int(-3)),
            ("+4", Number::Int(4)),
            ("2.", Number::Float(2.0)),
            (".25", Number::Float(0.25)),
            ("-1.5e3", Number::Float(-1500.0)),
            ("1E-2", Number::Float(0.01)),
            ("99999999999999999999", Number::Float(1e20)),
        ];
        for (text, n) in cases {
            assert_eq!(
                one(&format!("metrics.m >= {text}")).value,
                Value::Number(n),
                "{text}"
            );
        }
        for (op, want) in [
            ("=", Op::Eq),
            ("!=", Op::Ne),
            ("<", Op::Lt),
            ("<=", Op::Le),
            (">", Op::Gt),
            (">=", Op::Ge),
        ] {
            assert_eq!(one(&format!("metrics.m {op} 1")).op, want);
            assert_eq!(one(&format!("metrics.m{op}1")).op, want, "no spaces");
        }
    }

    #[test]
    fn keys_with_dots_slashes_and_quotes() {
        assert_eq!(
            one("metrics.a.b/c-d:e = 1").field,
            Field::Metric("a.b/c-d:e".into())
        );
        assert_eq!(
            one("metrics.`my key` = 1").field,
            Field::Metric("my key".into())
        );
        assert_eq!(
            one(r#"params."a b" = 'x'"#).field,
            Field::Param("a b".into())
        );
        assert_eq!(one("tags.'x y' = 'v'").field, Field::Tag("x y".into()));
        assert_eq!(
            one("tags.`a``b` = 'v'").field,
            Field::Tag("a`b".into()),
            "doubled backtick"
        );
        assert_eq!(
            one(r#"`metrics`.loss = 1"#).field,
            Field::Metric("loss".into()),
            "quoted prefix"
        );
        assert_eq!(one("metrics.`α β` = 1").field, Field::Metric("α β".into()));
    }

    #[test]
    fn param_and_tag_aliases() {
        for prefix in ["params", "param", "parameters", "parameter"] {
            assert_eq!(
                one(&format!("{prefix}.lr = '0.1'")),
                cmp(Field::Param("lr".into()), Op::Eq, s("0.1"))
            );
        }
        for prefix in ["tags", "tag"] {
            assert_eq!(
                one(&format!("{prefix}.t != \"v\"")),
                cmp(Field::Tag("t".into()), Op::Ne, s("v"))
            );
        }
    }

    #[test]
    fn string_quoting() {
        assert_eq!(one("params.p = 'it''s'").value, s("it's"));
        assert_eq!(one(r#"params.p = "say ""hi""""#).value, s(r#"say "hi""#));
        assert_eq!(one(r#"params.p = "it's""#).value, s("it's"));
        assert_eq!(one("params.p = ''").value, s(""));
        assert_eq!(
            one("params.p = 'a AND b OR (c)'").value,
            s("a AND b OR (c)")
        );
    }

    #[test]
    fn key_value_comparators() {
        let f = || Field::Param("p".into());
        assert_eq!(one("params.p LIKE '%a'"), cmp(f(), Op::Like, s("%a")));
        assert_eq!(
            one("params.p like '%a'").op,
            Op::Like,
            "keywords are case-insensitive"
        );
        assert_eq!(one("params.p ILIKE '%a'").op, Op::ILike);
        assert_eq!(one("params.p iLiKe '%a'").op, Op::ILike);
        assert_eq!(one("params.p IS NULL"), cmp(f(), Op::IsNull, Value::None));
        assert_eq!(
            one("params.p is   not\tnull"),
            cmp(f(), Op::IsNotNull, Value::None)
        );
        assert_eq!(one("tags.t IS NULL").op, Op::IsNull);
    }

    #[test]
    fn attributes_and_aliases() {
        for prefix in ["attributes.", "attribute.", "attr.", "run.", ""] {
            assert_eq!(
                one(&format!("{prefix}status = 'FINISHED'")),
                cmp(Field::Attribute(Attribute::Status), Op::Eq, s("FINISHED"))
            );
        }
        for name in [
            "run_name",
            "`run name`",
            "`Run name`",
            r#""Run Name""#,
            "attributes.`Run name`",
        ] {
            assert_eq!(
                one(&format!("{name} = 'x'")).field,
                Field::Attribute(Attribute::RunName),
                "{name}"
            );
        }
        for name in ["start_time", "created", "Created", "attributes.created"] {
            assert_eq!(
                one(&format!("{name} > 5")).field,
                Field::Attribute(Attribute::StartTime),
                "{name}"
            );
        }
        assert_eq!(
            one("end_time <= 5").field,
            Field::Attribute(Attribute::EndTime)
        );
        assert_eq!(
            one("user_id LIKE 'a%'").field,
            Field::Attribute(Attribute::UserId)
        );
        assert_eq!(
            one("artifact_uri ILIKE 's3:%'").field,
            Field::Attribute(Attribute::ArtifactUri)
        );
        assert_eq!(
            one("run_id = 'abc'").field,
            Field::Attribute(Attribute::RunId)
        );
    }

    #[test]
    fn run_id_lists() {
        let c = one("attributes.run_id IN ('a', \"b\")");
        assert_eq!(c.op, Op::In);
        assert_eq!(c.value, Value::StringList(vec!["a".into(), "b".into()]));
        assert_eq!(one("run_id not in ('a',)").op, Op::NotIn, "trailing comma");
        assert_eq!(
            one("run_id NOT   IN('a')").value,
            Value::StringList(vec!["a".into()])
        );
    }

    #[test]
    fn datasets() {
        for prefix in ["datasets", "dataset"] {
            assert_eq!(
                one(&format!("{prefix}.name = 'd'")).field,
                Field::Dataset(DatasetField::Name)
            );
        }
        assert_eq!(
            one("datasets.digest LIKE 'ab%'").field,
            Field::Dataset(DatasetField::Digest)
        );
        let c = one("datasets.context IN ('train', 'eval')");
        assert_eq!(c.field, Field::Dataset(DatasetField::Context));
        assert_eq!(
            c.value,
            Value::StringList(vec!["train".into(), "eval".into()])
        );
        assert_eq!(one("datasets.name NOT IN ('x')").op, Op::NotIn);
    }

    #[test]
    fn and_or_precedence() {
        let a = || Expr::Compare(one("params.a = '1'"));
        let b = || Expr::Compare(one("params.b = '1'"));
        let c = || Expr::Compare(one("params.c = '1'"));
        assert_eq!(
            run("params.a = '1' AND params.b = '1' OR params.c = '1'"),
            Expr::Or(vec![Expr::And(vec![a(), b()]), c()])
        );
        assert_eq!(
            run("params.a = '1' OR params.b = '1' AND params.c = '1'"),
            Expr::Or(vec![a(), Expr::And(vec![b(), c()])])
        );
        assert_eq!(
            run("(params.a = '1' OR params.b = '1') AND params.c = '1'"),
            Expr::And(vec![Expr::Or(vec![a(), b()]), c()])
        );
        assert_eq!(
            run("params.a = '1' and params.b = '1' and params.c = '1'"),
            Expr::And(vec![a(), b(), c()])
        );
        assert_eq!(run("((params.a = '1'))"), a());
        assert_eq!(
            run("(params.a='1')OR(params.b='1')"),
            Expr::Or(vec![a(), b()])
        );
    }

    #[test]
    fn depth_limit() {
        let ok = format!(
            "{}params.a = '1'{}",
            "(".repeat(MAX_DEPTH),
            ")".repeat(MAX_DEPTH)
        );
        assert!(parse_run_filter(&ok).is_ok());
        let deep = format!(
            "{}params.a = '1'{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        fails(&deep, MAX_DEPTH, "nested too deeply");
        // Far past the limit must fail the same way, not overflow the stack.
        fails(&"(".repeat(100_000), MAX_DEPTH, "nested too deeply");
    }

    #[test]
    fn comparison_limit() {
        let many = vec!["params.a = '1'"; MAX_COMPARISONS].join(" AND ");
        assert!(parse_run_filter(&many).is_ok());
        let too_many = format!("{many} OR params.b = '2'");
        let err = parse_run_filter(&too_many).unwrap_err();
        assert!(err.message.contains("too many comparisons"), "{err}");
    }

    #[test]
    fn error_display_names_position_and_expectation() {
        let err = parse_run_filter("metrics.loss foo 1").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid filter 'metrics.loss foo 1' at position 13: expected a comparison operator \
             (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL) but found 'foo'"
        );
    }

    #[test]
    fn syntax_errors() {
        fails("metrics.loss foo 1", 13, "expected a comparison operator");
        fails("metrics.loss == 1", 13, "but found '=='");
        fails("metrics.loss <> 1", 13, "but found '<>'");
        fails("metrics.loss", 12, "but found the end of the filter");
        fails("metrics.loss >", 14, "expected a number");
        fails("metrics.loss > abc", 15, "expected a number");
        fails("metrics.loss > 5abc", 15, "expected a number");
        fails("metrics.loss > '5'", 15, "expected a number");
        fails(
            "metrics.loss > 1 2",
            17,
            "expected AND, OR or the end of the filter but found '2'",
        );
        fails("params.a = 'x' AND", 18, "expected an identifier");
        fails(
            "params.a = 'x' OR OR params.b = 'y'",
            18,
            "expected an identifier",
        );
        fails(
            "params.a = 'x' params.b = 'y'",
            15,
            "expected AND, OR or the end",
        );
        fails("params.a = x", 11, "expected a quoted string");
        fails("params.a = `x`", 11, "expected a quoted string");
        fails("params.a = 5", 11, "expected a quoted string");
        fails("params.a = 'x", 11, "unterminated string");
        fails("params.`a = 'x'", 7, "unterminated quoted key");
        fails("params. = 'x'", 7, "expected a key after 'params.'");
        fails("params.`` = 'x'", 7, "non-empty key");
        fails("= 'x'", 0, "expected an identifier");
        fails("'run_name' = 'x'", 0, "expected an identifier");
        fails("(params.a = 'x'", 15, "expected AND, OR or ')'");
        fails("params.a = 'x')", 14, "expected AND, OR or the end");
        fails("()", 1, "expected an identifier");
        fails("params.a NOT LIKE 'x'", 13, "expected IN after NOT");
        fails("params.a IS 'x'", 12, "expected NULL or NOT NULL after IS");
        fails("params.a IS NOT 'x'", 16, "expected NULL after IS NOT");
        fails(
            "params.a = 'x' ANDparams.b = 'y'",
            15,
            "expected AND, OR or the end",
        );
    }

    #[test]
    fn identifier_errors() {
        fails(
            "foo.bar = 'x'",
            0,
            "expected an entity type (metrics, params, tags, attributes, datasets) but found 'foo'",
        );
        fails("Metrics.loss = 1", 0, "expected an entity type");
        fails("loss > 1", 0, "expected an attribute (run_id, run_name");
        fails(
            "attributes.lifecycle_stage = 'active'",
            11,
            "but found 'lifecycle_stage'",
        );
        fails("experiment_id = '1'", 0, "expected an attribute");
        fails(
            "datasets.size = 'x'",
            9,
            "expected a dataset field (name, digest, context)",
        );
    }

    #[test]
    fn per_type_rules() {
        fails(
            "metrics.m IS NULL",
            10,
            "the comparator 'IS NULL' is not allowed for metrics.m: expected one of =, !=, <, <=, >, >=",
        );
        fails("metrics.m LIKE '1'", 10, "not allowed for metrics.m");
        fails("metrics.m IN ('1')", 10, "not allowed");
        fails(
            "params.p > '1'",
            9,
            "not allowed for params.p: expected one of =, !=, LIKE, ILIKE, IS NULL, IS NOT NULL",
        );
        fails("tags.t IN ('a')", 7, "not allowed for tags.t");
        fails(
            "status IN ('a')",
            7,
            "not allowed for attributes.status: expected one of =, !=, LIKE, ILIKE",
        );
        fails("status IS NULL", 7, "not allowed");
        fails("status < 'a'", 7, "not allowed");
        fails(
            "start_time LIKE '1'",
            11,
            "not allowed for attributes.start_time",
        );
        fails(
            "start_time = 'x'",
            13,
            "expected a number for attributes.start_time",
        );
        fails("run_id IS NULL", 7, "not allowed");
        fails("datasets.name IS NULL", 14, "not allowed");
        fails("datasets.name < 'a'", 14, "not allowed");
        fails("run_id IN ()", 11, "non-empty list");
        fails("run_id IN ('a' 'b')", 15, "expected ',' or ')'");
        fails("run_id IN (1, 2)", 11, "a quoted string in the list");
        fails("run_id IN 'a'", 10, "parenthesised list");
        fails("run_id IN ('a',", 15, "expected a quoted string");
    }

    #[test]
    fn experiment_filters() {
        assert_eq!(
            exp("name = 'e'"),
            cmp(Field::Experiment(ExperimentAttribute::Name), Op::Eq, s("e"))
        );
        assert_eq!(exp("attributes.name ILIKE '%E%'").op, Op::ILike);
        assert_eq!(exp("attribute.name LIKE 'e%'").op, Op::Like);
        assert_eq!(exp("attr.name != 'e'").op, Op::Ne);
        let id = |v| {
            cmp(
                Field::Experiment(ExperimentAttribute::ExperimentId),
                Op::Eq,
                Value::Number(Number::Int(v)),
            )
        };
        assert_eq!(exp("experiment_id = '3'"), id(3));
        assert_eq!(exp("experiment_id = 3"), id(3));
        assert_eq!(exp("experiment_id = ' 4 '"), id(4));
        assert_eq!(
            exp("experiment_id IN ('1', 2, \"3\")").value,
            Value::IntList(vec![1, 2, 3])
        );
        assert_eq!(exp("experiment_id NOT IN ('1')").op, Op::NotIn);
        assert_eq!(
            exp("creation_time > 100").field,
            Field::Experiment(ExperimentAttribute::CreationTime)
        );
        assert_eq!(
            exp("last_update_time <= -1").value,
            Value::Number(Number::Int(-1))
        );
        assert_eq!(exp("tags.k = 'v'").field, Field::Tag("k".into()));
        assert_eq!(exp("tag.`a b` IS NOT NULL").op, Op::IsNotNull);
        assert_eq!(exp("tags.k ILIKE 'V%'").op, Op::ILike);
    }

    #[test]
    fn experiment_errors() {
        exp_fails(
            "experiment_id = 'abc'",
            16,
            "expected an integer experiment id but found ''abc''",
        );
        exp_fails(
            "experiment_id = 1.5",
            16,
            "expected an integer experiment id",
        );
        exp_fails(
            "experiment_id IN ('1', 'x')",
            23,
            "expected an integer experiment id",
        );
        exp_fails(
            "experiment_id < 3",
            14,
            "not allowed for attributes.experiment_id: expected one of =, !=, IN, NOT IN",
        );
        exp_fails("experiment_id LIKE '3'", 14, "not allowed");
        exp_fails(
            "creation_time > 1.5",
            16,
            "expected an integer for attributes.creation_time",
        );
        exp_fails("creation_time > '1'", 16, "expected an integer");
        exp_fails("name IN ('a')", 5, "not allowed for attributes.name");
        exp_fails("name IS NULL", 5, "not allowed");
        exp_fails(
            "metrics.m > 1",
            0,
            "expected an entity type (attributes, tags) but found 'metrics'",
        );
        exp_fails("params.p = 'x'", 0, "expected an entity type");
        exp_fails("run.name = 'x'", 0, "expected an entity type");
        exp_fails(
            "status = 'x'",
            0,
            "expected an attribute (name, experiment_id, creation_time, last_update_time)",
        );
        exp_fails("tags.k < 'x'", 7, "not allowed");
    }

    #[test]
    fn positions_are_char_offsets() {
        // "é" is two bytes but one char.
        fails("tags.`é` = 'é' AND x", 19, "expected an attribute");
    }

    #[test]
    fn long_snippets_are_cut() {
        let f = format!("params.a = 'x' {}", "y".repeat(200));
        let err = parse_run_filter(&f).unwrap_err();
        assert!(err.message.len() < 120, "{}", err.message);
        assert!(err.message.ends_with("...'"), "{}", err.message);
    }

    #[test]
    fn field_display_round_trips() {
        for f in ["metrics.`a b`", "params.lr", "tags.`x``y`", "metrics.a.b"] {
            let field = one(&format!("{f} IS NOT NULL")
                .replace("metrics.`a b` IS NOT NULL", "metrics.`a b` = 1")
                .replace("metrics.a.b IS NOT NULL", "metrics.a.b = 1"))
            .field;
            assert_eq!(field.to_string(), f);
        }
    }

    mod fuzz {
        use super::super::*;
        use proptest::prelude::*;

        /// Pieces of the grammar, so random soups get past the first token often.
        const TOKENS: &[&str] = &[
            "metrics.",
            "params.",
            "tags.",
            "attributes.",
            "datasets.",
            "attr.",
            "run.",
            "loss",
            "name",
            "run_id",
            "start_time",
            "created",
            "experiment_id",
            "creation_time",
            "`k k`",
            "\"q\"",
            "'s'",
            "''",
            "'",
            "\"",
            "`",
            "=",
            "!=",
            "<",
            "<=",
            ">",
            ">=",
            "==",
            "<>",
            "LIKE",
            "ILIKE",
            "IN",
            "NOT",
            "IS",
            "NULL",
            "AND",
            "OR",
            "(",
            ")",
            ",",
            "1",
            "-2.5e3",
            ".5",
            "1e",
            "+",
            "-",
            ".",
            "é",
            "\u{0}",
            " ",
            "\t",
            "(",
            "('a', 'b')",
            "()",
        ];

        fn soup() -> impl Strategy<Value = String> {
            prop::collection::vec(
                (
                    prop::sample::select(TOKENS),
                    prop::sample::select(&["", " ", "  "][..]),
                ),
                0..24,
            )
            .prop_map(|parts| {
                parts
                    .into_iter()
                    .map(|(t, ws)| format!("{t}{ws}"))
                    .collect()
            })
        }

        fn check(input: &str) {
            use crate::search::{
                Backend, ExperimentQuery, RunQuery, ViewType, experiments_page, runs_page,
            };
            use sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};
            for (i, result) in [parse_run_filter(input), parse_experiment_filter(input)]
                .into_iter()
                .enumerate()
            {
                match result {
                    Err(e) => {
                        assert!(e.position <= input.chars().count(), "{e}");
                        assert!(e.message.contains("expected"), "{e}");
                    }
                    // Whatever parses must also compile, on both backends.
                    Ok(filter) => {
                        for backend in [Backend::Sqlite, Backend::Postgres] {
                            let stmt = if i == 0 {
                                let q = RunQuery {
                                    experiment_ids: &[1],
                                    filter: filter.as_ref(),
                                    order_by: &[],
                                    view: ViewType::All,
                                    offset: 0,
                                    limit: 1,
                                };
                                runs_page(&q, backend)
                            } else {
                                let q = ExperimentQuery {
                                    filter: filter.as_ref(),
                                    order_by: &[],
                                    view: ViewType::All,
                                    offset: 0,
                                    limit: 1,
                                };
                                experiments_page(&q, backend)
                            };
                            let _ = stmt.build(SqliteQueryBuilder);
                            let _ = stmt.build(PostgresQueryBuilder);
                        }
                    }
                }
            }
            let _ = crate::search::parse_run_order_by(&[input]);
            let _ = crate::search::parse_experiment_order_by(&[input]);
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn arbitrary_strings_never_panic(input in any::<String>()) {
                check(&input);
            }

            #[test]
            fn token_soups_never_panic(input in soup()) {
                check(&input);
            }

            #[test]
            fn valid_comparisons_parse(
                key in "[a-z][a-z0-9_./-]{0,10}",
                value in "[^']{0,10}",
                n in any::<f64>().prop_filter("finite", |f| f.is_finite()),
            ) {
                let f = format!("metrics.{key} > {n:e} AND (params.`{key}` = '{value}' OR tags.{key} IS NULL)");
                prop_assert!(parse_run_filter(&f).is_ok(), "{}", f);
            }
        }
    }
}
