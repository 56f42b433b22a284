//! The SQLite grammar kiln-lint parses with: sqlparser's own, fenced where it panics.

use super::*;

/// sqlparser 0.59's SQLite grammar, except that `x MATCH` or `x REGEXP` followed by something
/// that is not an expression is a parse error instead of a panic (its `parse_infix` unwraps; the
/// fuzz target `lint` found it, fixed upstream after 0.59 in apache/datafusion-sqlparser-rs#2197).
/// Every other method is SQLite's own, and `dialect()` reports SQLite, so the parser's
/// SQLite-only rules still apply.
#[derive(Debug)]
pub(super) struct Sqlite(pub(super) SQLiteDialect);

impl SqlDialect for Sqlite {
    fn dialect(&self) -> std::any::TypeId {
        self.0.dialect()
    }
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        self.0.is_delimited_identifier_start(ch)
    }
    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        self.0.identifier_quote_style(identifier)
    }
    fn is_identifier_start(&self, ch: char) -> bool {
        self.0.is_identifier_start(ch)
    }
    fn is_identifier_part(&self, ch: char) -> bool {
        self.0.is_identifier_part(ch)
    }
    fn supports_filter_during_aggregation(&self) -> bool {
        self.0.supports_filter_during_aggregation()
    }
    fn supports_start_transaction_modifier(&self) -> bool {
        self.0.supports_start_transaction_modifier()
    }
    fn parse_statement(
        &self,
        parser: &mut Parser,
    ) -> Option<Result<Ast, sqlparser::parser::ParserError>> {
        self.0.parse_statement(parser)
    }
    fn parse_infix(
        &self,
        parser: &mut Parser,
        expr: &Expr,
        _precedence: u8,
    ) -> Option<Result<Expr, sqlparser::parser::ParserError>> {
        use sqlparser::ast::BinaryOperator;
        use sqlparser::keywords::Keyword;
        for (keyword, op) in [
            (Keyword::REGEXP, BinaryOperator::Regexp),
            (Keyword::MATCH, BinaryOperator::Match),
        ] {
            if parser.parse_keyword(keyword) {
                return Some(parser.parse_expr().map(|right| Expr::BinaryOp {
                    left: Box::new(expr.clone()),
                    op,
                    right: Box::new(right),
                }));
            }
        }
        None
    }
    fn supports_in_empty_list(&self) -> bool {
        self.0.supports_in_empty_list()
    }
    fn supports_limit_comma(&self) -> bool {
        self.0.supports_limit_comma()
    }
    fn supports_asc_desc_in_column_definition(&self) -> bool {
        self.0.supports_asc_desc_in_column_definition()
    }
    fn supports_dollar_placeholder(&self) -> bool {
        self.0.supports_dollar_placeholder()
    }
    fn supports_notnull_operator(&self) -> bool {
        self.0.supports_notnull_operator()
    }
}
