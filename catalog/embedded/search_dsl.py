"""Atlas's DSL (``GET search/dsl``) parsed into a small query tree, with lark (an LALR(1) parser).

The grammar is the common part of Atlas's ``AtlasDSLParser.g4``/``AtlasDSLLexer.g4``: a source (entity type,
classification, ``_CLASSIFIED``/``_NOT_CLASSIFIED``/``_ALL_ENTITY_TYPES``; ``from`` and ``as alias`` optional),
``where`` with comparisons (``= != < <= > >= like`` and ``eq neq lt lte gt gte``, a ``[...]`` list meaning ``in``),
``isa``/``is``, ``has``, ``hasTerm``, ``and``/``or`` and parentheses; ``isa``/``has``/``hasTerm`` straight after
the source; ``groupby(...)``, ``select`` of attributes and ``count() max() min() sum()`` with ``as`` labels,
``orderby`` with ``asc``/``desc``, ``limit``/``offset``; ``--`` and ``/* */`` comments. Keywords are
case-insensitive and, as in Atlas, an identifier may contain a dot (``db.name``) or be back-quoted.

As Atlas's DSLVisitor does, ``and`` and ``or`` bind equally and group from the left (``a or b and c`` is
``(a or b) and c``). The left side of a comparison is an attribute, the right side a value (a bare word there is a
string). Whatever the parser refuses is Atlas's 400 ``ATLAS-400-00-059`` with the parser's reason; nesting deeper
than :data:`MAX_DSL_DEPTH` is refused before parsing, so no query reaches Python's recursion limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.limits import JAVA_INT, in_range, shown

# Parentheses/brackets one query may nest. Atlas's UI writes 2-3; the bound keeps the parse tree, and every
# walk over it, far from Python's recursion limit.
MAX_DSL_DEPTH = 32

GRAMMAR = r"""
start: from_src filter* groupby? select? orderby? limit_offset?

from_src: FROM? ident (AS ident)?

filter: WHERE expr                      -> where_filter
      | head (boolop cond)*             -> head_filter

head: isa_kw ident                      -> head_isa
    | HAS ident                         -> head_has
    | HASTERM ident                     -> head_hasterm

expr: cond (boolop cond)*

cond: ident op value                    -> compare
    | ident isa_kw ident                -> isa
    | ident HAS ident                   -> has
    | ident HASTERM ident               -> hasterm
    | "(" expr ")"                      -> group

boolop: AND | OR
isa_kw: ISA | IS
op: EQ | NEQ | LTE | LT | GTE | GT | LIKE | EQW | NEQW | LTEW | LTW | GTEW | GTW

?value: literal | array
array: "[" literal ("," literal)* "]"
literal: STRING | NAME | BQNAME | NUMBER | FLOAT | TRUE | FALSE

ident: NAME | BQNAME | STRING

groupby: GROUPBY "(" ident ("," ident)* ")"
select: SELECT select_item ("," select_item)*
select_item: select_expr (AS ident)?
select_expr: ident                          -> sel_attr
           | COUNT "(" ")"                  -> sel_count
           | (MAX | MIN | SUM) "(" ident ")" -> sel_agg
orderby: ORDERBY (ident | "(" ident ")") (ASC | DESC)?
limit_offset: LIMIT NUMBER (OFFSET NUMBER)?

// One string per keyword: a word the NAME pattern matches is then retyped to the keyword it spells.
AND: "and"i
OR: "or"i
FROM: "from"i
AS: "as"i
WHERE: "where"i
ISA: "isa"i
IS: "is"i
HAS: "has"i
HASTERM: "hasterm"i
GROUPBY: "groupby"i
SELECT: "select"i
COUNT: "count"i
MAX: "max"i
MIN: "min"i
SUM: "sum"i
ORDERBY: "orderby"i
ASC: "asc"i
DESC: "desc"i
LIMIT: "limit"i
OFFSET: "offset"i
TRUE: "true"i
FALSE: "false"i
LIKE: "like"i
EQW: "eq"i
NEQW: "neq"i
LTW: "lt"i
LTEW: "lte"i
GTW: "gt"i
GTEW: "gte"i
EQ: "="
NEQ: "!="
LT: "<"
LTE: "<="
GT: ">"
GTE: ">="

