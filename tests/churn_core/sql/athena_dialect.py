"""A static check of our Athena-dialect SQL for what the test suite cannot see by running it.

Nothing in the tests runs the SQL on Trino (moto returns seeded results, DuckDB runs a transpiled copy), and
`sqlglot.parse(read="trino")` accepts DuckDB-only syntax, so these rules read the tokens and the tree:
- `function`: every function called is in Athena engine v3's list (trino_functions.txt, Trino's own list);
- `decimal`: no decimal literal (`1.0`) reaches the value of avg, sum or a division. Trino types `1.0` as
  decimal(2,1); avg of a decimal, and a quotient of decimals, keep that scale, so a share of 1/3 comes back
  as 0.3 (DuckDB gives 0.3333). Write `1e0` or CAST(... AS DOUBLE);
- `duckdb`: no DuckDB-only syntax: `::` casts, ILIKE, `{...}` structs, GROUP BY ALL, ORDER BY ALL,
  SELECT * EXCLUDE/REPLACE, DuckDB's function names (each with the Athena spelling);
- `parse`: the text parses as Trino SQL at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.dialects.trino import Trino
from sqlglot.tokens import Token, TokenType

FUNCTIONS_FILE = Path(__file__).with_name("trino_functions.txt")

# Tokens that can name a function when a parenthesis follows (most names are VAR; these are keywords too).
_CALLABLE = {
    TokenType.VAR,
    TokenType.DATE,
    TokenType.FORMAT,
    TokenType.LEFT,
    TokenType.LIST,
    TokenType.MAP,
    TokenType.REPLACE,
    TokenType.RIGHT,
}
_DUCKDB_TOKENS = {
    TokenType.DCOLON: "`::` cast: write CAST(x AS type)",
    TokenType.ILIKE: "ILIKE: write lower(x) LIKE lower(pattern)",
    TokenType.L_BRACE: "`{...}` struct literal: write CAST(ROW(...) AS ROW(name type, ...))",
}
# DuckDB function names people reach for, and what Athena calls them.
DUCKDB_FUNCTIONS = {
    "arg_max": "max_by",
    "arg_min": "min_by",
    "array_length": "cardinality",
    "date_part": "extract(field FROM x) or year(x), month(x), ...",
    "datediff": "date_diff",
    "epoch": "to_unixtime",
    "epoch_ms": "from_unixtime / to_unixtime",
    "generate_series": "sequence",
    "group_concat": "array_join(array_agg(x), ',') or listagg",
    "ifnull": "coalesce",
    "len": "length or cardinality",
    "list": "array_agg",
    "list_sum": "reduce(a, 0, (s, x) -> s + x, s -> s)",
    "list_value": "ARRAY[...]",
    "median": "approx_percentile(x, 0.5)",
    "printf": "format",
    "quantile_cont": "approx_percentile",
    "regexp_matches": "regexp_like",
    "strftime": "date_format",
    "string_agg": "array_join(array_agg(x), ',') or listagg",
    "strptime": "date_parse",
    "struct_pack": "CAST(ROW(...) AS ROW(name type, ...))",
    "today": "current_date",
}
_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod)


@dataclass(frozen=True)
class Violation:
    rule: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"line {self.line}: [{self.rule}] {self.what}"


@cache
def athena_functions() -> frozenset[str]:
    lines = FUNCTIONS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def violations(sql: str) -> list[Violation]:
    """Everything in `sql` (Athena-dialect text, `:name` placeholders allowed) that the rules refuse."""
    try:
        tokens = Trino().tokenize(sql)
        trees = [t for t in sqlglot.parse(sql, read="trino") if t is not None]
    except sqlglot.errors.SqlglotError as exc:
        return [Violation("parse", 0, str(exc).splitlines()[0])]
    found = list(_function_violations(tokens, trees)) + list(_duckdb_token_violations(tokens))
    for tree in trees:
        found += _decimal_violations(tree) + _duckdb_tree_violations(tree)
    return sorted(found, key=lambda v: (v.line, v.rule, v.what))


def _function_violations(tokens: list[Token], trees: list[exp.Expression]) -> Iterator[Violation]:
    relations = {n.alias_or_name.lower() for tree in trees for n in tree.find_all(exp.CTE, exp.TableAlias)}
    known = athena_functions()
    for before, token, after in zip([None, *tokens], tokens, [*tokens[1:], None], strict=False):
        if after is None or after.token_type != TokenType.L_PAREN or token.token_type not in _CALLABLE:
            continue
        name = token.text.lower()
        if before is not None and before.token_type in (TokenType.ALIAS, TokenType.R_PAREN):
            continue  # `AS t (d)`, `(...) t (d)`: a relation's column list, not a call
        if before is not None and before.token_type == TokenType.STAR and name in ("exclude", "replace"):
            continue  # `* EXCLUDE (...)`: the tree rule reports it
        if name in DUCKDB_FUNCTIONS:
            yield Violation("duckdb", token.line, f"{name}() is DuckDB's; Athena: {DUCKDB_FUNCTIONS[name]}")
        elif name not in known and name not in relations:
            yield Violation("function", token.line, f"{name}() is not in Athena engine v3's function list")


def _duckdb_token_violations(tokens: list[Token]) -> Iterator[Violation]:
    for token in tokens:
        if token.token_type in _DUCKDB_TOKENS:
            yield Violation("duckdb", token.line, _DUCKDB_TOKENS[token.token_type])


def _duckdb_tree_violations(tree: exp.Expression) -> list[Violation]:
    found = []
    for group in tree.find_all(exp.Group):
        if group.args.get("all"):
            found.append(Violation("duckdb", _line(group), "GROUP BY ALL: name the grouping columns"))
    for ordered in tree.find_all(exp.Ordered):
        column = ordered.this
        if isinstance(column, exp.Column) and not column.table and column.name.upper() == "ALL":
            found.append(Violation("duckdb", _line(column), "ORDER BY ALL: name the ordering columns"))
    for star in tree.find_all(exp.Star):
        for clause in ("except_", "except", "replace"):
            if star.args.get(clause):
                found.append(Violation("duckdb", _line(star), f"SELECT * {clause.rstrip('_').upper()} (...)"))
    return found


def _decimal_violations(tree: exp.Expression) -> list[Violation]:
    fed: dict[int, tuple[exp.Literal, str]] = {}  # each literal once, named by the innermost consumer
    for node in tree.find_all(exp.Avg, exp.Sum, exp.Div, bfs=False):
        what = "a division" if isinstance(node, exp.Div) else f"{node.key}()"
        for operand in (node.this, node.expression if isinstance(node, exp.Div) else None):
            for literal in _decimal_literals(operand):
                fed[id(literal)] = (literal, what)
    return [
        Violation(
            "decimal",
            _line(literal),
            f"decimal literal {literal.this} feeds {what}: Trino keeps the literal's scale and rounds; "
            "write a double (1e0) or CAST(... AS DOUBLE)",
        )
        for literal, what in fed.values()
    ]


def _decimal_literals(node: exp.Expression | None) -> Iterator[exp.Literal]:
    """The decimal literals whose type reaches the value of `node` (not those in conditions, casts or the
    arguments of other functions, which do not decide its type)."""
    if isinstance(node, exp.Literal):
        text = str(node.this).lower()
        if node.is_number and "." in text and "e" not in text:
            yield node
    elif isinstance(node, exp.Paren | exp.Neg | exp.Nullif):
        yield from _decimal_literals(node.this)
    elif isinstance(node, _ARITHMETIC):
        yield from _decimal_literals(node.this)
        yield from _decimal_literals(node.expression)
    elif isinstance(node, exp.Case):
        for branch in node.args.get("ifs") or []:
            yield from _decimal_literals(branch.args.get("true"))
        yield from _decimal_literals(node.args.get("default"))
    elif isinstance(node, exp.If):
        yield from _decimal_literals(node.args.get("true"))
        yield from _decimal_literals(node.args.get("false"))
    elif isinstance(node, exp.Coalesce | exp.Greatest | exp.Least):
        for value in [node.this, *node.expressions]:
            yield from _decimal_literals(value)


def _line(node: exp.Expression) -> int:
    """The line of `node` in the SQL text: sqlglot keeps lines on identifiers and most literals, so the first
    one found in `node`, else in the nearest enclosing expression that has one."""
    scope: exp.Expression | None = node
    while scope is not None:
        for part in (scope, *scope.find_all(exp.Identifier, exp.Literal)):
            if part.meta.get("line"):
                return int(part.meta["line"])
        scope = scope.parent
    return 0