NAME: /[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*/
BQNAME: /`[^`]*`/
STRING: /"[^"]*"/ | /'[^']*'/
FLOAT.2: /[+-]?[0-9]+\.[0-9]+([eE][+-]?[0-9]+)?/
NUMBER: /[+-]?[0-9]+([eE][+-]?[0-9]+)?/

COMMENT: /--[^\n]*/ | /\/\*(.|\n)*?(\*\/|$)/
%import common.WS
%ignore WS
%ignore COMMENT
"""

_OPS = {"EQ": "=", "NEQ": "!=", "LT": "<", "LTE": "<=", "GT": ">", "GTE": ">=", "LIKE": "like",
        "EQW": "=", "NEQW": "!=", "LTW": "<", "LTEW": "<=", "GTW": ">", "GTEW": ">="}


@dataclass(frozen=True)
class Value:
    """A literal: ``text`` without its quotes; ``kind`` is string, name (a bare word), number or bool."""

    text: str
    kind: str


@dataclass(frozen=True)
class Compare:
    attr: str
    op: str  # = != < <= > >= like in
    value: Value | tuple[Value, ...]


@dataclass(frozen=True)
class IsA:
    subject: str | None  # None: straight after the source
    tag: str


@dataclass(frozen=True)
class Has:
    subject: str | None
    attr: str


@dataclass(frozen=True)
class HasTerm:
    subject: str | None
    term: str


Cond: TypeAlias = "Compare | IsA | Has | HasTerm | Expr"


@dataclass(frozen=True)
class Expr:
    """``first (op cond)*`` evaluated from the left with equal precedence, as Atlas's DSLVisitor does."""

    first: Cond
    rest: tuple[tuple[str, Cond], ...] = ()


@dataclass(frozen=True)
class SelectItem:
    kind: str  # attr | count | max | min | sum
    attr: str | None
    label: str


@dataclass(frozen=True)
class Query:
    source: str
    alias: str | None
    filters: tuple[Expr, ...]
    groupby: tuple[str, ...]
    select: tuple[SelectItem, ...]
    orderby: tuple[str, bool] | None  # (attribute, descending)
    limit: int | None
    offset: int


def unquote(text: str) -> str:
    """An identifier or literal without its quotes (IdentifierHelper.removeQuotes)."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"`":
        return text[1:-1]
    return text


def _literal(token: Token) -> Value:
    kind = {"STRING": "string", "BQNAME": "string", "NAME": "name", "NUMBER": "number", "FLOAT": "number",
            "TRUE": "bool", "FALSE": "bool"}[token.type]
    return Value(unquote(str(token)), kind)


def _count(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = -1
    if not in_range(number, (0, JAVA_INT[1])):
        raise ValueError(f"{text} is not a number of rows")
    return number


@v_args(inline=True)
class _ToQuery(Transformer[Token, Any]):
    """Parse tree -> :class:`Query`."""

    def ident(self, token: Token) -> str:
        return unquote(str(token))

    def op(self, token: Token) -> str:
        return _OPS[token.type]

    def boolop(self, token: Token) -> str:
        return str(token).upper()

    def isa_kw(self, token: Token) -> Token:
        return token

    def literal(self, token: Token) -> Value:
        return _literal(token)

    def array(self, *items: Value) -> tuple[Value, ...]:
        return items

    def compare(self, attr: str, op: str, value: Value | tuple[Value, ...]) -> Compare:
        return Compare(attr, "in" if isinstance(value, tuple) else op, value)

    def isa(self, subject: str, _kw: Token, tag: str) -> IsA:
        return IsA(subject, tag)

    def has(self, subject: str, _kw: Token, attr: str) -> Has:
        return Has(subject, attr)

    def hasterm(self, subject: str, _kw: Token, term: str) -> HasTerm:
        return HasTerm(subject, term)

    def group(self, expr: Expr) -> Expr:
        return expr

    def head_isa(self, _kw: Token, tag: str) -> IsA:
        return IsA(None, tag)

    def head_has(self, _kw: Token, attr: str) -> Has:
        return Has(None, attr)

    def head_hasterm(self, _kw: Token, term: str) -> HasTerm:
        return HasTerm(None, term)

    def expr(self, first: Cond, *rest: Any) -> Expr:
        return Expr(first, tuple((rest[i], rest[i + 1]) for i in range(0, len(rest), 2)))

    def where_filter(self, _kw: Token, expr: Expr) -> Expr:
        return expr

    def head_filter(self, first: Cond, *rest: Any) -> Expr:
        return self.expr(first, *rest)


def _idents(children: list[Any]) -> list[str]:
    """The identifiers among a rule's children (the transformed ``ident`` rules: plain strings, not tokens)."""
    return [c for c in children if isinstance(c, str) and not isinstance(c, Token)]


def _tokens(children: list[Any]) -> list[Token]:
    return [c for c in children if isinstance(c, Token)]


def _select_item(tree: Tree[Any]) -> SelectItem:
    expr = tree.children[0]
    alias = _idents(tree.children[1:])
    names = _idents(expr.children)
    if expr.data == "sel_count":
        item = SelectItem("count", None, f"{_tokens(expr.children)[0]}()")
    elif expr.data == "sel_agg":
        fn = str(_tokens(expr.children)[0])
        item = SelectItem(fn.lower(), names[0], f"{fn}({names[0]})")
    else:
        item = SelectItem("attr", names[0], names[0])
    return SelectItem(item.kind, item.attr, alias[0]) if alias else item


def _query(tree: Tree[Any]) -> Query:
    source, alias = "", None
    filters: list[Expr] = []
    groupby: tuple[str, ...] = ()
    select: tuple[SelectItem, ...] = ()
    orderby: tuple[str, bool] | None = None
    limit, offset = None, 0
    for part in tree.children:
        if isinstance(part, Expr):
            filters.append(part)
        elif part.data == "from_src":
            names = _idents(part.children)
            source, alias = names[0], (names[1] if len(names) > 1 else None)
        elif part.data == "groupby":
            groupby = tuple(_idents(part.children))
        elif part.data == "select":
            select = tuple(_select_item(c) for c in part.children if isinstance(c, Tree))
        elif part.data == "orderby":
            orderby = (_idents(part.children)[0], any(t.type == "DESC" for t in _tokens(part.children)))
        elif part.data == "limit_offset":
            numbers = [t for t in _tokens(part.children) if t.type == "NUMBER"]
            limit = _count(str(numbers[0]))
            offset = _count(str(numbers[1])) if len(numbers) > 1 else 0
    return Query(source, alias, tuple(filters), groupby, select, orderby, limit, offset)


_PARSER = Lark(GRAMMAR, parser="lalr", maybe_placeholders=False)


def invalid(query: str, reason: str) -> AtlasError:
    """Atlas's answer to a query it cannot run: INVALID_DSL_QUERY with the reason (both cut to a readable size)."""
    return AtlasError(ErrorCode.INVALID_DSL_QUERY, shown(query, 300), shown(reason, 300))


def _nesting(query: str) -> int:
    """The deepest ( or [ nesting outside quotes."""
    depth = deepest = 0
    quote = ""
    for ch in query:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"`":
            quote = ch
        elif ch in "([":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]":
            depth -= 1
    return deepest


def _reason(e: UnexpectedInput) -> str:
    """The parser's complaint in the words ANTLR uses for it in Atlas's answers."""
    if isinstance(e, UnexpectedToken) and e.token.type != "$END":
        expected = ", ".join(sorted(e.expected)[:8])
        return f"mismatched input '{e.token}' expecting {{{expected}}}"
    if isinstance(e, UnexpectedToken | UnexpectedEOF):
        return "mismatched input '<EOF>'"
    if isinstance(e, UnexpectedCharacters):
        return f"token recognition error at: '{e.char}'"
    return "syntax error"


def parse(query: str) -> Query:
    """The query tree of a DSL query, or Atlas's 400 INVALID_DSL_QUERY."""
    if _nesting(query) > MAX_DSL_DEPTH:
        raise invalid(query, f"parentheses nest more than {MAX_DSL_DEPTH} levels")
    try:
        return _query(_ToQuery().transform(_PARSER.parse(query)))
    except UnexpectedInput as e:
        raise invalid(query, _reason(e)) from None
    except (LarkError, ValueError) as e:  # a limit that is not a count of rows
        raise invalid(query, str(e)) from None
